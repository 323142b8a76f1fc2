import type { StressLatency, StressSecond } from '@crucible/contracts';
import { encodeHistogram, latencyHistogram, latencyOf, secondPercentiles } from './merge.js';

function increment(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * What a stress run counted: totals, and the second under way, closed into the series once a
 * second. Recording a response is a histogram record and a few counters: it runs once per request.
 */
export class StressTally {
  readonly statusCodes: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly series: StressSecond[] = [];
  responses = 0;
  /** 2xx and 3xx. */
  succeeded = 0;
  /** Transport errors and 4xx/5xx. */
  failed = 0;
  transportErrors = 0;
  bytes = 0;
  readonly #overall = latencyHistogram();
  readonly #second = latencyHistogram();
  /** Responses by status code this second (index = code), folded into records at each tick. */
  readonly #secondStatus = new Uint32Array(1000);
  #secondErrors: Record<string, number> = {};
  #secondRequests = 0;

  /** Every request completed: responses plus transport errors. */
  get requests(): number {
    return this.responses + this.transportErrors;
  }

  /** A response with status `code`, `latencyUs` after its request went out. */
  response(latencyUs: number, code: number): void {
    this.#second.recordValue(latencyUs);
    this.responses++;
    this.#secondRequests++;
    if (code < 1000) this.#secondStatus[code]!++;
    if (code >= 400) this.failed++;
    else this.succeeded++;
  }

  transportError(kind: string): void {
    this.failed++;
    this.transportErrors++;
    this.#secondRequests++;
    increment(this.errors, kind);
    increment(this.#secondErrors, kind);
  }

  /**
   * Ends the second under way: its point goes into the series, its figures into the totals.
   * `keep` is handed the second's latencies before they are folded in (a shard sends them on).
   */
  closeSecond(connections: number, active: number, keep?: (encoded: string) => void): StressSecond {
    const second = this.#second;
    keep?.(encodeHistogram(second));
    const { codes, httpErrors } = this.#foldStatus();
    const errorsByKind = { ...httpErrors, ...this.#secondErrors };
    const errorsThisSecond = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
    const point: StressSecond = {
      second: this.series.length + 1,
      requests: this.#secondRequests,
      rps: this.#secondRequests,
      ...secondPercentiles(second),
      errors: errorsThisSecond,
      errorsByKind,
      statusCodes: codes,
      connections,
      active,
    };
    this.series.push(point);
    this.#overall.add(second);
    second.reset();
    this.#secondRequests = 0;
    this.#secondErrors = {};
    return point;
  }

  /** Folds the last, partial second into the totals (it gets no point of its own). */
  finish(): void {
    this.#overall.add(this.#second);
    this.#foldStatus();
  }

  /** Latency percentiles of every response, in ms; null without any. */
  latency(): StressLatency | null {
    return latencyOf(this.#overall);
  }

  /** Every response's latency so far ({@link encodeHistogram}): what a shard hands its coordinator. */
  encodedLatencies(): string {
    return encodeHistogram(this.#overall);
  }

  /** This second's status codes as a record (and into the totals); HTTP errors by status. */
  #foldStatus() {
    const secondStatus = this.#secondStatus;
    const codes: Record<string, number> = {};
    const httpErrors: Record<string, number> = {};
    for (let code = 0; code < secondStatus.length; code++) {
      const n = secondStatus[code]!;
      if (n === 0) continue;
      codes[code] = n;
      this.statusCodes[code] = (this.statusCodes[code] ?? 0) + n;
      if (code >= 400) {
        httpErrors[`HTTP ${code}`] = n;
        this.errors[`HTTP ${code}`] = (this.errors[`HTTP ${code}`] ?? 0) + n;
      }
    }
    secondStatus.fill(0);
    return { codes, httpErrors };
  }
}

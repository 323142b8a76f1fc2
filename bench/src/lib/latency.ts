import * as hdr from 'hdr-histogram-js';

/** Latencies recorded in microseconds into an HDR histogram, read back in milliseconds. */
export class LatencyRecorder {
  readonly #histogram = hdr.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });

  /** Records the time from `startedAt` (a `performance.now()` reading) until now. */
  recordSince(startedAt: number): void {
    this.record(performance.now() - startedAt);
  }

  record(ms: number): void {
    this.#histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  /** The latency at a percentile (0–100), in milliseconds. */
  percentile(p: number): number {
    return this.#histogram.getValueAtPercentile(p) / 1000;
  }
}

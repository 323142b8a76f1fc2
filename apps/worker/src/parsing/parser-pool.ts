import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { EngineError, abortReason } from '../errors.js';
import type { ParseResults, ParseTask } from './parse.worker.js';

export interface ParserPoolOptions {
  /** Documents parsed at once, one per thread. @defaultValue 2 (1 on a single core) */
  maxThreads?: number;
  /**
   * A task not finished this long after it was handed to the pool fails the test (its thread is
   * ended if it was running it). @defaultValue 30 s
   */
  taskTimeoutMs?: number;
  /** Heap of one parsing thread; a task that needs more fails the test. @defaultValue 256 MiB */
  maxHeapMb?: number;
}

/** The thread entry: TypeScript under tsx and vitest, the bundle's `parse.worker.js` in production. */
const THREAD_FILE = new URL(
  `./parse.worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

/**
 * Threads that load the TypeScript entry need tsx, which `node --import tsx` passes on to them
 * (threads inherit execArgv) but vitest does not.
 */
function threadExecArgv(): string[] {
  const loadsTs = THREAD_FILE.pathname.endsWith('.ts');
  if (!loadsTs || process.execArgv.some((arg) => arg.includes('tsx'))) return process.execArgv;
  return [...process.execArgv, '--import', 'tsx'];
}

/**
 * Parses what engines fetch (HTML, CSS, JSON bodies) in worker threads, so that no page, however
 * large or hostile, can hold up the event loop that renews job locks, answers health checks and
 * runs other tests. Each task is bounded in time and memory; past either it fails with
 * `PARSE_LIMIT`, without retry (the next attempt would parse the same page).
 */
export class ParserPool {
  readonly #pool: Piscina<ParseTask, unknown>;
  readonly #taskTimeoutMs: number;
  readonly #maxHeapMb: number;

  constructor(options: ParserPoolOptions = {}) {
    this.#taskTimeoutMs = options.taskTimeoutMs ?? 30_000;
    this.#maxHeapMb = options.maxHeapMb ?? 256;
    this.#pool = new Piscina({
      filename: THREAD_FILE.href,
      minThreads: 0,
      maxThreads: options.maxThreads ?? Math.min(2, availableParallelism()),
      // A thread stays for the next page of a busy worker, and goes when the worker is idle.
      idleTimeout: 30_000,
      execArgv: threadExecArgv(),
      resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb },
    });
  }

  /** Runs one task in a thread; `signal` (the test's) stops it, ending the thread if it is running it. */
  async run<K extends ParseTask['kind']>(
    task: Extract<ParseTask, { kind: K }>,
    signal: AbortSignal,
  ): Promise<ParseResults[K]> {
    const timeout = AbortSignal.timeout(this.#taskTimeoutMs);
    try {
      return (await this.#pool.run(task, { signal: AbortSignal.any([signal, timeout]) })) as ParseResults[K];
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      if (timeout.aborted) {
        throw new EngineError(
          'PARSE_LIMIT',
          `parsing the ${what(task)} did not finish within ${this.#taskTimeoutMs / 1000} s`,
          { cause: err },
        );
      }
      if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new EngineError(
          'PARSE_LIMIT',
          `parsing the ${what(task)} needed more than ${this.#maxHeapMb} MiB of memory`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Ends every thread; tasks still running fail. */
  close(): Promise<void> {
    return this.#pool.destroy();
  }
}

function what(task: ParseTask): string {
  if (task.kind === 'stylesheet-fonts') return 'stylesheet';
  if (task.kind === 'json-select') return 'JSON body';
  return 'page';
}

let shared: ParserPool | undefined;

/** One pool with the default bounds, for engines run without one of their own (tests, scripts). */
export function sharedParserPool(): ParserPool {
  shared ??= new ParserPool();
  return shared;
}

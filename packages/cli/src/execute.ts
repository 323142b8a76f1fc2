import { randomUUID } from 'node:crypto';
import type { TestDetail } from '@crucible/contracts/api';
import type { Connection } from './connection.js';
import { CliError, ExitCode } from './exit-codes.js';
import { TimeoutError, followTest } from './follow.js';
import type { ProgressLine } from './progress.js';
import { errorReport, reportOf } from './report.js';
import type { CheckReport } from './report-schema.js';
import { runTestBody } from './submission.js';
import type { CheckSpec } from './submission.js';

/** Attempts at submitting while Crucible is unreachable, with the same Idempotency-Key. @defaultValue 3 */
const SUBMIT_ATTEMPTS = 3;

export interface ExecuteOptions {
  line: ProgressLine;
  timeoutMs?: number;
  signal: AbortSignal;
  /** The same key makes a repeated submission answer the first test instead of running another. */
  idempotencyKey?: string;
  /** Told the test's id once it exists, so Ctrl-C can cancel it. */
  onSubmitted(testId: string): void;
}

export interface Outcome {
  report: CheckReport;
  test?: TestDetail;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Submits once, retrying while Crucible is unreachable: every attempt carries the same
 * Idempotency-Key, so a request that did arrive before its answer was lost runs only once.
 */
async function submit(connection: Connection, spec: CheckSpec, key: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const accepted = await connection.call('runTest', {
        body: runTestBody(spec) as never,
        headers: { 'idempotency-key': key },
      });
      return accepted.testId;
    } catch (err) {
      if (!(err instanceof CliError) || !err.transient || attempt >= SUBMIT_ATTEMPTS) throw err;
      await sleep(1000 * attempt);
    }
  }
}

/** Runs one check to its end: submit, follow live, read the result. Errors become the report's exit code. */
export async function executeCheck(
  connection: Connection,
  spec: CheckSpec,
  options: ExecuteOptions,
): Promise<Outcome> {
  let testId: string | undefined;
  try {
    testId = await submit(connection, spec, options.idempotencyKey ?? randomUUID());
    options.onSubmitted(testId);
    const test = await followTest(connection, testId, {
      onUpdate: (u) => options.line.update(u),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    const report = reportOf(spec, test, connection.testPage(testId));
    options.line.done(test.status === 'completed' ? 'completed' : test.status);
    return { report, test };
  } catch (err) {
    if (options.signal.aborted) throw err;
    if (err instanceof TimeoutError && testId) {
      await cancelQuietly(connection, testId);
      options.line.done('timed out');
      return {
        report: errorReport(
          spec,
          { exitCode: ExitCode.NO_RESULT, message: `${err.message}: cancelled` },
          {
            id: testId,
            url: connection.testPage(testId),
            timedOut: true,
          },
        ),
      };
    }
    if (!(err instanceof CliError)) throw err;
    options.line.done(testId ? 'error' : 'not submitted');
    return {
      report: errorReport(
        spec,
        err,
        testId ? { id: testId, url: connection.testPage(testId), timedOut: false } : undefined,
      ),
    };
  }
}

/** Cancels a test, ignoring that it already finished (409) or is gone. */
export async function cancelQuietly(connection: Connection, testId: string): Promise<boolean> {
  try {
    await connection.callRaw('cancelTest', { params: { testId } });
    return true;
  } catch {
    return false;
  }
}

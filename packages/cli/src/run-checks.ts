import { writeFileSync } from 'node:fs';
import type { Connection } from './connection.js';
import { ExitCode } from './exit-codes.js';
import { cancelQuietly, executeCheck } from './execute.js';
import type { Outcome } from './execute.js';
import { reportToGithub } from './github.js';
import { junitXml } from './junit.js';
import type { Output } from './output.js';
import { createProgressBoard } from './progress.js';
import { worstExitCode } from './report.js';
import type { SummaryReport } from './report-schema.js';
import type { CheckSpec } from './submission.js';
import { formatSummary } from './summary.js';

export interface RunChecksOptions {
  concurrency: number;
  timeoutMs?: number;
  quiet: boolean;
  json?: string;
  junit?: string;
  /** For a single check: the caller's key instead of a random one. */
  idempotencyKey?: string;
}

/** Ctrl-C: what was submitted is cancelled on the server, then the command exits 130. */
class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/** Runs checks with at most `concurrency` at once and resolves with the worst exit code. */
export async function runChecks(
  connection: Connection,
  specs: CheckSpec[],
  output: Output,
  options: RunChecksOptions,
): Promise<ExitCode> {
  const names = specs.map((s) => s.name ?? `${s.type} ${s.target}`);
  const board = createProgressBoard(output, { quiet: options.quiet, names });
  const abort = new AbortController();
  const live = new Set<string>();
  let interrupted: Promise<void> | undefined;
  const onSigint = () => {
    if (interrupted) process.exit(ExitCode.INTERRUPTED);
    abort.abort(new Interrupted());
    board.stop();
    output.err.write(
      `\ninterrupted: cancelling ${live.size} test(s) on the server (Ctrl-C again to leave now)\n`,
    );
    interrupted = Promise.all([...live].map((id) => cancelQuietly(connection, id))).then(() => undefined);
  };
  process.on('SIGINT', onSigint);
  const outcomes: Outcome[] = new Array(specs.length);
  let next = 0;
  const workerLoop = async () => {
    while (next < specs.length && !abort.signal.aborted) {
      const index = next++;
      const spec = specs[index]!;
      let id: string | undefined;
      outcomes[index] = await executeCheck(connection, spec, {
        line: board.track(names[index]!),
        timeoutMs: options.timeoutMs,
        signal: abort.signal,
        idempotencyKey: options.idempotencyKey,
        onSubmitted: (testId) => live.add((id = testId)),
      }).finally(() => id && live.delete(id));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, specs.length) }, workerLoop));
  } catch (err) {
    if (!(err instanceof Interrupted) && !abort.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSigint);
    board.stop();
  }
  if (interrupted) {
    await interrupted;
    output.err.write('cancelled\n');
    return ExitCode.INTERRUPTED;
  }
  return finish(connection, outcomes, output, options);
}

function finish(
  connection: Connection,
  outcomes: Outcome[],
  output: Output,
  options: RunChecksOptions,
): ExitCode {
  const checks = outcomes.map((o) => o.report);
  const exitCode = worstExitCode(checks.map((c) => c.exitCode));
  for (const c of checks.filter((x) => x.status === 'not-submitted')) {
    output.err.write(`${output.colors.red('error')}: ${checks.length > 1 ? `${c.name}: ` : ''}${c.error}\n`);
  }
  for (const outcome of outcomes)
    output.out.write(`\n${formatSummary(outcome.report, outcome.test, output.colors)}`);
  if (outcomes.length > 1) {
    const passed = checks.filter((c) => c.exitCode === 0).length;
    output.out.write(`\n${passed} of ${checks.length} checks passed\n`);
  }
  reportToGithub(checks, output.env, output.out);
  const summary: SummaryReport = { schemaVersion: 1, crucibleUrl: connection.baseUrl, exitCode, checks };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(summary, null, 2)}\n`);
  if (options.junit) writeFileSync(options.junit, junitXml(checks));
  return exitCode;
}

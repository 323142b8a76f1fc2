import { ApiError } from '@crucible/client';

/** The exit codes of every command (README "Use it in CI", `crucible --help`). */
export const ExitCode = {
  /** The test completed and nothing it judged failed. */
  PASSED: 0,
  /** A threshold failed, the engine's own checks failed, or (`--fail-on-regression`) a metric regressed. */
  FAILED: 1,
  /** Usage or configuration error: a bad flag or file, or a request the server refused as invalid. */
  USAGE: 2,
  /** The test produced no result: it failed, was cancelled or timed out, or the egress guard refused its target. */
  NO_RESULT: 3,
  /** Crucible could not be reached, or refused the token. */
  UNREACHABLE: 4,
  /** Interrupted with Ctrl-C (SIGINT): the test was cancelled on the server first. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `
Exit codes:
  0    passed (or nothing to judge)
  1    a threshold failed, the test's own checks failed, or a regression was found (--fail-on-regression)
  2    usage or configuration error (bad flag or file, an unknown metric in a threshold: INVALID_THRESHOLD)
  3    the test produced no result (failed, cancelled, timed out, or the target was refused)
  4    Crucible unreachable, or the token refused
  130  interrupted (Ctrl-C): the test was cancelled on the server first`;

/** An error that ends the command with `exitCode` and one line of explanation. */
export class CliError extends Error {
  /** Crucible could not be reached just now (network, 5xx): worth asking again a little later. */
  readonly transient: boolean;

  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options: { cause?: unknown; transient?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.transient = options.transient ?? false;
  }
}

/** What a refused or failed HTTP call means for the exit code. */
export function fromApiError(err: unknown, baseUrl: string): unknown {
  if (!(err instanceof ApiError)) return err;
  if (err.status === 0) {
    const cause = err.cause instanceof Error ? (err.cause.cause ?? err.cause) : err.cause;
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return new CliError(ExitCode.UNREACHABLE, `Crucible is unreachable at ${baseUrl}${why}`, {
      cause: err,
      transient: true,
    });
  }
  if (err.status === 401 || err.status === 403) {
    return new CliError(
      ExitCode.UNREACHABLE,
      `Crucible refused the token (${err.status} ${err.code}): ${err.message}`,
      { cause: err },
    );
  }
  if (err.code === 'TARGET_REFUSED') {
    return new CliError(ExitCode.NO_RESULT, `the target was refused (${err.code}): ${err.message}`, {
      cause: err,
    });
  }
  if (err.status >= 500) {
    return new CliError(ExitCode.UNREACHABLE, `Crucible failed (${err.status} ${err.code}): ${err.message}`, {
      cause: err,
      transient: true,
    });
  }
  return new CliError(ExitCode.USAGE, `${err.code}: ${err.message}`, { cause: err });
}

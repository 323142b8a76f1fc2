import { EgressError } from '@crucible/egress';

export type EngineErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_TARGET'
  | 'TARGET_REFUSED'
  | 'NO_ENGINE'
  | 'TARGET_UNREACHABLE'
  | 'TIMED_OUT'
  | 'PARSE_LIMIT'
  | 'CANCELLED'
  | 'ABORTED'
  | 'OVER_WORKSPACE_LIMIT'
  | 'SHARDS_NOT_STARTED';

/**
 * A failure the engine or the processor understood. `retryable: false` (the default) means another
 * attempt would fail the same way, so the processor hands BullMQ an `UnrecoverableError`.
 */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly retryable: boolean;

  constructor(
    code: EngineErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A target the egress guard refused (private address, bad port, not http) fails the test at once
 * and is never retried: the next attempt would be refused the same way. Anything else is left to
 * the engine, which usually records it as a failed request and goes on.
 */
export function throwIfRefused(err: unknown): void {
  if (err instanceof EgressError && (err.code === 'TARGET_REFUSED' || err.code === 'INVALID_TARGET')) {
    throw new EngineError(err.code, err.message, { cause: err });
  }
}

/** The reason the signal was aborted with, as something a caller can `instanceof`. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new EngineError('ABORTED', 'the test was aborted');
}

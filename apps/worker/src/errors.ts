export type EngineErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_TARGET'
  | 'NO_ENGINE'
  | 'TARGET_UNREACHABLE'
  | 'TIMED_OUT'
  | 'CANCELLED'
  | 'ABORTED';

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

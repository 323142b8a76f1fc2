/** Stable codes of the errors the cache reports (to `onError`, or thrown when `throwOnError` is set). */
export const CacheErrorCode = {
  /** A Redis command failed or timed out. */
  REDIS: 'CACHE_REDIS',
  /** The Redis tier's circuit breaker is open: Redis is skipped until it closes. */
  CIRCUIT_OPEN: 'CACHE_CIRCUIT_OPEN',
  /** A bus message could not be published; other processes keep their memory entry until its TTL. */
  BUS: 'CACHE_BUS',
  /** A value could not be serialised or read back. */
  SERIALIZATION: 'CACHE_SERIALIZATION',
} as const;

export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

export class CacheError extends Error {
  constructor(
    readonly code: CacheErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CacheError';
  }
}

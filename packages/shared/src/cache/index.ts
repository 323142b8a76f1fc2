export { Cache, CacheStrategy, createCache } from './cache.js';
export type {
  CacheOptions,
  CacheStats,
  CachedOptions,
  NamespaceStats,
  SetOptions,
  TierStats,
} from './cache.js';
export type { BreakerState } from './circuit-breaker.js';
export { CacheError, CacheErrorCode } from './errors.js';

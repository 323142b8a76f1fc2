export { Cache, createCache } from './cache.js';
export { CacheStrategy } from './options.js';
export type {
  CacheOptions,
  CacheSnapshot,
  CacheStats,
  CachedOptions,
  NamespaceStats,
  SetOptions,
  TierStats,
} from './options.js';
export type { BreakerState } from './circuit-breaker.js';
export { CacheError, CacheErrorCode } from './errors.js';
export {
  HTTP_CACHE_NAMESPACE,
  TestCacheTags,
  cachePrefix,
  invalidatingEventLog,
  testEventTags,
} from './test-cache.js';
export { createBackplaneCache } from './backplane-cache.js';
export type { BackplaneCacheOptions } from './backplane-cache.js';

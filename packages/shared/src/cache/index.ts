export { Cache, CacheStrategy, createCache } from './cache.js';
export type {
  CacheOptions,
  CacheSnapshot,
  CacheStats,
  CachedOptions,
  NamespaceStats,
  SetOptions,
  TierStats,
} from './cache.js';
export type { BreakerState } from './circuit-breaker.js';
export { CacheError, CacheErrorCode } from './errors.js';
export {
  HTTP_CACHE_NAMESPACE,
  TestCacheTags,
  cachePrefix,
  invalidatingEventLog,
  testEventTags,
} from '../test-cache.js';

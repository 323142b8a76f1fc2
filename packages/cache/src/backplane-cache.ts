import { createCache } from './cache.js';
import type { Cache } from './cache.js';
import { CacheStrategy } from './options.js';
import type { CacheOptions } from './options.js';

/** What a caller chooses of a cache on a backplane; the backplane supplies the Redis tier and the bus. */
export type BackplaneCacheOptions = Omit<CacheOptions, 'redis' | 'bus'>;

/**
 * A cache of the backplane's mode, on what it offers (`backplane.cacheStack`): with Redis
 * (distributed mode) a memory tier over Redis kept coherent by the bus, `strategy` as chosen
 * (default MEMORY_FIRST); without (embedded mode) the memory tier alone on the in-process bus,
 * whatever `strategy` says. The caller closes the cache before the backplane.
 */
export function createBackplaneCache(
  stack: Pick<CacheOptions, 'redis' | 'bus' | 'prefix'>,
  options: BackplaneCacheOptions = {},
): Promise<Cache> {
  if (!stack.redis) return createCache({ ...options, strategy: CacheStrategy.MEMORY_ONLY, bus: stack.bus });
  return createCache({
    prefix: stack.prefix,
    strategy: CacheStrategy.MEMORY_FIRST,
    ...options,
    redis: stack.redis,
    bus: stack.bus,
  });
}

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKPLANE_MODES, createTestDeployment } from '@crucible/backplane/testing';
import type { TestDeployment } from '@crucible/backplane/testing';
import { CacheStrategy, createBackplaneCache } from '../src/index.js';
import type { Cache } from '../src/index.js';

describe.each(BACKPLANE_MODES)('a cache on the %s backplane', (mode) => {
  let deployment: TestDeployment;
  const caches: Cache[] = [];

  beforeEach(async () => {
    deployment = await createTestDeployment({ mode });
  });
  afterEach(async () => {
    for (const cache of caches.splice(0)) await cache.close();
    await deployment.close();
  });

  const cacheOf = async (options = {}) => {
    const cache = await createBackplaneCache((await deployment.backplane()).cacheStack, options);
    caches.push(cache);
    return cache;
  };

  it('computes once and then serves what it stored', async () => {
    const cache = await cacheOf();
    expect(await cache.cached('k', 60_000, async () => ({ v: 1 }))).toEqual({ v: 1 });
    expect(await cache.cached('k', 60_000, async () => ({ v: 2 }))).toEqual({ v: 1 });
  });

  it(
    mode === 'distributed'
      ? "shares entries with another process's cache through Redis"
      : 'keeps the memory tier only, whatever strategy is asked for',
    async () => {
      const here = await cacheOf({ strategy: CacheStrategy.REDIS_ONLY });
      await here.set('shared', 'yes');
      const other = await cacheOf({ strategy: CacheStrategy.REDIS_ONLY });
      // Distributed: a second process reads Redis. Embedded: one process, one memory tier each
      // (there is no Redis to share), so another cache does not see this one's entry.
      expect(await other.get('shared')).toBe(mode === 'distributed' ? 'yes' : undefined);
      expect(here.stats().memoryEntries).toBe(mode === 'distributed' ? 0 : 1);
    },
  );
});

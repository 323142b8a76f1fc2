import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackendFactory, CacheBackend } from './backends.js';

/** A promise resolved from outside, to hold a computation until the test lets it finish. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const POLL = { timeout: 10_000, interval: 20 };

/**
 * The behaviour every tier/strategy combination must show. A new backend (e.g. the embedded one)
 * joins by calling this with its factory.
 */
export function describeCacheConformance(name: string, factory: BackendFactory): void {
  describe(`cache conformance: ${name}`, () => {
    let backend: CacheBackend;
    beforeEach(async () => {
      backend = await factory.start();
    });
    afterEach(async () => {
      await backend.close();
    });

    it('stores, reads, reports and deletes values of every JSON shape', async () => {
      const cache = await backend.create();
      expect(await cache.get('missing')).toBeUndefined();
      expect(await cache.has('missing')).toBe(false);
      const values = {
        object: { a: 1, nested: { list: [1, 'two', null, true] } },
        string: 'hello',
        number: 42.5,
        zero: 0,
        empty: '',
        null: null,
        array: [{ x: 1 }, { y: 2 }],
      };
      for (const [key, value] of Object.entries(values)) await cache.set(key, value);
      for (const [key, value] of Object.entries(values)) {
        expect(await cache.get(key), key).toEqual(value);
        expect(await cache.has(key), key).toBe(true);
      }
      await cache.delete('object');
      expect(await cache.get('object')).toBeUndefined();
      expect(await cache.has('object')).toBe(false);
      expect(await cache.get('string')).toBe('hello');
      await expect(cache.set('undef', undefined)).rejects.toThrow(TypeError);
    });

    it('expires entries after their TTL and overwrites on set', async () => {
      const cache = await backend.create();
      await cache.set('short', 'v', 50);
      await cache.set('long', 'v1', 60_000);
      await cache.set('long', 'v2', 60_000);
      expect(await cache.get('long')).toBe('v2');
      await expect.poll(() => cache.get('short'), POLL).toBeUndefined();
      expect(await cache.get('long')).toBe('v2');
    });

    it('cached() computes once, then serves the cached value', async () => {
      const cache = await backend.create();
      let calls = 0;
      const fn = async () => ({ n: ++calls });
      expect(await cache.cached('k', 60_000, fn)).toEqual({ n: 1 });
      expect(await cache.cached('k', 60_000, fn)).toEqual({ n: 1 });
      expect(calls).toBe(1);
      expect(await cache.get('k')).toEqual({ n: 1 });
    });

    it('100 concurrent cached() calls for a cold key run fn once', async () => {
      const cache = await backend.create();
      let calls = 0;
      const gate = deferred<void>();
      const fn = async () => {
        calls++;
        await gate.promise;
        return 'computed';
      };
      const all = Promise.all(Array.from({ length: 100 }, () => cache.cached('cold', 60_000, fn)));
      await expect.poll(() => calls, POLL).toBe(1);
      gate.resolve();
      expect(await all).toEqual(Array.from({ length: 100 }, () => 'computed'));
      expect(calls).toBe(1);
    });

    it('remembers "not found" for the negative TTL only', async () => {
      const cache = await backend.create({ negativeTtlMs: 100 });
      let calls = 0;
      const lookup = async (): Promise<string | undefined> => {
        calls++;
        return calls >= 3 ? 'found' : undefined;
      };
      expect(await cache.cached('absent', 60_000, lookup)).toBeUndefined();
      expect(await cache.cached('absent', 60_000, lookup)).toBeUndefined();
      expect(calls).toBe(1);
      expect(await cache.has('absent')).toBe(false);
      // Once the negative entry expires, fn runs again (and eventually finds the value).
      await expect.poll(() => cache.cached('absent', 60_000, lookup), POLL).toBe('found');
      expect(calls).toBe(3);
    });

    it('passes errors of fn to the caller and caches nothing', async () => {
      const cache = await backend.create();
      await expect(
        cache.cached('boom', 60_000, async () => {
          throw new Error('database down');
        }),
      ).rejects.toThrow('database down');
      expect(await cache.cached('boom', 60_000, async () => 'ok')).toBe('ok');
    });

    it('serves a stale value within its grace while one refresh runs', async () => {
      const cache = await backend.create({ graceMs: 60_000 });
      await cache.cached('swr', 50, async () => 'v1');
      await expect.poll(() => cache.get('swr'), POLL).toBeUndefined();
      const gate = deferred<void>();
      let refreshes = 0;
      const refresh = async () => {
        refreshes++;
        await gate.promise;
        return 'v2';
      };
      expect(await cache.cached('swr', 60_000, refresh)).toBe('v1');
      expect(await cache.cached('swr', 60_000, refresh)).toBe('v1');
      expect(refreshes).toBe(1);
      gate.resolve();
      await expect.poll(() => cache.cached('swr', 60_000, refresh), POLL).toBe('v2');
      expect(refreshes).toBe(1);
    });

    it('serves the stale value when the refresh fails, and after the soft timeout when it is slow', async () => {
      const cache = await backend.create({ graceMs: 60_000, softTimeoutMs: 50 });
      await cache.cached('soft', 50, async () => 'old');
      await expect.poll(() => cache.get('soft'), POLL).toBeUndefined();
      expect(
        await cache.cached('soft', 60_000, async () => {
          throw new Error('refresh failed');
        }),
      ).toBe('old');
      const gate = deferred<void>();
      expect(
        await cache.cached('soft', 60_000, async () => {
          await gate.promise;
          return 'new';
        }),
      ).toBe('old');
      gate.resolve();
      await expect.poll(() => cache.get('soft'), POLL).toBe('new');
    });

    it('invalidatePattern deletes exactly the matching keys of its namespace', async () => {
      const cache = await backend.create();
      const other = cache.namespace('other');
      for (const key of ['test:1', 'test:2', 'test:sub:3', 'testing', 'user:1', '[x]*?'])
        await cache.set(key, key);
      await other.set('test:1', 'other');
      const deleted = await cache.invalidatePattern('test:*');
      expect(deleted).toBe(3);
      for (const key of ['test:1', 'test:2', 'test:sub:3']) expect(await cache.get(key), key).toBeUndefined();
      for (const key of ['testing', 'user:1', '[x]*?']) expect(await cache.get(key), key).toBe(key);
      expect(await other.get('test:1')).toBe('other');
      expect(await cache.invalidatePattern('\\[x\\]\\*\\?')).toBe(1);
      expect(await cache.get('[x]*?')).toBeUndefined();
    });

    it('invalidateTags deletes the tagged entries of its namespace only', async () => {
      const cache = await backend.create();
      const other = cache.namespace('other');
      await cache.set('a', 1, 60_000, { tags: ['owner:1', 'test:a'] });
      await cache.set('b', 2, 60_000, { tags: ['owner:1'] });
      await cache.set('c', 3, 60_000, { tags: ['owner:2'] });
      await cache.cached('d', 60_000, async () => 4, { tags: ['test:a'] });
      await other.set('a', 'other', 60_000, { tags: ['owner:1'] });
      await cache.invalidateTags(['owner:1']);
      expect(await cache.get('a')).toBeUndefined();
      expect(await cache.get('b')).toBeUndefined();
      expect(await cache.get('c')).toBe(3);
      expect(await cache.get('d')).toBe(4);
      expect(await other.get('a')).toBe('other');
      await cache.invalidateTags(['test:a']);
      expect(await cache.get('d')).toBeUndefined();
    });

    it('keeps namespaces apart, nested ones included', async () => {
      const root = await backend.create();
      const a = root.namespace('a');
      const ab = a.namespace('b');
      await root.set('k', 'root');
      await a.set('k', 'a');
      await ab.set('k', 'ab');
      await a.set('b::k', 'a-colons');
      expect([await root.get('k'), await a.get('k'), await ab.get('k'), await a.get('b::k')]).toEqual([
        'root',
        'a',
        'ab',
        'a-colons',
      ]);
      await a.clear();
      expect([await root.get('k'), await a.get('k'), await ab.get('k')]).toEqual(['root', undefined, 'ab']);
      expect(() => root.namespace('bad:name')).toThrow(TypeError);
    });

    it('does not store a value computed before an invalidation of its tags', async () => {
      const writer = await backend.create();
      const other = await backend.create();
      const gate = deferred<void>();
      let calls = 0;
      const fn = async () => {
        calls++;
        await gate.promise;
        return `v${calls}`;
      };
      const pending = writer.cached('raced', 60_000, fn, { tags: ['t'] });
      await expect.poll(() => calls, POLL).toBe(1);
      await other.invalidateTags(['t']);
      if (factory.memory) await expect.poll(() => writer.stats().bus.received, POLL).toBeGreaterThan(0);
      gate.resolve();
      expect(await pending).toBe('v1');
      expect(await writer.get('raced')).toBeUndefined();
      expect(await writer.cached('raced', 60_000, fn, { tags: ['t'] })).toBe('v2');
    });

    it('set({since}) stores only when no tag of the snapshot was invalidated after it', async () => {
      const writer = await backend.create();
      const other = await backend.create();
      const kept = await writer.snapshot(['t']);
      await writer.set('kept', 'fresh', 60_000, { since: kept });
      expect(await writer.get('kept')).toBe('fresh');
      const dropped = await writer.snapshot(['t']);
      await other.invalidateTags(['t']);
      if (factory.memory) await expect.poll(() => writer.stats().bus.received, POLL).toBeGreaterThan(0);
      await writer.set('dropped', 'old data', 60_000, { since: dropped });
      expect(await writer.get('dropped')).toBeUndefined();
      await expect(writer.set('x', 1, 60_000, { since: kept, tags: ['other'] })).rejects.toThrow(TypeError);
    });

    it('keeps other instances coherent through the bus', async () => {
      const a = await backend.create();
      const b = await backend.create();
      await b.set('k', 'old');
      await b.set('tagged', 'old', 60_000, { tags: ['g'] });
      await b.set('p:1', 'old');
      expect(await b.get('k')).toBe('old');

      await a.set('k', 'new');
      // b must stop serving its old copy: the shared value where there is a shared tier, else a miss.
      await expect.poll(() => b.get('k'), POLL).toBe(factory.shared ? 'new' : undefined);
      await b.set('k', 'again');
      await a.delete('k');
      await expect.poll(() => b.get('k'), POLL).toBeUndefined();
      await a.invalidateTags(['g']);
      await expect.poll(() => b.get('tagged'), POLL).toBeUndefined();
      await a.invalidatePattern('p:*');
      await expect.poll(() => b.get('p:1'), POLL).toBeUndefined();
    });

    it('counts hits, misses, sets and deletes per namespace', async () => {
      const root = await backend.create();
      const ns = root.namespace('stats');
      expect(await ns.get('x')).toBeUndefined();
      await ns.set('x', 1);
      expect(await ns.get('x')).toBe(1);
      expect(await ns.get('x')).toBe(1);
      await ns.delete('x');
      const stats = root.stats();
      expect(stats.namespaces.stats).toMatchObject({ hits: 2, misses: 1, sets: 1, deletes: 1 });
      expect(stats.namespaces.stats!.hitRatio).toBeCloseTo(2 / 3);
      expect(stats).toMatchObject({ hits: 2, misses: 1, errors: 0, breaker: 'closed' });
      // Each hit was served by exactly one tier, whichever the strategy reads first.
      const tiers = stats.namespaces.stats!;
      expect(tiers.memory.hits + tiers.redis.hits).toBe(2);
    });

    it.runIf(factory.memory)('evicts the least recently used entry beyond its size bound', async () => {
      const cache = await backend.create({ maxEntries: 3 });
      for (const key of ['a', 'b', 'c']) await cache.set(key, key);
      expect(cache.getSync('a')).toBe('a');
      await cache.set('d', 'd');
      expect(cache.stats().evictions).toBe(1);
      expect(cache.getSync('b')).toBeUndefined();
      expect(['a', 'c', 'd'].map((k) => cache.getSync(k))).toEqual(['a', 'c', 'd']);
    });
  });
}

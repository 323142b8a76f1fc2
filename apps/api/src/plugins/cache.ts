import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { HTTP_CACHE_NAMESPACE } from '@crucible/cache';
import type { Cache, CacheSnapshot, CacheStats } from '@crucible/cache';

/** A route's response-cache policy: `config: { cache: {...} }` on a GET route opts it in. */
export interface RouteCacheConfig {
  /** How long a response stays cached (invalidation usually ends it sooner). */
  ttlMs: number;
  /** Tags whose invalidation drops the response (`TestCacheTags`), from the request. */
  tags: (request: FastifyRequest) => string[];
  /** Whether a 200 body may be cached (e.g. only finished tests). @defaultValue always */
  when?: (body: unknown) => boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    cache?: RouteCacheConfig;
  }
}

/** What the cache keeps of a response: the serialised body, its ETag and content type. */
interface CachedResponse {
  body: string;
  etag: string;
  type: string;
}

interface Pending {
  key: string;
  snapshot: CacheSnapshot;
}

export interface CachePluginOptions {
  /** The deployment's root cache; responses live in its `http` namespace. */
  cache: Cache;
  /** The app's metrics registry: cache statistics are exported there. */
  registry: Registry;
}

/** A strong ETag of a serialised body. */
function etagOf(body: string): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** RFC 9110 If-None-Match: any listed tag (weak comparison) or `*` matches. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/**
 * Caches the responses of the GET routes that opt in, per user: the key holds the user's id, so one
 * user's cached body can never answer another's request. Responses carry `Cache-Control: private,
 * no-cache` (browsers may keep them but revalidate), `Vary: Authorization`, an ETag (304 when it
 * matches) and `X-Cache: HIT|MISS`. A response computed while one of its tags was invalidated is
 * not stored (snapshot before the handler, conditional store after).
 */
export const cachePlugin = fp<CachePluginOptions>(
  async (app, opts) => {
    const http = opts.cache.namespace(HTTP_CACHE_NAMESPACE);
    const pending = new WeakMap<FastifyRequest, Pending>();

    async function lookup(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      const config = request.routeOptions.config.cache!;
      const user = request.user;
      // Only authenticated responses are cached, and only under their user.
      if (!user) return;
      reply.header('cache-control', 'private, no-cache').header('vary', 'authorization');
      // The workspace and the role in it too: one user reads several workspaces, with different roles.
      const { actor } = request;
      const key = `u:${user.id}:${user.role}:${actor?.workspaceId ?? ''}:${actor?.workspaceRole ?? ''}:${request.url}`;
      const hit = await http.get<CachedResponse>(key);
      if (hit) {
        reply.header('etag', hit.etag).header('x-cache', 'HIT');
        if (matchesEtag(request.headers['if-none-match'], hit.etag)) return reply.code(304).send();
        return reply.type(hit.type).send(hit.body);
      }
      reply.header('x-cache', 'MISS');
      pending.set(request, { key, snapshot: await http.snapshot(config.tags(request)) });
    }

    async function store(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
      const miss = pending.get(request);
      if (!miss || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
      pending.delete(request);
      const config = request.routeOptions.config.cache!;
      const etag = etagOf(payload);
      reply.header('etag', etag);
      if (!config.when || config.when(JSON.parse(payload))) {
        const type = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8');
        await http.set(miss.key, { body: payload, etag, type } satisfies CachedResponse, config.ttlMs, {
          since: miss.snapshot,
        });
      }
      if (matchesEtag(request.headers['if-none-match'], etag)) {
        reply.code(304);
        return '';
      }
      return payload;
    }

    app.addHook('onRoute', (route: RouteOptions) => {
      if (!route.config?.cache) return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.some((m) => m !== 'GET' && m !== 'HEAD')) {
        throw new Error(`cache: ${route.url} is not a GET route; only reads can be cached`);
      }
      route.preHandler = [...toArray(route.preHandler), lookup];
      route.onSend = [...toArray(route.onSend), store];
    });

    registerCacheMetrics(opts.registry, () => opts.cache.stats());
  },
  { name: 'cache', fastify: '5.x' },
);

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Cache statistics as Prometheus gauges, read from `stats()` at each scrape. */
export function registerCacheMetrics(registry: Registry, stats: () => CacheStats): void {
  new Gauge({
    name: 'crucible_cache_lookups',
    help: 'Cache lookups since start, by namespace, tier and result',
    labelNames: ['namespace', 'tier', 'result'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [ns, s] of Object.entries(stats().namespaces)) {
        const namespace = ns || 'root';
        this.set({ namespace, tier: 'any', result: 'hit' }, s.hits);
        this.set({ namespace, tier: 'any', result: 'miss' }, s.misses);
        this.set({ namespace, tier: 'memory', result: 'hit' }, s.memory.hits);
        this.set({ namespace, tier: 'memory', result: 'miss' }, s.memory.misses);
        this.set({ namespace, tier: 'redis', result: 'hit' }, s.redis.hits);
        this.set({ namespace, tier: 'redis', result: 'miss' }, s.redis.misses);
      }
    },
  });
  new Gauge({
    name: 'crucible_cache_writes',
    help: 'Cache sets and deletes since start, by namespace',
    labelNames: ['namespace', 'op'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [ns, s] of Object.entries(stats().namespaces)) {
        this.set({ namespace: ns || 'root', op: 'set' }, s.sets);
        this.set({ namespace: ns || 'root', op: 'delete' }, s.deletes);
      }
    },
  });
  new Gauge({
    name: 'crucible_cache_hit_ratio',
    help: 'Share of cache lookups answered from a tier (0 before the first)',
    registers: [registry],
    collect() {
      this.set(stats().hitRatio);
    },
  });
  new Gauge({
    name: 'crucible_cache_events',
    help: 'Memory evictions, Redis/bus errors and bus messages since start',
    labelNames: ['event'] as const,
    registers: [registry],
    collect() {
      const s = stats();
      this.set({ event: 'eviction' }, s.evictions);
      this.set({ event: 'error' }, s.errors);
      this.set({ event: 'bus_published' }, s.bus.published);
      this.set({ event: 'bus_received' }, s.bus.received);
    },
  });
  new Gauge({
    name: 'crucible_cache_state',
    help: 'Memory-tier entries and whether the Redis breaker is open (1) or not (0)',
    labelNames: ['gauge'] as const,
    registers: [registry],
    collect() {
      const s = stats();
      this.set({ gauge: 'memory_entries' }, s.memoryEntries);
      this.set({ gauge: 'redis_breaker_open' }, s.breaker === 'closed' ? 0 : 1);
    },
  });
}

import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerHttpMetrics } from './metrics.js';

/** A named dependency check; resolves true when the dependency answers. */
export type ReadinessCheck = () => Promise<boolean>;

export function createMetricsRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `/health/live` (the process runs), `/health/ready` (every dependency answers; 503 otherwise, with
 * which one failed) and `/metrics` (Prometheus text) — the same on every app. The registry becomes
 * `app.metrics` and gets the HTTP latency histogram of every route.
 */
export async function registerHealthRoutes(
  app: FastifyInstance,
  options: { checks: Record<string, ReadinessCheck>; registry: Registry },
): Promise<void> {
  app.decorate('metrics', options.registry);
  registerHttpMetrics(app, options.registry);
  app.get('/health/live', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { logLevel: 'warn' }, async (_req, reply) => {
    const entries = await Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => {
        try {
          return [name, await withTimeout(check(), 2_000)] as const;
        } catch {
          return [name, false] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const ok = entries.every(([, v]) => v);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

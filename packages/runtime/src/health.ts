import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerEventLoopMetrics, registerHttpMetrics } from './metrics.js';

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
 * `app.metrics` and gets the HTTP latency histogram of every route and the event-loop delay.
 */
export async function registerHealthRoutes(
  app: FastifyInstance,
  options: {
    checks: Record<string, ReadinessCheck>;
    registry: Registry;
    /** `METRICS_TOKEN`: `/metrics` answers 401 without `Authorization: Bearer <it>`. @defaultValue undefined (open) */
    metricsToken?: string;
  },
): Promise<void> {
  const authorized = options.metricsToken === undefined ? () => true : bearerCheck(options.metricsToken);
  app.decorate('metrics', options.registry);
  registerHttpMetrics(app, options.registry);
  registerEventLoopMetrics(app, options.registry);
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
  app.get('/metrics', { logLevel: 'warn' }, async (req, reply) => {
    if (!authorized(req.headers.authorization)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .type('application/problem+json')
        .send({
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          detail: 'Metrics need Authorization: Bearer <METRICS_TOKEN>',
          code: 'UNAUTHORIZED',
        });
    }
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
}

/**
 * Compares digests, which have one length whatever was sent, so neither the token's length nor
 * how much of a guess matched shows in the answer's timing.
 */
function bearerCheck(token: string): (header: string | undefined) => boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const expected = digest(token);
  return (header) => {
    const sent = /^Bearer +(\S+)$/i.exec(header ?? '')?.[1];
    return sent !== undefined && timingSafeEqual(digest(sent), expected);
  };
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

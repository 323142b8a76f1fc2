import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, registerHealthRoutes } from './health.js';

const TOKEN = 'metrics-token-metrics-token-0123456789';

async function appWith(metricsToken?: string) {
  const app = Fastify();
  await registerHealthRoutes(app, { checks: {}, registry: createMetricsRegistry('t'), metricsToken });
  return app;
}

describe('/metrics', () => {
  it('answers anyone when METRICS_TOKEN is unset', async () => {
    const app = await appWith();
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('# TYPE process_cpu_user_seconds_total counter');
    await app.close();
  });

  it('answers only the bearer of METRICS_TOKEN when it is set', async () => {
    const app = await appWith(TOKEN);
    for (const authorization of [
      undefined,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      TOKEN,
      'Bearer ',
    ]) {
      const res = await app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.json()).toEqual({
        type: 'about:blank',
        title: 'Unauthorized',
        status: 401,
        detail: 'Metrics need Authorization: Bearer <METRICS_TOKEN>',
        code: 'UNAUTHORIZED',
      });
    }
    const ok = await app.inject({ url: '/metrics', headers: { authorization: `bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE process_cpu_user_seconds_total counter');
    // Probes stay open: orchestrators send no token.
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
    await app.close();
  });
});

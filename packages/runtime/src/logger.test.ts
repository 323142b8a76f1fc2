import { Writable } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { requestLogController } from './logger.js';

function appWithLog() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger: FastifyBaseLogger = pino({ level: 'info' }, sink);
  const app = Fastify({ loggerInstance: logger, logController: requestLogController() });
  app.get('/things', async () => ({ ok: true }));
  app.get('/quiet', { logLevel: 'warn' }, async () => ({ ok: true }));
  return { app, lines: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('requestLogController', () => {
  it('logs one line per request, its summary as the message and credentials in the query redacted', async () => {
    const { app, lines } = appWithLog();
    const res = await app.inject({ method: 'GET', url: '/things?token=secret-token&page=2' });
    expect(res.statusCode).toBe(200);
    const missing = await app.inject({ method: 'GET', url: '/nowhere?ticket=t1' });
    expect(missing.statusCode).toBe(404);
    await app.close();

    const logged = lines();
    expect(logged).toHaveLength(2);
    expect(logged[0]!.msg).toMatch(/^GET \/things\?token=\[REDACTED\]&page=2 200 \d+ ms$/);
    expect(logged[0]!.http).toMatchObject({
      method: 'GET',
      url: '/things?token=[REDACTED]&page=2',
      statusCode: 200,
      remoteAddress: '127.0.0.1',
    });
    expect(logged[1]!.msg).toMatch(/^GET \/nowhere\?ticket=\[REDACTED\] 404 \d+ ms$/);
    expect(JSON.stringify(logged)).not.toContain('secret-token');
  });

  it("keeps a route's log level: a quiet route logs nothing at info", async () => {
    const { app, lines } = appWithLog();
    expect((await app.inject({ method: 'GET', url: '/quiet' })).statusCode).toBe(200);
    await app.close();
    expect(lines()).toEqual([]);
  });
});

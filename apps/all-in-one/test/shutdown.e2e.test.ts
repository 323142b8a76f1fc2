import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisPrefix as deletePrefix } from '@crucible/backplane/testing';
import { REPO_ROOT, freePort } from '@crucible/api/testing';

/**
 * `pnpm start` stopped the way a person at a terminal stops it: Ctrl-C sends SIGINT to the whole
 * foreground process group (pnpm, its shell and the server), here a group of its own.
 */
describe('Ctrl-C on pnpm start with a test running', () => {
  let target: Server;
  let holdUrl: string;
  const held: ServerResponse[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const prefix = `t-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-shutdown-'));

  beforeAll(async () => {
    // Holds every request: the test stays running until the server is stopped.
    target = createServer((_req, res) => void held.push(res));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    holdUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/hold`;
    database = await createTestDatabase();
  });

  afterAll(async () => {
    for (const res of held) res.destroy();
    target?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('says what it finishes and for how long; a second Ctrl-C hands the test back; pnpm exits 0', async () => {
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const child = spawn('pnpm', ['start'], {
      cwd: REPO_ROOT,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        REDIS_URL,
        CRUCIBLE_PREFIX: prefix,
        CRUCIBLE_DATA_DIR: dataDir,
        JWT_SECRET: '',
        PORT: String(port),
        HOST: '127.0.0.1',
        TARGET_ALLOWLIST: '127.0.0.1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );
    const ctrlC = () => process.kill(-child.pid!, 'SIGINT');
    try {
      await expect
        .poll(async () => (await fetch(`${api}/health/ready`).catch(() => undefined))?.status, {
          timeout: 120_000,
          interval: 250,
        })
        .toBe(200);
      const registered = await fetch(`${api}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ctrl-c@example.com', password: 'correct-horse-battery-staple-42' }),
      });
      const { token } = (await registered.json()) as { token: string };
      const submitted = await fetch(`${api}/api/test/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          testType: 'performance',
          url: holdUrl,
          config: { iterations: 1, timeoutMs: 60_000 },
        }),
      });
      expect(submitted.status).toBe(202);
      const { testId } = (await submitted.json()) as { testId: string };
      await expect.poll(() => held.length, { timeout: 30_000 }).toBe(1);

      ctrlC();
      await expect
        .poll(() => output, { timeout: 10_000 })
        .toContain('finishing 1 running test (up to 10 s; Ctrl-C again to hand it back now)');
      const shuttingDown = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.msg === 'shutting down');
      // The documented default of SHUTDOWN_TIMEOUT_MS for pnpm start.
      expect(shuttingDown).toMatchObject({ signal: 'SIGINT', timeoutMs: 15_000 });

      ctrlC();
      expect(await exited).toEqual([0, null]);
      expect(output).not.toContain('ELIFECYCLE');

      // Handed back: queued again, its attempt recorded as such, to run on the next start.
      const db = createDb(database.url);
      try {
        const row = await db.kysely
          .selectFrom('test_queue')
          .select('status')
          .where('test_id', '=', testId)
          .executeTakeFirstOrThrow();
        expect(row.status).toBe('queued');
        const attempts = await db.kysely
          .selectFrom('test_attempts')
          .select('status')
          .where('test_id', '=', testId)
          .execute();
        expect(attempts).toEqual([{ status: 'handed_back' }]);
      } finally {
        await db.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 240_000);
});

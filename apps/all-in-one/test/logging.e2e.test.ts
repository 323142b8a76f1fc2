import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisPrefix as deletePrefix } from '@crucible/backplane/testing';
import { REPO_ROOT, freePort } from '@crucible/api/testing';
import { ENTRY } from './entry.js';

/** The all-in-one entry (what `pnpm start` runs) on the machine's services, its output collected. */
async function startAllInOne(format: 'pretty' | 'terminal') {
  const database = await createTestDatabase();
  const prefix = `t-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-logging-'));
  const port = await freePort();
  const command = [process.execPath, '--import', 'tsx', ENTRY];
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_URL,
    CRUCIBLE_PREFIX: prefix,
    CRUCIBLE_DATA_DIR: dataDir,
    JWT_SECRET: '',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LOG_FORMAT: format === 'pretty' ? 'pretty' : undefined,
    NODE_ENV: 'development',
  };
  // `script` gives the process a terminal of its own, as a person running `pnpm start` has.
  const child =
    format === 'terminal'
      ? spawn('script', ['-qefc', command.join(' '), '/dev/null'], { cwd: REPO_ROOT, env, detached: true })
      : spawn(command[0]!, command.slice(1), { cwd: REPO_ROOT, env, detached: true });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    // Colours and the terminal's carriage returns removed.
    lines: () =>
      output
        .replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex
        .split(/\r?\n/)
        .filter(Boolean),
    output: () => output,
    async stop() {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
      await database.drop();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type Started = Awaited<ReturnType<typeof startAllInOne>>;

describe('pnpm start logs for people at a terminal', () => {
  const started: Started[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  }, 60_000);

  it.each(['pretty', 'terminal'] as const)(
    'with %s: one short line per request, no JSON',
    async (format) => {
      const crucible = await startAllInOne(format);
      started.push(crucible);
      await expect
        .poll(
          async () =>
            (await fetch(`${crucible.url}/health/ready`)
              .then((r) => r.status)
              .catch(() => 0)) === 200,
          { timeout: 60_000, interval: 250 },
        )
        .toBe(true);

      const res = await fetch(`${crucible.url}/api/test/queue/status?token=not-a-real-one`);
      expect(res.status).toBe(401);
      await expect
        .poll(() => crucible.lines().filter((l) => l.includes('/api/test/queue/status')), { timeout: 10_000 })
        .toHaveLength(1);
      const [line] = crucible.lines().filter((l) => l.includes('/api/test/queue/status'));
      expect(line).toMatch(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(crucible\): GET \/api\/test\/queue\/status\?token=\[REDACTED\] 401 \d+ ms$/,
      );
      expect(crucible.lines().filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
    },
    90_000,
  );
});

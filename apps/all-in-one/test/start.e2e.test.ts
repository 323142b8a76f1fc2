import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startProcess, waitForReady } from '@crucible/api/testing';
import { ENTRY } from './entry.js';

describe('starting Crucible', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  }, 60_000);

  it('refuses a second start on the same data folder at once, in one plain line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crucible-start-'));
    stops.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const embedded = {
      DATABASE_URL: '',
      REDIS_URL: '',
      JWT_SECRET: '',
      CRUCIBLE_DATA_DIR: dataDir,
      HOST: '127.0.0.1',
    };
    const firstPort = await freePort();
    const first = startProcess('first', ENTRY, {
      ...embedded,
      PORT: String(firstPort),
    });
    stops.push(() => first.stop());
    await waitForReady(`http://127.0.0.1:${firstPort}/health/ready`, first, 120_000);

    const second = startProcess('second', ENTRY, {
      ...embedded,
      PORT: String(await freePort()),
    });
    const code = await new Promise((resolve) => second.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(second.output()).toBe(
      `crucible: the data folder ${dataDir} is in use by process ${first.child.pid} (another pnpm start?); stop it, or give this one its own CRUCIBLE_DATA_DIR\n`,
    );
    // The first one is unharmed.
    expect((await fetch(`http://127.0.0.1:${firstPort}/health/ready`)).status).toBe(200);
  }, 180_000);
});

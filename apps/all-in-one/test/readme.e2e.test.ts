import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort, startProcess, waitForReady } from '@crucible/api/testing';
import type { AppProcess } from '@crucible/api/testing';
import { ENTRY } from './entry.js';

const SECTION = '## A test from start to finish';

/** The shell blocks of the README's walkthrough, as a reader copies them. */
function walkthrough(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(SECTION);
  const end = readme.indexOf('\n## ', start + SECTION.length);
  const blocks = [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.join('\n');
}

/**
 * The README's walkthrough, its commands run as written against `pnpm start`'s server (embedded
 * mode, nothing else running), only its two ports moved to free ones: 3000 (Crucible) and 8080
 * (the reader's own site). If the README drifts from what Crucible does, this fails.
 */
describe('the README walkthrough', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-readme-'));
  let crucible: AppProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    crucible = startProcess('pnpm start', ENTRY, {
      // Empty is unset: whatever this machine has, the walkthrough gets embedded mode's defaults.
      DATABASE_URL: '',
      REDIS_URL: '',
      JWT_SECRET: '',
      TARGET_ALLOWLIST: '',
      HOST: '',
      CRUCIBLE_DATA_DIR: dataDir,
      PORT: String(port),
    });
    await waitForReady(`http://127.0.0.1:${port}/health/ready`, crucible, 240_000);
  }, 300_000);

  afterAll(async () => {
    await crucible?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('has its shell commands in the README', () => {
    const script = walkthrough();
    expect(script).toContain('curl -s localhost:3000/api/auth/register');
    expect(script).toContain('localhost:8080');
  });

  it('runs as written: registers, submits, watches the test complete over the WebSocket, reads the result', async () => {
    const targetPort = await freePort();
    const script = walkthrough()
      .replaceAll('localhost:3000', `localhost:${port}`)
      .replace(/\b8080\b/g, String(targetPort));
    const shell = spawn('sh', ['-ec', script], {
      cwd: tmpdir(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    shell.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    shell.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const code = await new Promise((resolve) => shell.once('exit', resolve));
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    } finally {
      // The walkthrough's own target server, if a step failed before its `kill`.
      try {
        process.kill(-shell.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const lines = stdout.trim().split('\n');
    const events = lines.slice(0, -1).map((line) => line.split(' ')[0]);
    expect(events.indexOf('subscribed')).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('test:started')).toBeGreaterThan(events.indexOf('subscribed'));
    expect(events.filter((event) => event === 'test:progress')).toHaveLength(3);
    expect(events.at(-1)).toBe('test:completed');
    const result = JSON.parse(lines.at(-1)!) as { status: string; testType: string; url: string };
    expect(result).toMatchObject({
      status: 'completed',
      testType: 'performance',
      url: `http://localhost:${targetPort}/`,
    });
  }, 180_000);
});

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_DIR, REPO_ROOT, runCli, startCrucible, startTarget, tempDir } from './helpers.js';
import type { Crucible } from './helpers.js';

interface Monitor {
  id: string;
  name: string;
  codeKey: string | null;
  enabled: boolean;
  schedule: Record<string, unknown>;
  test: Record<string, unknown>;
  updatedAt: string;
}

let crucible: Crucible;
let target: Awaited<ReturnType<typeof startTarget>>;
let session: string;

/** The CLI from its source, run in the checks file's folder as a user would: tsx by its absolute path. */
const TSX = pathToFileURL(createRequire(join(REPO_ROOT, 'package.json')).resolve('tsx')).href;
const CLI = [process.execPath, '--import', TSX, join(CLI_DIR, 'src/main.ts')];

beforeAll(async () => {
  target = await startTarget();
  crucible = await startCrucible();
  const login = await fetch(`${crucible.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ci@example.com', password: 'a long enough password for ci' }),
  });
  expect(login.status).toBe(200);
  session = ((await login.json()) as { token: string }).token;
}, 180_000);

afterAll(async () => {
  await crucible?.close();
  await target?.close();
});

/** A workspace of its own for each test, and an API key that acts in it (as a CI secret would). */
async function workspace() {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${session}` };
  const made = await fetch(`${crucible.url}/api/workspaces`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: `deploy ${randomUUID()}` }),
  });
  expect(made.status).toBe(201);
  const { id } = (await made.json()) as { id: string };
  const key = await fetch(`${crucible.url}/api/auth/api-keys`, {
    method: 'POST',
    headers: { ...headers, 'x-crucible-workspace': id },
    body: JSON.stringify({ name: 'ci' }),
  });
  expect(key.status).toBe(201);
  const token = ((await key.json()) as { key: string }).key;
  const api = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${crucible.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as unknown) };
  };
  const monitors = async () => ((await api('GET', '/api/monitors')).body as { items: Monitor[] }).items;
  const dir = tempDir();
  const file = join(dir, 'crucible.checks.yaml');
  const deploy = (...args: string[]) =>
    runCli(['deploy', ...args], { CRUCIBLE_URL: crucible.url, CRUCIBLE_TOKEN: token }, dir, CLI);
  return { api, monitors, file, deploy, write: (yaml: string) => writeFileSync(file, yaml) };
}

/** A check in the file's YAML; with `every`, a monitor (hours apart: nothing runs during the test). */
const check = (name: string, every?: number, iterations = 2) =>
  `  - name: ${name}
    type: performance
    target: ${target.url}
    config: { iterations: ${iterations} }
${every ? `    schedule: { everySeconds: ${every} }\n` : ''}`;

describe('crucible deploy against a real all-in-one server', { timeout: 120_000 }, () => {
  it('creates the monitors of the file; deploying it again changes nothing and says so', async () => {
    const ws = await workspace();
    ws.write(`checks:\n${check('home', 3600)}${check('pricing', 7200)}${check('smoke only')}`);

    const first = await ws.deploy();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(
      '+ created   home (every 3600 s)\n+ created   pricing (every 7200 s)\n2 created\n',
    );
    const made = await ws.monitors();
    expect(made.map((m) => [m.name, m.codeKey, m.enabled, m.schedule])).toEqual([
      ['home', 'home', true, { everySeconds: 3600 }],
      ['pricing', 'pricing', true, { everySeconds: 7200 }],
    ]);
    expect(made[0]!.test).toMatchObject({
      testType: 'performance',
      url: target.url,
      config: { iterations: 2 },
    });

    const second = await ws.deploy();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(
      '= unchanged home\n= unchanged pricing\nnothing to change: 2 monitors already as the file says\n',
    );
    // Not rewritten either: the same monitors, not touched since the first deploy.
    expect(await ws.monitors()).toEqual(made);

    ws.write(`checks:\n${check('home', 3600, 3)}${check('pricing', 600)}`);
    const third = await ws.deploy();
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toBe('~ updated   home: test\n~ updated   pricing: schedule\n2 updated\n');
    const after = await ws.monitors();
    expect(after.map((m) => m.id)).toEqual(made.map((m) => m.id));
    expect(after[0]!.test).toMatchObject({ config: { iterations: 3 } });
    expect(after[1]!.schedule).toEqual({ everySeconds: 600 });
  });

  it('--prune deletes exactly the monitor the file dropped, never one made by hand', async () => {
    const ws = await workspace();
    const byHand = await ws.api('POST', '/api/monitors', {
      name: 'made by hand',
      test: { testType: 'performance', url: target.url },
      schedule: { everySeconds: 3600 },
    });
    expect(byHand.status).toBe(201);
    ws.write(`checks:\n${check('a', 3600)}${check('b', 3600)}${check('c', 3600)}`);
    expect((await ws.deploy()).code).toBe(0);
    const before = await ws.monitors();

    ws.write(`checks:\n${check('a', 3600)}${check('c', 3600)}`);
    const kept = await ws.deploy();
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('! kept      b (not in the file; --prune deletes it)\n');
    expect(await ws.monitors()).toEqual(before);

    const pruned = await ws.deploy('--prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toBe('= unchanged a\n= unchanged c\n- deleted   b\n1 deleted, 2 unchanged\n');
    const after = await ws.monitors();
    expect(after.map((m) => m.name)).toEqual(['a', 'c', 'made by hand']);
    expect(after.map((m) => m.id)).toEqual(before.filter((m) => m.name !== 'b').map((m) => m.id));
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const ws = await workspace();
    ws.write(`checks:\n${check('a', 3600)}${check('b', 3600)}`);
    expect((await ws.deploy()).code).toBe(0);
    const before = await ws.monitors();

    ws.write(`checks:\n${check('a', 1800)}${check('new', 3600)}`);
    const dry = await ws.deploy('--prune', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(
      '~ would update a: schedule\n' +
        '+ would create new (every 3600 s)\n' +
        '- would delete b\n' +
        '1 would create, 1 would update, 1 would delete (dry run: nothing was changed)\n',
    );
    expect(await ws.monitors()).toEqual(before);
  });

  it('a schedule the server refuses is one clear error line, exit 2, and nothing deployed', async () => {
    const ws = await workspace();
    // MONITOR_MIN_INTERVAL_SECONDS is 30 by default.
    ws.write(`checks:\n${check('fine', 3600)}${check('too often', 5)}`);
    const run = await ws.deploy();
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'error: INVALID_SCHEDULE: check "too often": schedule.everySeconds must be >= 30\n',
    );
    expect(await ws.monitors()).toEqual([]);

    ws.write(
      `checks:\n${check('fine', 3600)}  - name: cron\n    type: performance\n    target: ${target.url}\n    schedule: { cron: "61 * * * *" }\n`,
    );
    const cron = await ws.deploy();
    expect(cron.code).toBe(2);
    expect(cron.stderr).toMatch(/^error: INVALID_SCHEDULE: check "cron": schedule\.cron: .+\n$/);

    ws.write(
      `checks:\n  - name: x\n    type: performance\n    target: ${target.url}\n    schedule: { every: 60 }\n`,
    );
    const shape = await ws.deploy();
    expect(shape.code).toBe(2);
    expect(shape.stderr).toMatch(/^error: checks file crucible\.checks\.yaml: checks\[0\]\.schedule: .+\n$/);
    expect(await ws.monitors()).toEqual([]);
  });
});

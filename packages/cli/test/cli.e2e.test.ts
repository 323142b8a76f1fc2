import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@crucible/db/testing';
import { CLI_DIR, DroppingRelay, runCli, spawnCli, startCrucible, startTarget, tempDir } from './helpers.js';
import type { Crucible } from './helpers.js';
import { formatNumber } from '../src/summary.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F\u009B]/;

/** Every `NN% stage` line of a plain progress log, in order. */
const progressLines = (log: string) =>
  [...log.matchAll(/^\[\s*[\dhms]+\] +(\d+)% (.+?)(?:, ETA .*)?$/gm)].map((m) => ({
    percent: Number(m[1]),
    stage: m[2]!,
  }));

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[\d;?]*[A-Za-z]/g;

/** A short run in a pseudo-terminal (util-linux `script`), and everything the terminal received. */
async function inTerminal(extraEnv: Record<string, string>): Promise<string> {
  const args = [
    process.execPath,
    '--import',
    'tsx',
    join(CLI_DIR, 'src/main.ts'),
    'run',
    '--type',
    'performance',
  ];
  args.push('--target', `${target.url}?delay=200`, '--config', 'iterations=3');
  const child = spawn('script', ['-qfec', args.map((a) => `'${a}'`).join(' '), '/dev/null'], {
    cwd: CLI_DIR,
    env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env, ...extraEnv, TERM: 'xterm' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(code, out).toBe(0);
  return out;
}

/** One server and one target for the whole file: each test makes its own tests on it. */
let crucible: Crucible;
let target: Awaited<ReturnType<typeof startTarget>>;
let env: Record<string, string>;

beforeAll(async () => {
  target = await startTarget();
  crucible = await startCrucible();
  env = { CRUCIBLE_URL: crucible.url, CRUCIBLE_TOKEN: crucible.token };
}, 180_000);

afterAll(async () => {
  await crucible?.close();
  await target?.close();
});

const testCount = async () => {
  const res = await fetch(`${crucible.url}/api/test/queue/status`, {
    headers: { authorization: `Bearer ${crucible.token}` },
  });
  const { user } = (await res.json()) as { user: Record<string, number> };
  return Object.values(user).reduce((a, b) => a + b, 0);
};

describe('crucible against a real all-in-one server: exit codes 0, 1 and 2', { timeout: 120_000 }, () => {
  it('exits 0 for a passing run and prints one plain line per stage, in order, with no control characters', async () => {
    const run = await runCli(
      [
        'run',
        '--type',
        'performance',
        '--target',
        `${target.url}?delay=150`,
        '--config',
        'iterations=4',
        '--name',
        'home page',
      ],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(CONTROL.test(run.stdout + run.stderr)).toBe(false);
    const lines = progressLines(run.stderr);
    expect(lines.filter((l) => l.stage.startsWith('request')).map((l) => l.stage)).toEqual([
      'request 1/4',
      'request 2/4',
      'request 3/4',
      'request 4/4',
    ]);
    const percents = lines.map((l) => l.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(run.stdout).toMatch(
      /✔ home page: no verdict \(performance http:\/\/127\.0\.0\.1:\d+\/\?delay=150 in [\d.]+ s\)/,
    );
    expect(run.stdout).toContain(`${crucible.url}/tests/`);
  });

  it("exits 1 when the test's thresholds fail and writes JUnit and JSON that say so", async () => {
    const dir = tempDir();
    const run = await runCli(
      [
        'run',
        '--type',
        'stress',
        '--target',
        target.url,
        '--config',
        'durationSec=1',
        '--config',
        'connections=2',
        '--threshold',
        'errors.rate <= 1',
        '--threshold',
        'rps >= 100000000',
        '--json',
        join(dir, 'out.json'),
        '--junit',
        join(dir, 'out.xml'),
        '--quiet',
      ],
      { ...env, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: join(dir, 'summary.md') },
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^✗ stress http:\/\/127\.0\.0\.1:\d+\/: failed/m);
    expect(run.stdout).toMatch(
      /^::error title=Crucible%3A stress .* threshold failed::rps >= 100000000 \(actual [\d.]+\)$/m,
    );
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toMatch(/\| ❌ failed \| 1\/2 held \|/);

    const xml = readFileSync(join(dir, 'out.xml'), 'utf8');
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
    expect(doc.testsuites).toMatchObject({ tests: '2', failures: '1', errors: '0' });
    const suite = doc.testsuites.testsuite;
    expect(suite).toMatchObject({ tests: '2', failures: '1' });
    const cases = Object.fromEntries(suite.testcase.map((c: { name: string }) => [c.name, c]));
    // In the order given.
    expect(suite.testcase.map((c: { name: string }) => c.name)).toEqual([
      'errors.rate <= 1',
      'rps >= 100000000',
    ]);
    expect(cases['rps >= 100000000'].failure['#text']).toMatch(
      /^expected: rps >= 100000000\nactual: [\d.]+$/,
    );
    expect(cases['errors.rate <= 1'].failure).toBeUndefined();

    const summary = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    const schema = JSON.parse(readFileSync(join(CLI_DIR, 'schemas/summary.schema.json'), 'utf8'));
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(summary), JSON.stringify(validate.errors)).toBe(true);
    expect(summary).toMatchObject({
      schemaVersion: 1,
      exitCode: 1,
      checks: [{ type: 'stress', status: 'completed', verdict: 'failed', exitCode: 1 }],
    });
    expect(Object.keys(summary.checks[0].metrics)).toContain('latency.p95');
  });

  it('exits 2 for a threshold the server refuses, and nothing is created', async () => {
    const before = await testCount();
    const run = await runCli(
      ['run', '--type', 'stress', '--target', target.url, '--threshold', 'no.such.metric < 3'],
      env,
    );
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/^error: INVALID_THRESHOLD: .*no\.such\.metric/m);
    expect(await testCount()).toBe(before);
  });

  it('exits 2 for a bad flag, without asking the server', async () => {
    const run = await runCli(['run', '--type', 'load', '--target', target.url], {
      ...env,
      CRUCIBLE_URL: 'http://127.0.0.1:1',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("argument 'load' is invalid");
  });
});

describe('crucible against a real all-in-one server: exit codes 3, 4 and 130', { timeout: 120_000 }, () => {
  it('exits 3 when the egress guard refuses the target', async () => {
    const refused = target.url.replace('127.0.0.1', '127.0.0.2');
    const run = await runCli(['run', '--type', 'performance', '--target', refused], env);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toMatch(/TARGET_REFUSED/);
  });

  it('exits 4 for a wrong token and for an unreachable Crucible', async () => {
    const wrong = await runCli(['run', '--type', 'performance', '--target', target.url], {
      ...env,
      CRUCIBLE_TOKEN: 'not-a-key',
    });
    expect(wrong.code).toBe(4);
    expect(wrong.stdout).toMatch(/refused the token \(401/);
    const port = await freePort();
    const down = await runCli(['list', '--url', `http://127.0.0.1:${port}`], env);
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(/Crucible is unreachable at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('Ctrl-C cancels the test on the server and exits 130', async () => {
    const run = spawnCli(
      ['run', '--type', 'performance', '--target', `${target.url}?delay=20000`, '--config', 'iterations=3'],
      env,
    );
    await run.waitFor(/running/);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(130);
    const list = await runCli(['list', '--json', '--limit', '1'], env);
    const [latest] = JSON.parse(list.stdout).items;
    expect(latest).toMatchObject({ url: `${target.url}?delay=20000`, status: 'cancelled' });
    expect(run.stderr()).toContain('interrupted: cancelling 1 test(s)');
  });
});

describe(
  'crucible against a real all-in-one server: progress, reports and checks files',
  { timeout: 120_000 },
  () => {
    it('runs a YAML checks file: three checks, one failing → exit 1 and three suites; --grep picks by name', async () => {
      const dir = tempDir();
      const file = join(dir, 'crucible.checks.yaml');
      writeFileSync(
        file,
        [
          'checks:',
          '  - name: home',
          '    type: performance',
          `    target: ${target.url}`,
          '    config: { iterations: 2 }',
          '  - name: api health',
          '    type: api',
          `    target: ${target.url}`,
          '    config:',
          '      steps: [{ name: status, path: /, assert: { status: 200 } }]',
          '  - name: missing page',
          '    type: api',
          `    target: ${target.url}`,
          '    config:',
          '      steps: [{ name: status, path: /404, assert: { status: 200 } }]',
          '',
        ].join('\n'),
      );
      const run = await runCli(
        ['test', '--file', file, '--junit', join(dir, 'out.xml'), '--concurrency', '2'],
        env,
      );
      expect(run.code, run.stderr + run.stdout).toBe(1);
      expect(CONTROL.test(run.stdout + run.stderr)).toBe(false);
      expect(run.stderr).toMatch(/^\[\s*\S+\] home: /m);
      expect(run.stdout).toContain('2 of 3 checks passed');
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
        readFileSync(join(dir, 'out.xml'), 'utf8'),
      );
      expect(
        doc.testsuites.testsuite.map((s: { name: string; failures: string }) => [s.name, s.failures]),
      ).toEqual([
        ['home', '0'],
        ['api health', '0'],
        ['missing page', '1'],
      ]);
      const picked = await runCli(['test', '--file', file, '--grep', '^home$', '--quiet'], env);
      expect(picked.code).toBe(0);
      expect(picked.stdout).toContain('✔ home: no verdict');
      expect(picked.stdout).not.toContain('api health');
    });

    it('resumes after the WebSocket is cut mid-run and still prints every stage once', async () => {
      const relay = new DroppingRelay(crucible.port);
      const relayPort = await relay.listen();
      try {
        const run = spawnCli(
          [
            'run',
            '--type',
            'performance',
            '--target',
            `${target.url}?delay=400`,
            '--config',
            'iterations=8',
            '--ws-url',
            `ws://127.0.0.1:${relayPort}/ws`,
          ],
          env,
        );
        await run.waitFor(/request 2\/8/);
        relay.drop();
        await run.waitFor(/connection lost/);
        await new Promise((r) => setTimeout(r, 800));
        relay.resume();
        expect(await run.exit, run.stderr()).toBe(0);
        expect(run.stderr()).toMatch(/connection back, resuming after message \d+/);
        expect(relay.accepted).toBeGreaterThanOrEqual(2);
        const stages = progressLines(run.stderr())
          .map((l) => l.stage)
          .filter((s) => s.startsWith('request'));
        expect(stages).toEqual(Array.from({ length: 8 }, (_, i) => `request ${i + 1}/8`));
      } finally {
        await relay.close();
      }
    });

    it('draws a live bar in a terminal (a pseudo-terminal from script) and ends with the summary', async () => {
      const out = await inTerminal({});
      // Colour (cyan bar, bold name) and cursor control.
      expect(out).toContain('\u001b[36m');
      // The bar redraws in place (at most 10 times a second, so not every stage need be drawn).
      expect(out).toMatch(/\d+% \| request \d\/3 \| /);
      expect(out.split('\u001b[1G').length).toBeGreaterThan(3);
      expect(out).toMatch(/ETA \d+s/);
      expect(out.replace(SGR, '')).toMatch(
        /✔ performance http:\/\/127\.0\.0\.1:\d+\/\?delay=200: no verdict/,
      );
    });

    it('NO_COLOR: the same bar and summary in a terminal, without a colour', async () => {
      const out = await inTerminal({ NO_COLOR: '1' });
      expect(out.split('\u001b[1G').length).toBeGreaterThan(3);
      // eslint-disable-next-line no-control-regex
      expect(out.match(/\u001b\[[\d;]*m/g)).toBeNull();
      expect(out).toMatch(/✔ performance http:\/\/127\.0\.0\.1:\d+\/\?delay=200: no verdict/);
    });
  },
);

describe(
  'crucible against a real all-in-one server: --timeout, show, cancel and retry',
  { timeout: 120_000 },
  () => {
    it('exits 3 when --timeout runs out, and the test is cancelled on the server', async () => {
      const run = await runCli(
        [
          'run',
          '--type',
          'performance',
          '--target',
          `${target.url}?delay=20001`,
          '--timeout',
          '2s',
          '--json',
          join(tempDir(), 'out.json'),
        ],
        env,
      );
      expect(run.code, run.stderr).toBe(3);
      expect(run.stdout).toMatch(/the test did not finish within 2 s: cancelled/);
      const id = /\/tests\/([0-9a-f-]{36})/.exec(run.stdout)![1]!;
      const show = await runCli(['show', id, '--json'], env);
      expect(JSON.parse(show.stdout)).toMatchObject({ testId: id, status: 'cancelled' });
    });

    it('cancel, retry and show a test by its id', async () => {
      const started = spawnCli(
        ['run', '--type', 'performance', '--target', `${target.url}?delay=20002`, '--quiet'],
        env,
      );
      const list = async () =>
        JSON.parse((await runCli(['list', '--json', '--status', 'running'], env)).stdout).items as {
          testId: string;
          url: string;
        }[];
      let id: string | undefined;
      for (let i = 0; i < 100 && !id; i++) {
        id = (await list()).find((t) => t.url.endsWith('delay=20002'))?.testId;
        if (!id) await new Promise((r) => setTimeout(r, 100));
      }
      expect(id).toBeDefined();
      const cancelled = await runCli(['cancel', id!], env);
      expect(cancelled).toMatchObject({ code: 0, stdout: `${id} cancelled\n` });
      // The run that was following it sees the end: no result.
      expect(await started.exit).toBe(3);
      expect(started.stdout()).toMatch(/■ performance .*: cancelled/);

      const again = await runCli(['cancel', id!], env);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/^error: TEST_FINISHED: /m);

      const retried = await runCli(['retry', id!], env);
      expect(retried.code, retried.stderr).toBe(0);
      expect(retried.stdout).toMatch(new RegExp(`^${id} queued`));
      expect((await runCli(['cancel', id!], env)).code).toBe(0);

      const shown = await runCli(['show', id!], { ...env, NO_COLOR: '1' });
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain(`${crucible.url}/tests/${id}`);
      const missing = await runCli(['show', '00000000-0000-4000-8000-000000000000'], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/NOT_FOUND/);
    });
  },
);

describe('crucible run with repeated runs and a baseline (#21)', { timeout: 120_000 }, () => {
  it('--runs 3: every metric is the median of three runs, with their spread in the summary and the JSON', async () => {
    const dir = tempDir();
    const run = await runCli(
      [
        'run',
        '--type',
        'performance',
        '--target',
        `${target.url}?delay=60`,
        '--config',
        'iterations=2',
        '--runs',
        '3',
        '--threshold',
        'total.median >= 60',
        '--json',
        join(dir, 'out.json'),
      ],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    // Progress covers all three runs, in order.
    const runs = progressLines(run.stderr).map((l) => /^run (\d)\/3: /.exec(l.stage)?.[1]);
    expect([...new Set(runs.filter(Boolean))]).toEqual(['1', '2', '3']);

    const summary = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    const schema = JSON.parse(readFileSync(join(CLI_DIR, 'schemas/summary.schema.json'), 'utf8'));
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(summary), JSON.stringify(validate.errors)).toBe(true);
    const check = summary.checks[0];
    expect(check).toMatchObject({ status: 'completed', verdict: 'passed', exitCode: 0 });
    for (const name of ['ttfb.median', 'total.median', 'errors.count']) {
      const { value, runs: spread } = check.metrics[name];
      expect(spread.samples, name).toHaveLength(3);
      const sorted = [...spread.samples].sort((a: number, b: number) => a - b);
      expect({ value, median: spread.median, min: spread.min, max: spread.max }, name).toEqual({
        value: sorted[1],
        median: sorted[1],
        min: sorted[0],
        max: sorted[2],
      });
      // The summary's metrics table: the median, then how far apart the runs were.
      const cells = [name, formatNumber(value), check.metrics[name].unit].map(escape).join(' +');
      const range = `min ${formatNumber(spread.min)}, max ${formatNumber(spread.max)}`;
      expect(run.stdout, name).toMatch(new RegExp(`^ +${cells} +median of 3 runs, ${escape(range)}$`, 'm'));
    }
    // Each run waited for the target's 60 ms delay at least.
    expect(check.metrics['total.median'].runs.min).toBeGreaterThanOrEqual(60);
    expect(check.metrics['errors.count'].runs.samples).toEqual([0, 0, 0]);
    expect(check.thresholds).toEqual([
      {
        expression: 'total.median >= 60',
        metric: 'total.median',
        op: '>=',
        limit: 60,
        actual: check.metrics['total.median'].value,
        passed: true,
      },
    ]);
  });

  it('--baseline previous --fail-on-regression: a target made 10× slower regresses, exits 1 and says so in JSON and JUnit', async () => {
    // A site of its own: "previous" is the caller's latest test of this type and URL.
    const site = await startTarget();
    try {
      const args = [
        'run',
        '--type',
        'performance',
        '--target',
        site.url,
        '--config',
        'iterations=2',
        '--runs',
        '5',
      ];
      site.setDelay(20);
      const before = await runCli([...args, '--quiet'], env);
      expect(before.code, before.stderr).toBe(0);

      site.setDelay(200);
      const dir = tempDir();
      const run = await runCli(
        [
          ...args,
          '--baseline',
          'previous',
          '--fail-on-regression',
          '--json',
          join(dir, 'out.json'),
          '--junit',
          join(dir, 'out.xml'),
        ],
        env,
      );
      expect(run.code, run.stderr + run.stdout).toBe(1);
      expect(run.stdout).toMatch(/^✗ performance http:\/\/127\.0\.0\.1:\d+\/: failed/m);
      expect(run.stdout).toMatch(/compared with the baseline/);
      expect(run.stdout).toMatch(/^ +total\.median +[\d.]+ → [\d.]+ +\+[\d.]+ % +regressed/m);

      const summary = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
      const schema = JSON.parse(readFileSync(join(CLI_DIR, 'schemas/summary.schema.json'), 'utf8'));
      const validate = new Ajv({ strict: false }).compile(schema);
      expect(validate(summary), JSON.stringify(validate.errors)).toBe(true);
      const check = summary.checks[0];
      expect(check).toMatchObject({ status: 'completed', verdict: 'failed', exitCode: 1 });
      const byMetric = Object.fromEntries(check.comparison.map((c: { metric: string }) => [c.metric, c]));
      for (const metric of ['ttfb.median', 'total.median']) {
        expect(byMetric[metric], metric).toMatchObject({ verdict: 'regressed' });
        // Each side's median: 20 ms and 200 ms of delay at least.
        expect(byMetric[metric].baseline).toBeGreaterThanOrEqual(20);
        expect(byMetric[metric].current).toBeGreaterThanOrEqual(200);
        expect(byMetric[metric].current).toBe(check.metrics[metric].value);
      }
      expect(byMetric['errors.count']?.verdict ?? 'unchanged').toBe('unchanged');

      const xml = readFileSync(join(dir, 'out.xml'), 'utf8');
      expect(XMLValidator.validate(xml)).toBe(true);
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
      const cases = [doc.testsuites.testsuite.testcase].flat() as {
        name: string;
        failure?: { type: string; '#text': string };
      }[];
      const regressed = check.comparison
        .filter((c: { verdict: string }) => c.verdict === 'regressed')
        .map((c: { metric: string }) => `${c.metric} regression`);
      expect(cases.map((c) => c.name)).toEqual(regressed);
      expect(doc.testsuites).toMatchObject({
        tests: String(regressed.length),
        failures: String(regressed.length),
      });
      const total = cases.find((c) => c.name === 'total.median regression')!;
      expect(total.failure).toMatchObject({ type: 'regression' });
      expect(total.failure!['#text']).toMatch(/^baseline: [\d.]+\ncurrent: [\d.]+\nchange: [\d.]+ %$/);
    } finally {
      await site.close();
    }
  });
});

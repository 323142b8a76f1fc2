import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;
interface Change {
  codeKey: string;
  action: string;
  id: string | null;
  name: string;
  changed: string[];
}
interface Monitor {
  id: string;
  name: string;
  codeKey: string | null;
  enabled: boolean;
  schedule: object;
  updatedAt: string;
}

/** Monitors as code (issue 23): `POST /api/monitors/deploy`, what `crucible deploy` sends. */
describe('POST /api/monitors/deploy', () => {
  let api: Api;
  let site: Awaited<ReturnType<typeof startTarget>>;

  beforeAll(async () => {
    api = await startApi({ monitorMinIntervalSeconds: 30 });
    site = await startTarget();
  });

  afterAll(async () => {
    await api.close();
    await site.close();
  });

  const user = () => register(api, `deploy-${randomUUID()}@example.test`);
  const call = (u: User, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    api.app.inject({ method, url, headers: auth(u.token), ...(payload ? { payload } : {}) });
  const deploy = async (u: User, body: object) => {
    const res = await call(u, 'POST', '/api/monitors/deploy', body);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { dryRun: boolean; changes: Change[] };
  };
  const monitors = async (u: User) =>
    ((await call(u, 'GET', '/api/monitors')).json() as { items: Monitor[] }).items;
  const actions = (r: { changes: Change[] }) => r.changes.map((c) => [c.codeKey, c.action, c.changed]);

  // Hours apart: nothing runs during the test.
  const check = (codeKey: string, extra: object = {}) => ({
    codeKey,
    name: codeKey,
    test: { testType: 'performance', url: site.url, config: { iterations: 2 } },
    schedule: { everySeconds: 3600 },
    ...extra,
  });

  it('creates, then changes nothing on the same request, then updates only what differs', async () => {
    const alice = await user();
    const file = [
      check('home'),
      check('judged', {
        test: {
          testType: 'performance',
          url: `${site.url}?a=1#frag`,
          thresholds: ['ttfb.median < 200', 'total.median <= 900'],
          runs: 3,
          baseline: 'previous',
          failOnRegression: true,
          priority: 7,
        },
      }),
      check('pricing', { schedule: { cron: '0 9 * * 1', timezone: 'Europe/Paris' } }),
    ];
    const first = await deploy(alice, { monitors: file });
    expect(actions(first)).toEqual([
      ['home', 'create', []],
      ['judged', 'create', []],
      ['pricing', 'create', []],
    ]);
    const made = await monitors(alice);
    expect(made.map((m) => [m.name, m.codeKey, m.enabled])).toEqual([
      ['home', 'home', true],
      ['judged', 'judged', true],
      ['pricing', 'pricing', true],
    ]);

    // Thresholds, runs, a baseline, a URL the API normalises, the config's defaults it fills: all
    // compared as stored, so the same request is no change.
    const second = await deploy(alice, { monitors: file });
    expect(actions(second)).toEqual([
      ['home', 'unchanged', []],
      ['judged', 'unchanged', []],
      ['pricing', 'unchanged', []],
    ]);
    expect(second.changes.map((c) => c.id)).toEqual(made.map((m) => m.id));
    // Not even written: an unchanged monitor keeps its updatedAt.
    expect((await monitors(alice)).map((m) => m.updatedAt)).toEqual(made.map((m) => m.updatedAt));

    const edited = [
      check('home', { test: { testType: 'performance', url: site.url, config: { iterations: 3 } } }),
      file[1]!,
      check('pricing', { name: 'Pricing page', schedule: { everySeconds: 600 } }),
    ];
    expect(actions(await deploy(alice, { monitors: edited }))).toEqual([
      ['home', 'update', ['test']],
      ['judged', 'unchanged', []],
      ['pricing', 'update', ['name', 'schedule']],
    ]);
    const after = await monitors(alice);
    expect(after.find((m) => m.codeKey === 'pricing')).toMatchObject({
      name: 'Pricing page',
      schedule: { everySeconds: 600 },
    });
    expect(actions(await deploy(alice, { monitors: edited }))).toEqual([
      ['home', 'unchanged', []],
      ['judged', 'unchanged', []],
      ['pricing', 'unchanged', []],
    ]);
  });

  it('prunes only monitors made as code that the request drops, never one made by hand or another workspace’s', async () => {
    const [alice, bob] = [await user(), await user()];
    const byHand = await call(alice, 'POST', '/api/monitors', {
      name: 'by hand',
      test: { testType: 'performance', url: site.url },
      schedule: { everySeconds: 3600 },
    });
    expect(byHand.statusCode, byHand.body).toBe(201);
    await deploy(alice, { monitors: [check('a'), check('b'), check('c')] });
    await deploy(bob, { monitors: [check('b')] });

    const kept = await deploy(alice, { monitors: [check('a'), check('c')] });
    expect(actions(kept)).toEqual([
      ['a', 'unchanged', []],
      ['c', 'unchanged', []],
      ['b', 'kept', []],
    ]);
    expect((await monitors(alice)).map((m) => m.name)).toEqual(['a', 'b', 'by hand', 'c']);

    const dry = await deploy(alice, { monitors: [check('a'), check('c')], prune: true, dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(actions(dry)).toEqual([
      ['a', 'unchanged', []],
      ['c', 'unchanged', []],
      ['b', 'delete', []],
    ]);
    expect((await monitors(alice)).map((m) => m.name)).toEqual(['a', 'b', 'by hand', 'c']);

    const pruned = await deploy(alice, { monitors: [check('a'), check('c')], prune: true });
    expect(actions(pruned)).toEqual([
      ['a', 'unchanged', []],
      ['c', 'unchanged', []],
      ['b', 'delete', []],
    ]);
    expect((await monitors(alice)).map((m) => m.name)).toEqual(['a', 'by hand', 'c']);
    expect((await monitors(bob)).map((m) => m.codeKey)).toEqual(['b']);
  });

  it('deploys of one file at once make one monitor; a losing create is 409 CODE_KEY_TAKEN, never a 500', async () => {
    const alice = await user();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        call(alice, 'POST', '/api/monitors/deploy', { monitors: [check('raced')] }),
      ),
    );
    for (const res of answers) {
      if (res.statusCode !== 200)
        expect(res.json(), res.body).toMatchObject({ status: 409, code: 'CODE_KEY_TAKEN' });
    }
    expect(answers.some((res) => res.statusCode === 200)).toBe(true);
    expect((await monitors(alice)).map((m) => m.codeKey)).toEqual(['raced']);
  });

  it('a dry run creates nothing and says what it would', async () => {
    const alice = await user();
    const dry = await deploy(alice, { monitors: [check('new')], dryRun: true });
    expect(dry.changes).toEqual([{ codeKey: 'new', action: 'create', id: null, name: 'new', changed: [] }]);
    expect(await monitors(alice)).toEqual([]);
  });

  it('leaves enabled alone unless the request says it, and pauses when it does', async () => {
    const alice = await user();
    const [{ id }] = (await deploy(alice, { monitors: [check('x')] })).changes as [Change];
    expect((await call(alice, 'PATCH', `/api/monitors/${id}`, { enabled: false })).statusCode).toBe(200);
    expect(actions(await deploy(alice, { monitors: [check('x')] }))).toEqual([['x', 'unchanged', []]]);
    expect(actions(await deploy(alice, { monitors: [check('x', { enabled: true })] }))).toEqual([
      ['x', 'update', ['enabled']],
    ]);
    expect((await monitors(alice))[0]).toMatchObject({ enabled: true });
  });

  it('checks every monitor before changing any, and names the check that is wrong', async () => {
    const alice = await user();
    const res = await call(alice, 'POST', '/api/monitors/deploy', {
      monitors: [check('fine'), check('too often', { schedule: { everySeconds: 5 } })],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_SCHEDULE' });
    expect(res.json().detail).toMatch(/^check "too often": schedule\.everySeconds/);
    expect(await monitors(alice)).toEqual([]);

    const badConfig = await call(alice, 'POST', '/api/monitors/deploy', {
      monitors: [
        check('bad', { test: { testType: 'performance', url: site.url, config: { iterations: 0 } } }),
      ],
    });
    expect(badConfig.statusCode).toBe(400);
    expect(badConfig.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      detail: 'body.monitors.0.test.config.iterations must be >= 1',
    });
    const badThreshold = await call(alice, 'POST', '/api/monitors/deploy', {
      monitors: [
        check('fine'),
        check('bad', { test: { testType: 'performance', url: site.url, thresholds: ['nope.p95 < 3'] } }),
      ],
    });
    expect(badThreshold.statusCode).toBe(400);
    expect(badThreshold.json().code).toBe('INVALID_THRESHOLD');
    expect(badThreshold.json().detail).toMatch(/^check "bad": /);

    const twice = await call(alice, 'POST', '/api/monitors/deploy', {
      monitors: [check('same'), check('same')],
    });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().code).toBe('DUPLICATE_CODE_KEY');
    expect(await monitors(alice)).toEqual([]);
  });
});

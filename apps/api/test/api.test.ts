import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from './helpers.js';

type Api = Awaited<ReturnType<typeof startApi>>;

describe('api', () => {
  let api: Api;
  let admin: { token: string; id: string };
  let alice: { token: string; id: string };
  let bob: { token: string; id: string };

  async function register(email: string) {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password: 'correct horse battery' },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    return { token: body.token as string, id: body.user.id as string, role: body.user.role as string };
  }

  beforeAll(async () => {
    api = await startApi();
    const a = await register('Admin@Example.com');
    expect(a.role).toBe('admin');
    admin = a;
    const b = await register('alice@example.com');
    expect(b.role).toBe('user');
    alice = b;
    bob = await register('bob@example.com');
  });
  afterAll(async () => {
    await api?.close();
  });

  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  it('refuses a duplicate email with 409 problem+json', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'alice@example.com', password: 'another password' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 409, code: 'EMAIL_TAKEN', title: 'Conflict' });
  });

  it('refuses short and easily guessed passwords with 400 WEAK_PASSWORD saying why', async () => {
    const attempt = (password: string) =>
      api.app.inject({
        method: 'POST',
        url: '/api/auth/register',
        payload: { email: 'weak@example.com', password },
      });
    const short = await attempt('aaaaaaaa');
    expect(short.statusCode).toBe(400);
    expect(short.headers['content-type']).toContain('application/problem+json');
    expect(short.json()).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: 'WEAK_PASSWORD',
      detail:
        'A password needs at least 12 characters (this one has 8); a few unrelated words make a good one.',
    });
    expect((await attempt('password123')).json().code).toBe('WEAK_PASSWORD');
    const common = await attempt('Password1234!');
    expect(common.statusCode).toBe(400);
    expect(common.json().detail).toBe(
      'This password is too easy to guess: This is similar to a commonly used password. Choose another; a few unrelated words make a good one.',
    );
    const own = await attempt('weak@example.com');
    expect(own.json().code).toBe('WEAK_PASSWORD');
    // Nothing was created: the address is still free.
    expect((await attempt('correct horse battery staple')).statusCode).toBe(201);
  });

  it('logs in with the right password only, case-insensitive email', async () => {
    const ok = await api.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'ALICE@example.com', password: 'correct horse battery' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user).toMatchObject({ email: 'alice@example.com', role: 'user' });
    const bad = await api.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'alice@example.com', password: 'wrong password' },
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().code).toBe('INVALID_CREDENTIALS');
    const unknown = await api.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'nobody@example.com', password: 'wrong password' },
    });
    expect(unknown.statusCode).toBe(401);
  });

  it('issues single-use WebSocket tickets to signed-in users only', async () => {
    const anonymous = await api.app.inject({ method: 'POST', url: '/api/auth/ws-ticket' });
    expect(anonymous.statusCode).toBe(401);
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/ws-ticket',
      headers: auth(alice.token),
    });
    expect(res.statusCode).toBe(201);
    const { ticket, expiresInMs } = res.json();
    expect(ticket).toMatch(/^wst_[A-Za-z0-9_-]{43}$/);
    expect(expiresInMs).toBe(30_000);
    // The API keeps only the ticket's hash; the gateway consumes it exactly once.
    const keys: string[] = [];
    for await (const batch of api.redis.scanStream({ match: `${api.prefix}:ws-ticket:*` }))
      keys.push(...batch);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(ticket);
    // The ticket names the session it was bought with: signing that out closes the socket.
    const { sid } = JSON.parse(Buffer.from(alice.token.split('.')[1]!, 'base64url').toString());
    expect(await api.tickets.consume(ticket)).toEqual({
      userId: alice.id,
      email: 'alice@example.com',
      role: 'user',
      sessionId: sid,
    });
    expect(await api.tickets.consume(ticket)).toBeUndefined();
  });

  it('validates bodies with a clear problem', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'not-an-email', password: 'x' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR', status: 400 });
  });

  it('answers 401 without credentials and /me with them', async () => {
    const none = await api.app.inject({ method: 'GET', url: '/api/auth/me' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toContain('application/problem+json');
    const forged = await api.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: auth(`${alice.token}x`),
    });
    expect(forged.statusCode).toBe(401);
    const me = await api.app.inject({ method: 'GET', url: '/api/auth/me', headers: auth(alice.token) });
    expect(me.json()).toEqual({ id: alice.id, email: 'alice@example.com', role: 'user' });
  });

  it('creates an API key shown once, stored hashed, usable and revocable', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: auth(alice.token),
      payload: { name: 'ci' },
    });
    expect(created.statusCode).toBe(201);
    const { id, key } = created.json();
    expect(key).toMatch(/^crk_/);
    const row = await api.db.kysely
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.key_hash).not.toContain(key);
    expect(row.key_hash).toHaveLength(64);

    const list = await api.app.inject({
      method: 'GET',
      url: '/api/auth/api-keys',
      headers: auth(alice.token),
    });
    expect(list.json()).toHaveLength(1);
    expect(JSON.stringify(list.json())).not.toContain(key);

    const viaKey = await api.app.inject({ method: 'GET', url: '/api/auth/me', headers: auth(key) });
    expect(viaKey.json().id).toBe(alice.id);

    const bobRevokes = await api.app.inject({
      method: 'DELETE',
      url: `/api/auth/api-keys/${id}`,
      headers: auth(bob.token),
    });
    expect(bobRevokes.statusCode).toBe(404);
    const revoked = await api.app.inject({
      method: 'DELETE',
      url: `/api/auth/api-keys/${id}`,
      headers: auth(alice.token),
    });
    expect(revoked.statusCode).toBe(204);
    const after = await api.app.inject({ method: 'GET', url: '/api/auth/me', headers: auth(key) });
    expect(after.statusCode).toBe(401);
  });

  it('accepts a test: row, queue:job:added event, then a BullMQ job with jobId = testId and mapped priority', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: auth(alice.token),
      payload: {
        testType: 'performance',
        url: 'http://127.0.0.1:8080/',
        priority: 10,
        name: 'home',
        config: { iterations: 2 },
      },
    });
    expect(res.statusCode).toBe(202);
    const { testId, status, queuePosition } = res.json();
    expect(status).toBe('queued');
    expect(queuePosition).toBe(1);

    // It waits for a free worker slot: no job until a dispatcher releases it.
    expect(await api.queue.getJobState(testId)).toBe('unknown');

    const history = await api.eventLog.recover(`job-status-${testId}`, 0);
    expect(history.messages.map((m) => m.event)).toEqual(['queue:job:added']);
    expect(history.messages[0]).toMatchObject({ offset: 1, userId: alice.id, data: { queuePosition: 1 } });

    const second = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: auth(alice.token),
      payload: { testType: 'performance', url: 'http://127.0.0.1:8080/', priority: 1 },
    });
    expect(second.json().queuePosition).toBe(2);
    const third = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: auth(bob.token),
      payload: { testType: 'performance', url: 'http://127.0.0.1:8080/', priority: 9 },
    });
    expect(third.json().queuePosition).toBe(2);

    const detail = await api.app.inject({
      method: 'GET',
      url: `/api/test/queue/jobs/${testId}`,
      headers: auth(alice.token),
    });
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({
      testId,
      testType: 'performance',
      url: 'http://127.0.0.1:8080/',
      name: 'home',
      status: 'queued',
      priority: 10,
      progress: 0,
      retryCount: 0,
      config: { iterations: 2 },
      result: null,
      errorMessage: null,
      startedAt: null,
      completedAt: null,
    });

    const asBob = await api.app.inject({
      method: 'GET',
      url: `/api/test/queue/jobs/${testId}`,
      headers: auth(bob.token),
    });
    expect(asBob.statusCode).toBe(404);
    const missing = await api.app.inject({
      method: 'GET',
      url: `/api/test/queue/jobs/00000000-0000-4000-8000-000000000000`,
      headers: auth(bob.token),
    });
    expect(missing.statusCode).toBe(404);
    expect(asBob.json()).toEqual(missing.json());
    const asAdmin = await api.app.inject({
      method: 'GET',
      url: `/api/test/queue/jobs/${testId}`,
      headers: auth(admin.token),
    });
    expect(asAdmin.statusCode).toBe(200);

    // A worker's one slot: its dispatcher releases the highest priority test, with its job's options.
    await api.startWorker({
      concurrency: 1,
      dispatchAnnounceGraceMs: 0,
      engines: {
        performance: (_url, _config, ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      },
      drainTimeoutMs: 100,
    });
    await expect.poll(() => api.queue.getJobState(testId), { timeout: 10_000 }).toBe('active');
    const job = await api.queue.getJob(testId);
    expect(job?.id).toBe(testId);
    expect(job?.opts.priority).toBe(1);
    expect(job?.opts.attempts).toBe(3);
    expect(job?.data).toMatchObject({
      testId,
      testType: 'performance',
      userId: alice.id,
      config: { iterations: 2, timeoutMs: 15000 },
    });
    const counts = await api.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    expect(counts).toMatchObject({ waiting: 0, prioritized: 0, active: 1, delayed: 0 });
  });

  it('refuses bad test submissions with 400 and writes nothing', async () => {
    const before = await api.db.kysely
      .selectFrom('test_queue')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    const cases = [
      { testType: 'performance', url: 'ftp://example.com/' },
      { testType: 'performance', url: 'not a url' },
      { testType: 'performance', url: 'http://user:pw@127.0.0.1/' },
      { testType: 'performance', url: 'http://127.0.0.1/', config: { iterations: 50 } },
      { testType: 'performance', url: 'http://127.0.0.1/', config: { unknown: true } },
      { testType: 'nope', url: 'http://127.0.0.1/' },
      { testType: 'performance', url: 'http://127.0.0.1/', priority: 11 },
    ];
    for (const payload of cases) {
      const res = await api.app.inject({
        method: 'POST',
        url: '/api/test/run',
        headers: auth(alice.token),
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const after = await api.db.kysely
      .selectFrom('test_queue')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('refuses a target the egress guard would refuse, naming why, and writes nothing', async () => {
    const cases: [string, string, string][] = [
      [
        'http://169.254.169.254/latest/meta-data/',
        'TARGET_REFUSED',
        'target refused: 169.254.169.254 is a linkLocal address',
      ],
      ['http://0x7f000002:8080/', 'TARGET_REFUSED', 'target refused: 127.0.0.2 is a loopback address'],
      ['http://[::ffff:10.0.0.1]/', 'TARGET_REFUSED', 'target refused: 10.0.0.1 is a private address'],
      [
        'http://metadata.google.internal/',
        'TARGET_REFUSED',
        'target refused: metadata.google.internal is a local or metadata host name',
      ],
      ['http://example.com:25/', 'INVALID_URL', 'url: port 25 is not a web port and cannot be tested'],
    ];
    for (const [url, code, detail] of cases) {
      const res = await api.app.inject({
        method: 'POST',
        url: '/api/test/run',
        headers: auth(alice.token),
        payload: { testType: 'performance', url },
      });
      expect({ url, status: res.statusCode, code: res.json().code, detail: res.json().detail }).toEqual({
        url,
        status: 400,
        code,
        detail,
      });
    }
    const rows = await api.db.kysely.selectFrom('test_queue').select('url').execute();
    expect(rows.filter((r) => cases.some(([url]) => r.url === url))).toEqual([]);
  });

  it('serves health, readiness and metrics', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    const ready = await api.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: true, migrations: true, redis: true } });
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
  });

  it('answers unknown routes with problem+json 404', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/api/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ROUTE_NOT_FOUND');
  });
});

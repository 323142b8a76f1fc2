import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from './helpers.js';

describe('admin routes', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  let admin: string;
  let alice: string;

  const register = async (email: string) => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password: 'a long enough password' },
    });
    expect(res.statusCode).toBe(201);
    return res.json().token as string;
  };

  beforeAll(async () => {
    api = await startApi();
    admin = await register('root@example.com');
    alice = await register('alice@example.com');
  });
  afterAll(async () => api?.close());

  it('lists users, newest first and without secrets, to an admin only', async () => {
    const asAdmin = await api.app.inject({
      method: 'GET',
      url: '/api/admin/users',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(asAdmin.statusCode).toBe(200);
    const body = asAdmin.json();
    expect(body.total).toBe(2);
    expect(body.items.map((u: { email: string; role: string }) => [u.email, u.role])).toEqual([
      ['alice@example.com', 'user'],
      ['root@example.com', 'admin'],
    ]);
    expect(JSON.stringify(body)).not.toContain('password');

    const asAlice = await api.app.inject({
      method: 'GET',
      url: '/api/admin/users',
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(asAlice.statusCode).toBe(403);
    expect(asAlice.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await api.app.inject({ method: 'GET', url: '/api/admin/users' })).statusCode).toBe(401);
  });

  it('announces platform maintenance to every signed-in user, and its end, from an admin only', async () => {
    const as = (token: string, method: 'GET' | 'POST' | 'DELETE', payload?: object) =>
      api.app.inject({
        method,
        url: '/api/admin/maintenance',
        headers: { authorization: `Bearer ${token}` },
        ...(payload ? { payload } : {}),
      });
    const announced = async () =>
      (await api.eventLog.recover('system-maintenance', 0)).messages.map((m) => [m.event, m.data]);

    expect((await as(admin, 'GET')).json()).toEqual({ maintenance: null });
    expect((await as(alice, 'POST', { message: 'mine now' })).statusCode).toBe(403);
    expect(await announced()).toEqual([]);

    const started = await as(admin, 'POST', { message: 'Database upgrade', until: '2030-01-01T02:00:00Z' });
    expect(started.statusCode, started.body).toBe(200);
    const m = started.json().maintenance;
    expect(m).toMatchObject({ message: 'Database upgrade', until: '2030-01-01T02:00:00.000Z' });
    // Said again with news: the same maintenance, announced again.
    const again = (await as(admin, 'POST', { message: 'Database upgrade, running late' })).json().maintenance;
    expect(again).toEqual({ ...m, message: 'Database upgrade, running late', until: null });
    expect((await as(admin, 'GET')).json().maintenance).toEqual(again);

    expect((await as(admin, 'DELETE')).json()).toEqual({ maintenance: null });
    // Ending what is not under way announces nothing.
    expect((await as(admin, 'DELETE')).statusCode).toBe(200);
    expect((await as(alice, 'DELETE')).statusCode).toBe(403);
    const events = await announced();
    expect(events.map(([event]) => event)).toEqual([
      'system:maintenance:start',
      'system:maintenance:start',
      'system:maintenance:end',
    ]);
    expect(events[0]![1]).toEqual({
      id: m.id,
      message: 'Database upgrade',
      startedAt: m.startedAt,
      until: m.until,
    });
    expect(events[2]![1]).toMatchObject({ id: m.id });
  });
});

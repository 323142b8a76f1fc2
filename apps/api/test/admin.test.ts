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
});

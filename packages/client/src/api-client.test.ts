import { describe, expect, it } from 'vitest';
import { ApiClient, ApiError, routePath } from './api-client.js';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function recordingFetch(response: () => Response) {
  const seen: Seen[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    seen.push({
      url,
      method: init.method ?? 'GET',
      headers: init.headers as Record<string, string>,
      body: init.body as string | undefined,
    });
    return response();
  }) as unknown as typeof fetch;
  return { seen, fetchFn };
}

const json = (status: number, body: unknown, type = 'application/json') =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });

describe('routePath', () => {
  it('fills and encodes parameters, and names a missing one', () => {
    expect(routePath('/api/test/queue/jobs/:jobId', { jobId: 'a b/c' })).toBe(
      '/api/test/queue/jobs/a%20b%2Fc',
    );
    expect(() => routePath('/api/auth/api-keys/:id', {})).toThrow(
      '/api/auth/api-keys/:id: parameter id is missing',
    );
  });
});

describe('ApiClient', () => {
  it('sends the route method, path, bearer token and JSON body from the route table', async () => {
    const { seen, fetchFn } = recordingFetch(() =>
      json(202, { testId: 't1', status: 'queued', queuePosition: 3 }),
    );
    const client = new ApiClient({ baseUrl: 'http://api.local', token: () => 'tok', fetch: fetchFn });

    const accepted = await client.call('runTest', {
      headers: { 'idempotency-key': 'k-1' },
      body: { testType: 'seo', url: 'https://example.com/', priority: 7 },
    });

    expect(accepted).toEqual({ testId: 't1', status: 'queued', queuePosition: 3 });
    expect(seen).toEqual([
      {
        url: 'http://api.local/api/test/run',
        method: 'POST',
        headers: {
          accept: 'application/json',
          authorization: 'Bearer tok',
          'content-type': 'application/json',
          'idempotency-key': 'k-1',
        },
        body: JSON.stringify({ testType: 'seo', url: 'https://example.com/', priority: 7 }),
      },
    ]);
  });

  it('sends the workspace it is given on every call, unless the call names its own', async () => {
    const { seen, fetchFn } = recordingFetch(() => new Response('{"items":[]}', { status: 200 }));
    const client = new ApiClient({ workspace: () => 'ws-1', fetch: fetchFn });
    await client.call('listWorkspaces');
    await client.call('listWorkspaces', { headers: { 'x-crucible-workspace': 'ws-2' } } as never);
    expect(seen.map((r) => r.headers['x-crucible-workspace'])).toEqual(['ws-1', 'ws-2']);
    const none = new ApiClient({ workspace: () => null, fetch: fetchFn });
    await none.call('listWorkspaces');
    expect('x-crucible-workspace' in seen[2]!.headers).toBe(false);
  });

  it('turns problem+json into an ApiError and reports a 401 of a signed-in call', async () => {
    let unauthorized = 0;
    const { fetchFn } = recordingFetch(() =>
      json(
        401,
        {
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          detail: 'token expired',
          code: 'UNAUTHORIZED',
        },
        'application/problem+json',
      ),
    );
    const client = new ApiClient({
      token: () => 'old',
      fetch: fetchFn,
      onUnauthorized: () => unauthorized++,
    });

    const error = await client.call('me').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
      title: 'Unauthorized',
      message: 'token expired',
    });
    expect(unauthorized).toBe(1);
  });

  it('resolves 204 to null and a failed connection to a NETWORK error', async () => {
    const noContent = new ApiClient({
      fetch: recordingFetch(() => new Response(null, { status: 204 })).fetchFn,
    });
    await expect(
      noContent.call('revokeApiKey', { params: { id: '6f1c1b9e-1d2f-4a8e-9c57-4f5e9a1d2b3c' } }),
    ).resolves.toBeNull();

    const down = new ApiClient({
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as unknown as typeof fetch,
    });
    await expect(down.call('me')).rejects.toMatchObject({ status: 0, code: 'NETWORK' });
  });
});

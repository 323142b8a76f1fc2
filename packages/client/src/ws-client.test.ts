import { describe, expect, it } from 'vitest';
import { reconnectDelay, resolveWsUrl, withCredential } from './ws-client.js';

describe('reconnectDelay', () => {
  it('doubles from the initial delay up to the maximum, jittered within the upper half', () => {
    const low = (attempt: number) => reconnectDelay(attempt, 500, 15_000, () => 0);
    const high = (attempt: number) => reconnectDelay(attempt, 500, 15_000, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 40].map(high)).toEqual([
      500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000,
    ]);
    expect([0, 1, 2, 5].map(low)).toEqual([250, 500, 1000, 7500]);
  });
});

describe('withCredential', () => {
  it('puts a token, a ticket or a share link in the query, encoded, keeping what the URL had', () => {
    expect(withCredential('wss://c.example/ws', { token: 'a b+c' })).toBe('wss://c.example/ws?token=a+b%2Bc');
    expect(withCredential('ws://127.0.0.1:3001/ws?x=1', { ticket: 'wst_abc' })).toBe(
      'ws://127.0.0.1:3001/ws?x=1&ticket=wst_abc',
    );
    expect(withCredential('ws://127.0.0.1:3001/ws', { share: 'Ab-_9' })).toBe(
      'ws://127.0.0.1:3001/ws?share=Ab-_9',
    );
  });
});

describe('resolveWsUrl', () => {
  it('appends a path to the address the API was reached at, http → ws and https → wss', () => {
    expect(resolveWsUrl('/ws', 'http://127.0.0.1:3000')).toBe('ws://127.0.0.1:3000/ws');
    expect(resolveWsUrl('/ws', 'https://c.example/crucible/')).toBe('wss://c.example/crucible/ws');
    expect(resolveWsUrl('/live', 'https://c.example/?x=1#y')).toBe('wss://c.example/live');
  });

  it('keeps an absolute gateway address as it is, whatever the API address', () => {
    expect(resolveWsUrl('ws://127.0.0.1:3001/ws', 'http://127.0.0.1:3000')).toBe('ws://127.0.0.1:3001/ws');
    expect(resolveWsUrl('wss://ws.c.example/ws', 'http://api.internal:3000/x')).toBe('wss://ws.c.example/ws');
  });
});

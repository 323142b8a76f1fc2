import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { badgeText, channelRequest, channelTarget, coalesce, outcomeText } from './notifications';

describe('channelRequest', () => {
  it('builds each type’s config from the form, trimmed', () => {
    expect(channelRequest(' Hook ', 'webhook', { url: ' http://127.0.0.1:9/h ' })).toEqual({
      request: { name: 'Hook', type: 'webhook', config: { url: 'http://127.0.0.1:9/h' } },
    });
    expect(channelRequest('Me', 'in-app', {})).toEqual({
      request: { name: 'Me', type: 'in-app', config: {} },
    });
    expect(channelRequest('PD', 'pagerduty', { routingKey: 'rk' })).toEqual({
      request: { name: 'PD', type: 'pagerduty', config: { routingKey: 'rk' } },
    });
  });

  it('sends one email address as a string and several as a list', () => {
    expect(channelRequest('a', 'email', { to: 'ops@example.com' })).toEqual({
      request: { name: 'a', type: 'email', config: { to: 'ops@example.com' } },
    });
    expect(channelRequest('a', 'email', { to: 'a@x.org, b@x.org,' })).toEqual({
      request: { name: 'a', type: 'email', config: { to: ['a@x.org', 'b@x.org'] } },
    });
  });

  it('sends a numeric Telegram chat id as a number and a @channel name as text', () => {
    expect(channelRequest('t', 'telegram', { botToken: 'b', chatId: '-100123' })).toEqual({
      request: { name: 't', type: 'telegram', config: { botToken: 'b', chatId: -100123 } },
    });
    expect(channelRequest('t', 'telegram', { botToken: 'b', chatId: '@ops' })).toEqual({
      request: { name: 't', type: 'telegram', config: { botToken: 'b', chatId: '@ops' } },
    });
  });

  it('names the first missing field instead of sending', () => {
    expect(channelRequest(' ', 'webhook', { url: 'http://x' })).toEqual({ error: 'Name: required' });
    expect(channelRequest('t', 'telegram', { botToken: 'b', chatId: ' ' })).toEqual({
      error: 'Chat id: required',
    });
    expect(channelRequest('s', 'slack', {})).toEqual({ error: 'Incoming webhook URL: required' });
  });
});

describe('channelTarget', () => {
  it('says where each type sends', () => {
    expect(channelTarget({ type: 'webhook', config: { url: 'https://h.example/x' } })).toBe(
      'https://h.example/x',
    );
    expect(channelTarget({ type: 'email', config: { to: ['a@x.org', 'b@x.org'] } })).toBe('a@x.org, b@x.org');
    expect(channelTarget({ type: 'in-app', config: {} })).toBe('its creator');
    expect(channelTarget({ type: 'in-app', config: { userIds: ['u1', 'u2'] } })).toBe('2 member(s)');
    expect(channelTarget({ type: 'telegram', config: { botToken: '…abcd', chatId: 42 } })).toBe('chat 42');
    expect(channelTarget({ type: 'slack', config: { webhookUrl: '…WXYZ' } })).toBe('…WXYZ');
  });
});

describe('outcomeText', () => {
  it('joins the status, the receiver’s answer, the time and the error', () => {
    expect(outcomeText({ status: 'delivered', responseStatus: 204, error: null, durationMs: 12 })).toBe(
      'delivered · HTTP 204 · 12 ms',
    );
    expect(
      outcomeText({
        status: 'retrying',
        responseStatus: null,
        error: 'connection refused',
        durationMs: null,
      }),
    ).toBe('retrying · connection refused');
  });
});

describe('badgeText', () => {
  it('shows nothing at zero and 9+ past nine', () => {
    expect(badgeText(0)).toBeNull();
    expect(badgeText(1)).toBe('1');
    expect(badgeText(9)).toBe('9');
    expect(badgeText(10)).toBe('9+');
  });
});

describe('coalesce', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs once after a burst, and once more for a trigger that came while it ran', async () => {
    let finish: () => void = () => {};
    const run = vi.fn(() => new Promise<void>((r) => (finish = r)));
    const c = coalesce(run, 100);
    for (let i = 0; i < 5; i++) c.trigger();
    await vi.advanceTimersByTimeAsync(99);
    expect(run).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(run).toHaveBeenCalledTimes(1);
    c.trigger();
    await vi.advanceTimersByTimeAsync(500);
    expect(run).toHaveBeenCalledTimes(1);
    finish();
    await vi.advanceTimersByTimeAsync(100);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('runs nothing once cancelled', async () => {
    const run = vi.fn(async () => {});
    const c = coalesce(run, 100);
    c.trigger();
    c.cancel();
    await vi.advanceTimersByTimeAsync(1000);
    expect(run).not.toHaveBeenCalled();
  });
});

import { describe, expect, it } from 'vitest';
import { withLinks } from './links.js';

const one = (id: string) => ({
  severity: 'critical' as const,
  title: `m${id}: down`,
  message: 'failing',
  incident: { id, key: `k${id}`, title: `m${id}: down`, status: 'open' as const },
});
const ctx = { publicUrl: 'https://crucible.example', eventType: 'incident.opened' as const, channelId: 'c1' };

describe('dashboard links', () => {
  it("links one incident's notification to its page", () => {
    const data = { ...one('i1'), incidents: [one('i1')] };
    expect(withLinks(data, ctx)).toEqual({
      ...data,
      url: 'https://crucible.example/incidents/i1',
      incident: { ...data.incident, url: 'https://crucible.example/incidents/i1' },
      incidents: [
        { ...one('i1'), incident: { ...one('i1').incident, url: 'https://crucible.example/incidents/i1' } },
      ],
    });
  });

  it('links a group of several to the open incidents, each of them to its own page', () => {
    const linked = withLinks({ ...one('i1'), incidents: [one('i1'), one('i2')] }, ctx);
    expect(linked.url).toBe('https://crucible.example/incidents?status=open');
    expect((linked.incidents as { incident: { url: string } }[]).map((i) => i.incident.url)).toEqual([
      'https://crucible.example/incidents/i1',
      'https://crucible.example/incidents/i2',
    ]);
  });

  it("links a test notification to its channel's page, and nothing without PUBLIC_URL", () => {
    const test = { severity: 'info' as const, title: 'Test', message: 'hello' };
    expect(withLinks(test, { ...ctx, eventType: 'test.notification' }).url).toBe(
      'https://crucible.example/channels/c1',
    );
    expect(withLinks(one('i1'), { ...ctx, publicUrl: undefined })).toEqual(one('i1'));
  });

  it("links a disabled channel's system alert to the channel, the others to the admin page", () => {
    const alert = (kind: 'channel-gone' | 'workers-silent') => ({
      severity: 'warning' as const,
      title: 'x',
      message: 'y',
      systemAlert: {
        id: 'a1',
        key: kind,
        kind,
        status: 'firing' as const,
        severity: 'warning' as const,
        title: 'x',
        message: 'y',
        details: kind === 'channel-gone' ? { channelId: 'c9' } : {},
        startedAt: '2026-12-06T05:00:00.000Z',
        firedAt: '2026-12-06T05:00:00.000Z',
        resolvedAt: null,
        ownerId: null,
      },
    });
    const firing = { ...ctx, eventType: 'system.alert.firing' as const };
    expect(withLinks(alert('channel-gone'), firing).url).toBe('https://crucible.example/channels/c9');
    expect(withLinks(alert('workers-silent'), firing).url).toBe('https://crucible.example/admin');
  });
});

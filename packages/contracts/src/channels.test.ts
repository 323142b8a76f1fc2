import { describe, expect, it } from 'vitest';
import { Channels, channelName, parseChannel } from './channels.js';
import { Events, Priority } from './events.js';
import { createMessage } from './envelope.js';

describe('channels', () => {
  it('lists the 12 templates, 34 events and 4 priorities of DESIGN.md', () => {
    expect(Object.values(Channels)).toHaveLength(12);
    expect(Object.values(Events)).toHaveLength(34);
    expect(new Set(Object.values(Events)).size).toBe(34);
    expect(Priority).toEqual({ CRITICAL: 1, HIGH: 2, NORMAL: 3, LOW: 4 });
  });

  it('fills template parameters', () => {
    expect(channelName(Channels.TEST_PROGRESS, { testId: 'abc-123' })).toBe('test-progress-abc-123');
    expect(channelName(Channels.JOB_STATUS, { jobId: 'j1' })).toBe('job-status-j1');
    expect(channelName(Channels.QUEUE_UPDATES, {})).toBe('queue-updates');
  });

  it('refuses parameter values that could forge another channel', () => {
    expect(() => channelName(Channels.TEST_PROGRESS, { testId: 'a:b' })).toThrow(TypeError);
    expect(() => channelName(Channels.TEST_PROGRESS, { testId: '' })).toThrow(TypeError);
    expect(() => channelName(Channels.USER_NOTIFICATIONS, { userId: 'x*' })).toThrow(TypeError);
  });

  it('parses concrete names back to template and parameters', () => {
    expect(parseChannel('test-progress-7f1c')).toEqual({
      template: Channels.TEST_PROGRESS,
      params: { testId: '7f1c' },
    });
    expect(parseChannel('test-updates')).toEqual({ template: Channels.TEST_UPDATES, params: {} });
    expect(parseChannel('test-history-updates')).toEqual({
      template: Channels.TEST_HISTORY_UPDATES,
      params: {},
    });
    expect(parseChannel('stress-test-1')).toEqual({
      template: Channels.STRESS_TEST,
      params: { testId: '1' },
    });
    expect(parseChannel('shared-tests-p9')).toEqual({
      template: Channels.SHARED_TESTS,
      params: { shareId: 'p9' },
    });
    expect(parseChannel('user-notifications-u1')).toEqual({
      template: Channels.USER_NOTIFICATIONS,
      params: { userId: 'u1' },
    });
    expect(parseChannel('nope')).toBeUndefined();
    expect(parseChannel('test-progress-')).toBeUndefined();
    expect(parseChannel('test-progress-a b')).toBeUndefined();
  });

  it('round-trips every template', () => {
    for (const template of Object.values(Channels)) {
      const params = Object.fromEntries([...template.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], 'id-1']));
      const name = channelName(template, params as never);
      expect(parseChannel(name)).toEqual({ template, params });
    }
  });
});

describe('createMessage', () => {
  it('fills id, timestamp, priority and userId defaults', () => {
    const before = Date.now();
    const m = createMessage({
      event: Events.TEST_CANCELLED,
      channel: 'test-progress-1',
      data: { testId: '1', status: 'cancelled' },
    });
    expect(m.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.priority).toBe(Priority.NORMAL);
    expect(m.userId).toBeNull();
    expect(m.timestamp).toBeGreaterThanOrEqual(before);
    expect(m).not.toHaveProperty('offset');
    const other = createMessage({
      event: Events.USER_ONLINE,
      channel: 'user-activity',
      data: { userId: 'u' },
      priority: Priority.HIGH,
      userId: 'u',
    });
    expect(other.id).not.toBe(m.id);
    expect(other.priority).toBe(2);
    expect(other.userId).toBe('u');
  });
});

import { describe, expect, it } from 'vitest';
import type { SystemAlertData } from '@crucible/contracts';
import { splitAlerts, withAlert } from './system-alerts';

const alert = (id: string, firedAt: string, status: 'firing' | 'resolved' = 'firing'): SystemAlertData => ({
  id,
  key: 'workers-silent',
  kind: 'workers-silent',
  status,
  severity: 'critical',
  title: 'No live worker for 60 s',
  message: '…',
  details: {},
  startedAt: firedAt,
  firedAt,
  resolvedAt: status === 'resolved' ? '2026-12-06T05:10:00.000Z' : null,
  ownerId: null,
});

describe('system alerts on the admin page', () => {
  it('adds a new alert first and replaces one by its resolution', () => {
    const older = alert('a', '2026-12-06T05:00:00.000Z');
    const newer = alert('b', '2026-12-06T05:05:00.000Z');
    const list = withAlert([older], newer);
    expect(list.map((a) => a.id)).toEqual(['b', 'a']);
    const resolved = withAlert(list, alert('a', '2026-12-06T05:00:00.000Z', 'resolved'));
    expect(resolved.map((a) => [a.id, a.status])).toEqual([
      ['b', 'firing'],
      ['a', 'resolved'],
    ]);
    expect(splitAlerts(resolved)).toEqual({ current: [resolved[0]], past: [resolved[1]] });
  });

  it('ignores a replayed firing of an alert already resolved, and keeps at most `keep`', () => {
    const resolved = [alert('a', '2026-12-06T05:00:00.000Z', 'resolved')];
    expect(withAlert(resolved, alert('a', '2026-12-06T05:00:00.000Z'))).toEqual(resolved);
    const many = ['1', '2', '3'].map((n) => alert(n, `2026-12-06T05:0${n}:00.000Z`));
    expect(many.reduce<SystemAlertData[]>((l, a) => withAlert(l, a, 2), []).map((a) => a.id)).toEqual([
      '3',
      '2',
    ]);
  });
});

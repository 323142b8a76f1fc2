import { describe, expect, it } from 'vitest';
import type { IncidentDetail } from '@crucible/contracts/api';
import {
  durationText,
  incidentActions,
  incidentSpans,
  incidentsPath,
  statusFilter,
  timeline,
} from './incidents';

describe('incidents page address', () => {
  it('keeps only a known status and a cursor, nothing empty', () => {
    expect(statusFilter('open')).toBe('open');
    expect(statusFilter('closed')).toBeUndefined();
    expect(statusFilter(undefined)).toBeUndefined();
    expect(incidentsPath(undefined)).toBe('/incidents');
    expect(incidentsPath('resolved')).toBe('/incidents?status=resolved');
    expect(incidentsPath('open', 'abc=')).toBe('/incidents?status=open&cursor=abc%3D');
    expect(incidentsPath(undefined, 'c')).toBe('/incidents?cursor=c');
  });
});

describe('durationText', () => {
  it('says a span at its two largest units', () => {
    expect(durationText(0)).toBe('0 s');
    expect(durationText(45_900)).toBe('45 s');
    expect(durationText(200_000)).toBe('3 min 20 s');
    expect(durationText((2 * 3600 + 5 * 60 + 7) * 1000)).toBe('2 h 5 min');
    expect(durationText((3 * 86_400 + 7) * 1000)).toBe('3 d');
    expect(durationText(-5)).toBe('0 s');
  });
});

describe('incidentActions', () => {
  it('offers acknowledging an open incident and resolving an unresolved one to members', () => {
    expect(incidentActions('open', 'member')).toEqual({ acknowledge: true, resolve: true });
    expect(incidentActions('acknowledged', 'owner')).toEqual({ acknowledge: false, resolve: true });
    expect(incidentActions('resolved', 'admin')).toEqual({ acknowledge: false, resolve: false });
  });

  it('offers a viewer, or a caller whose role is not known yet, nothing', () => {
    expect(incidentActions('open', 'viewer')).toEqual({ acknowledge: false, resolve: false });
    expect(incidentActions('open', null)).toEqual({ acknowledge: false, resolve: false });
  });
});

describe('timeline', () => {
  const run = (testId: string, completedAt: string) => ({
    testId,
    scheduledFor: null,
    state: testId.startsWith('fail') ? 'down' : 'up',
    completedAt,
  });
  const detail: IncidentDetail = {
    id: 'i1',
    workspaceId: 'w',
    key: 'crucible-r-m',
    ruleId: 'r',
    ruleName: 'down',
    monitorId: 'm',
    monitorName: 'site',
    severity: 'critical',
    status: 'resolved',
    openedAt: '2026-01-01T00:00:02.000Z',
    acknowledgedAt: '2026-01-01T00:01:00.000Z',
    acknowledgedBy: 'u1',
    resolvedAt: '2026-01-01T00:02:00.000Z',
    resolvedBy: null,
    reminders: 0,
    openedBy: [run('fail-2', '2026-01-01T00:00:02.000Z'), run('fail-1', '2026-01-01T00:00:01.000Z')],
    resolvedByRuns: [run('pass-1', '2026-01-01T00:02:00.000Z')],
    notifications: [
      { eventId: 'e2', type: 'incident.acknowledged', createdAt: '2026-01-01T00:01:00.000Z', deliveries: [] },
      { eventId: 'e1', type: 'incident.opened', createdAt: '2026-01-01T00:00:02.000Z', deliveries: [] },
    ],
  };

  it('orders everything by time, a run before the change it caused, a change before its notification', () => {
    const lines = timeline(detail).map((e) =>
      e.kind === 'run' ? `run ${e.run.testId}` : e.kind === 'notification' ? e.notification.type : e.kind,
    );
    expect(lines).toEqual([
      'run fail-1',
      'run fail-2',
      'opened',
      'incident.opened',
      'acknowledged',
      'incident.acknowledged',
      'run pass-1',
      'resolved',
    ]);
  });

  it('lists no acknowledgement or resolution an open incident has not had', () => {
    const open = {
      ...detail,
      status: 'open' as const,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
    };
    const kinds = timeline({ ...open, resolvedByRuns: [], notifications: [] }).map((e) => e.kind);
    expect(kinds).toEqual(['run', 'run', 'opened']);
  });
});

describe('incidentSpans', () => {
  const at = (s: number) => new Date(s * 1000).toISOString();
  it('spans each incident from opening to resolution, an open one to now, clipped to the chart', () => {
    const incidents = [
      { id: 'open', status: 'open' as const, openedAt: at(150), resolvedAt: null },
      { id: 'early', status: 'resolved' as const, openedAt: at(50), resolvedAt: at(120) },
      { id: 'before', status: 'resolved' as const, openedAt: at(10), resolvedAt: at(90) },
    ];
    expect(incidentSpans(incidents, { from: 100, to: 200 }, 180_000)).toEqual([
      { id: 'early', status: 'resolved', from: 100, to: 120 },
      { id: 'open', status: 'open', from: 150, to: 180 },
    ]);
  });
});

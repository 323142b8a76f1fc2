import { describe, expect, it } from 'vitest';
import type { MonitorRow } from '@crucible/db';
import { planSlots } from './plan.js';

const monitor = (over: Partial<MonitorRow>): MonitorRow =>
  ({ id: 'm', every_seconds: 10, cron: null, timezone: null, next_run_at: null, ...over }) as MonitorRow;
const iso = (ds: Date[]) => ds.map((d) => d.toISOString().slice(11, 19));
const never = () => false;

describe('planSlots', () => {
  const now = new Date('2026-12-05T10:00:00.300Z');

  it('runs the one due slot and moves to the next', () => {
    const p = planSlots(monitor({ next_run_at: new Date('2026-12-05T10:00:00Z') }), now, {
      maxMissed: 100,
      lateGraceMs: 5_000,
      inMaintenance: never,
    });
    expect(iso(p.runs)).toEqual(['10:00:00']);
    expect(p.missed).toEqual([]);
    expect(p.next.toISOString()).toBe('2026-12-05T10:00:10.000Z');
  });

  it('after an outage records the old slots as missed and runs only recent ones, never a burst of old ones', () => {
    const p = planSlots(monitor({ next_run_at: new Date('2026-12-05T09:58:00Z') }), now, {
      maxMissed: 100,
      lateGraceMs: 15_000,
      inMaintenance: never,
    });
    expect(p.missed).toHaveLength(11); // 09:58:00 … 09:59:40
    expect(iso(p.runs)).toEqual(['09:59:50', '10:00:00']);
    // Beyond the grace, only the latest runs.
    const q = planSlots(monitor({ next_run_at: new Date('2026-12-05T09:58:00Z') }), now, {
      maxMissed: 3,
      lateGraceMs: 0,
      inMaintenance: never,
    });
    expect(iso(q.missed)).toEqual(['09:59:30', '09:59:40', '09:59:50']);
    expect(iso(q.runs)).toEqual(['10:00:00']);
  });

  it('skips slots inside a maintenance window, the latest included', () => {
    const p = planSlots(monitor({ next_run_at: new Date('2026-12-05T09:59:40Z') }), now, {
      maxMissed: 100,
      lateGraceMs: 0,
      inMaintenance: (_m, at) => at >= new Date('2026-12-05T09:59:50Z'),
    });
    expect(iso(p.missed)).toEqual(['09:59:40']);
    expect(p.skipped.map((s) => [s.at.toISOString().slice(11, 19), s.reason])).toEqual([
      ['09:59:50', 'maintenance'],
      ['10:00:00', 'maintenance'],
    ]);
    expect(p.runs).toEqual([]);
  });
});

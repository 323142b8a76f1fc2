import { describe, expect, it } from 'vitest';
import {
  InvalidWindowError,
  checkMaintenanceWindow,
  inMaintenanceAt,
  windowOpenAt,
} from './maintenance-window.js';

const at = (iso: string) => new Date(iso);

describe('maintenance windows', () => {
  it('a one-off window is open from startsAt, up to but not at endsAt', () => {
    const w = checkMaintenanceWindow({ startsAt: '2026-12-06T10:00:00Z', endsAt: '2026-12-06T11:00:00Z' });
    expect(windowOpenAt(w, at('2026-12-06T09:59:59.999Z'))).toBe(false);
    expect(windowOpenAt(w, at('2026-12-06T10:00:00Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-12-06T10:59:59.999Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-12-06T11:00:00Z'))).toBe(false);
  });

  it('a recurring window follows local time in its zone across a DST change', () => {
    // 01:00 New York time for two hours, every day. DST began on Sunday 8 March 2026.
    const w = checkMaintenanceWindow({
      cron: '0 1 * * *',
      durationMinutes: 120,
      timezone: 'America/New_York',
    });
    // Saturday 7 March, EST (UTC−5): 06:00Z–08:00Z.
    expect(windowOpenAt(w, at('2026-03-07T05:59:00Z'))).toBe(false);
    expect(windowOpenAt(w, at('2026-03-07T06:00:00Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-03-07T07:59:00Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-03-07T08:00:00Z'))).toBe(false);
    // Monday 9 March, EDT (UTC−4): 05:00Z–07:00Z — an hour earlier in UTC.
    expect(windowOpenAt(w, at('2026-03-09T04:59:00Z'))).toBe(false);
    expect(windowOpenAt(w, at('2026-03-09T05:30:00Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-03-09T06:59:00Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-03-09T07:00:00Z'))).toBe(false);
    // The same cron in UTC is open at other instants.
    const utc = checkMaintenanceWindow({ cron: '0 1 * * *', durationMinutes: 120 });
    expect(utc.timezone).toBe('UTC');
    expect(windowOpenAt(utc, at('2026-03-09T05:30:00Z'))).toBe(false);
    expect(windowOpenAt(utc, at('2026-03-09T01:30:00Z'))).toBe(true);
  });

  it('a recurring window may run over midnight and over its next start', () => {
    // Saturdays 23:30 Kolkata (UTC+05:30) for 90 minutes: 18:00Z–19:30Z.
    const w = checkMaintenanceWindow({ cron: '30 23 * * 6', durationMinutes: 90, timezone: 'Asia/Kolkata' });
    expect(windowOpenAt(w, at('2026-12-05T17:59:00Z'))).toBe(false);
    expect(windowOpenAt(w, at('2026-12-05T19:00:00Z'))).toBe(true);
    expect(windowOpenAt(w, at('2026-12-05T19:30:00Z'))).toBe(false);
    // Every 10 minutes for 15: always open.
    const overlapping = checkMaintenanceWindow({ cron: '*/10 * * * *', durationMinutes: 15 });
    expect(windowOpenAt(overlapping, at('2026-12-05T19:09:59Z'))).toBe(true);
  });

  it('refuses a window of both kinds, of neither, backwards, or with a bad cron or zone', () => {
    const bad = (w: Parameters<typeof checkMaintenanceWindow>[0]) => () => checkMaintenanceWindow(w);
    expect(bad({})).toThrow(InvalidWindowError);
    expect(
      bad({ startsAt: '2026-12-06T10:00:00Z', endsAt: '2026-12-06T11:00:00Z', cron: '0 1 * * *' }),
    ).toThrow('give either startsAt and endsAt, or cron and durationMinutes (and timezone)');
    expect(bad({ startsAt: '2026-12-06T10:00:00Z' })).toThrow(
      'a one-off window needs both startsAt and endsAt',
    );
    expect(bad({ startsAt: '2026-12-06T10:00:00Z', endsAt: '2026-12-06T10:00:00Z' })).toThrow(
      'endsAt must be after startsAt',
    );
    expect(bad({ cron: '0 1 * * *' })).toThrow('a recurring window needs both cron and durationMinutes');
    expect(bad({ cron: '0 0 1 * * *', durationMinutes: 5 })).toThrow('cron must have 5 fields');
    expect(bad({ cron: '0 1 * * *', durationMinutes: 5, timezone: 'Mars/Olympus' })).toThrow(
      'timezone: Mars/Olympus is not an IANA time zone',
    );
  });

  it('covers the monitors it names, or all of its workspace, and no other workspace', () => {
    const times = checkMaintenanceWindow({
      startsAt: '2026-12-06T10:00:00Z',
      endsAt: '2026-12-06T11:00:00Z',
    });
    const named = { ...times, workspace_id: 'w1', monitor_ids: ['m1'] };
    const all = { ...times, workspace_id: 'w2', monitor_ids: null };
    const inside = at('2026-12-06T10:30:00Z');
    expect(inMaintenanceAt([named], { id: 'm1', workspace_id: 'w1' }, inside)).toBe(true);
    expect(inMaintenanceAt([named], { id: 'm2', workspace_id: 'w1' }, inside)).toBe(false);
    expect(inMaintenanceAt([all], { id: 'm9', workspace_id: 'w2' }, inside)).toBe(true);
    expect(inMaintenanceAt([all], { id: 'm9', workspace_id: 'w1' }, inside)).toBe(false);
    expect(inMaintenanceAt([named, all], { id: 'm1', workspace_id: 'w1' }, at('2026-12-06T11:00:00Z'))).toBe(
      false,
    );
  });
});

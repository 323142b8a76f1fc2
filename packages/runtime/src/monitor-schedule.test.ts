import { describe, expect, it } from 'vitest';
import { InvalidScheduleError, checkSchedule, slotAfter, slotAtOrAfter, slotsBetween } from './monitor-schedule.js';

const iso = (d: Date) => d.toISOString();

describe('monitor schedules', () => {
  it('aligns interval slots to the epoch, so every process computes the same ones', () => {
    const s = { everySeconds: 30 };
    expect(iso(slotAtOrAfter(s, new Date('2026-12-05T10:00:07.500Z')))).toBe('2026-12-05T10:00:30.000Z');
    expect(iso(slotAtOrAfter(s, new Date('2026-12-05T10:00:30.000Z')))).toBe('2026-12-05T10:00:30.000Z');
    expect(iso(slotAfter(s, new Date('2026-12-05T10:00:30.000Z')))).toBe('2026-12-05T10:01:00.000Z');
  });

  it('runs a daily 02:30 cron in New York once on the day 02:30 does not exist (spring forward)', () => {
    // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT in America/New_York.
    const s = { cron: '30 2 * * *', timezone: 'America/New_York' };
    const slots = slotsBetween(s, new Date('2026-03-06T12:00:00Z'), new Date('2026-03-10T12:00:00Z'), 10).map(iso);
    expect(slots[0]).toBe('2026-03-07T07:30:00.000Z'); // 02:30 EST
    expect(slots.at(-1)).toBe('2026-03-10T06:30:00.000Z'); // 02:30 EDT
    expect(new Set(slots).size).toBe(slots.length);
    expect(slots.filter((t) => t.startsWith('2026-03-08')).length).toBeLessThanOrEqual(1);
  });

  it('runs an hourly cron every real hour across the autumn change, the repeated hour included once each', () => {
    // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST: 01:00 local happens twice.
    const s = { cron: '0 * * * *', timezone: 'America/New_York' };
    const slots = slotsBetween(s, new Date('2026-11-01T03:30:00Z'), new Date('2026-11-01T08:30:00Z'), 10).map(iso);
    expect(slots).toEqual([
      '2026-11-01T04:00:00.000Z', // 00:00 EDT
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T06:00:00.000Z', // 01:00 EST
      '2026-11-01T07:00:00.000Z', // 02:00 EST
      '2026-11-01T08:00:00.000Z', // 03:00 EST
    ]);
  });

  it('keeps 09:00 local across a change: the UTC slot moves by an hour', () => {
    const s = { cron: '0 9 * * 1-5', timezone: 'Europe/Paris' };
    // 2026-10-25: Paris leaves summer time (UTC+2 → UTC+1).
    expect(iso(slotAtOrAfter(s, new Date('2026-10-23T00:00:00Z')))).toBe('2026-10-23T07:00:00.000Z');
    expect(iso(slotAfter(s, new Date('2026-10-23T07:00:00Z')))).toBe('2026-10-26T08:00:00.000Z');
  });

  it('keeps only the latest `max` slots of a long absence', () => {
    const slots = slotsBetween({ everySeconds: 60 }, new Date('2026-12-05T00:00:00Z'), new Date('2026-12-05T01:00:00Z'), 3);
    expect(slots.map(iso)).toEqual([
      '2026-12-05T00:58:00.000Z',
      '2026-12-05T00:59:00.000Z',
      '2026-12-05T01:00:00.000Z',
    ]);
  });

  it('refuses intervals under the minimum, 6-field or malformed cron, and unknown time zones', () => {
    expect(() => checkSchedule({ everySeconds: 29 }, 30)).toThrow('schedule.everySeconds must be >= 30');
    expect(() => checkSchedule({ everySeconds: 30 }, 30)).not.toThrow();
    expect(() => checkSchedule({ cron: '* * * * * *' }, 30)).toThrow(/must have 5 fields.*it has 6/);
    expect(() => checkSchedule({ cron: '61 * * * *' }, 30)).toThrow(InvalidScheduleError);
    expect(() => checkSchedule({ cron: '0 9 * * *', timezone: 'Mars/Olympus' }, 30)).toThrow(
      'schedule.timezone: Mars/Olympus is not an IANA time zone',
    );
    expect(() => checkSchedule({ cron: '0 9 * * *', timezone: 'Europe/Paris' }, 30)).not.toThrow();
  });
});

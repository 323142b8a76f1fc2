import { describe, expect, it } from 'vitest';
import { draftOf, localInput, preferencesField, preferencesRequest } from './notification-preferences';

const now = new Date('2026-12-06T10:00:00Z');
const none = { quietHours: null, minSeverity: {}, mutedUntil: null };

describe('notification preferences form', () => {
  it('starts from none set: quiet hours unticked, 22:00–07:00 in the browser’s zone, not muted', () => {
    expect(draftOf(none, 'Europe/Paris', now)).toEqual({
      quiet: false,
      start: '22:00',
      end: '07:00',
      timezone: 'Europe/Paris',
      minSeverity: {},
      mutedUntil: '',
    });
    expect(preferencesRequest(draftOf(none, 'Europe/Paris', now), now)).toEqual({ body: none });
  });

  it('reads and writes back what is set; a channel at every severity is left out; a mute already over is none', () => {
    const later = new Date('2026-12-06T12:30:00Z');
    const prefs = {
      quietHours: { start: '23:00', end: '06:30', timezone: 'America/New_York' },
      minSeverity: { c1: 'warning' as const, c2: 'critical' as const },
      mutedUntil: later.toISOString(),
    };
    const draft = draftOf(prefs, 'Europe/Paris', now);
    expect(draft).toMatchObject({ quiet: true, start: '23:00', timezone: 'America/New_York' });
    expect(draft.mutedUntil).toBe(localInput(later));
    expect(preferencesRequest(draft, now)).toEqual({ body: prefs });
    expect(preferencesRequest({ ...draft, minSeverity: { c1: '', c2: 'critical' } }, now)).toEqual({
      body: { ...prefs, minSeverity: { c2: 'critical' } },
    });
    expect(draftOf({ ...prefs, mutedUntil: '2026-12-06T09:00:00Z' }, 'UTC', now).mutedUntil).toBe('');
  });

  it('refuses what it can tell alone, by field', () => {
    const draft = draftOf(none, 'UTC', now);
    expect(preferencesRequest({ ...draft, quiet: true, end: '22:00' }, now)).toEqual({
      errors: { quiet: 'Start and end must differ' },
    });
    expect(preferencesRequest({ ...draft, quiet: true, start: '', timezone: ' ' }, now)).toEqual({
      errors: { quiet: 'Give a start and an end, HH:MM', timezone: 'A time zone such as Europe/Paris' },
    });
    expect(
      preferencesRequest({ ...draft, mutedUntil: localInput(new Date('2026-12-06T09:00:00Z')) }, now),
    ).toEqual({ errors: { mutedUntil: 'A time in the future' } });
  });

  it('places the API’s refusals under their field', () => {
    expect(preferencesField('INVALID_TIMEZONE', 'unknown time zone "Mars/Base"')).toBe('timezone');
    expect(preferencesField('INVALID_QUIET_HOURS', 'start and end are equal')).toBe('quiet');
    expect(preferencesField('VALIDATION', 'body.mutedUntil must match format "date-time"')).toBe(
      'mutedUntil',
    );
    expect(preferencesField('NOT_FOUND', 'channel not found')).toBe('');
  });
});

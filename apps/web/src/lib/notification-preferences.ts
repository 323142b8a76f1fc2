import type { Severity } from '@crucible/contracts';
import type { NotificationPreferences } from '@crucible/contracts/api';

/** The preferences form as typed: times and the mute as the inputs hold them. */
export interface PreferencesDraft {
  quiet: boolean;
  /** `HH:MM`, as `<input type="time">` gives it. */
  start: string;
  end: string;
  /** An IANA zone, e.g. `Europe/Paris`. */
  timezone: string;
  /** Channel id → its minimum severity, `''` for every severity. Channels not shown keep theirs. */
  minSeverity: Record<string, Severity | ''>;
  /** `YYYY-MM-DDTHH:MM` in the browser's clock, as `<input type="datetime-local">` gives it; `''`: not muted. */
  mutedUntil: string;
}

export type PreferencesErrors = Partial<Record<'quiet' | 'timezone' | 'mutedUntil' | '', string>>;

const pad = (n: number) => String(n).padStart(2, '0');

/** An instant as `datetime-local` shows it in the browser's clock. */
export function localInput(at: Date): string {
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

/**
 * The form filled from the caller's preferences. No quiet hours yet: 22:00–07:00 in `zone` (the
 * browser's), unticked. A mute already over shows as none.
 */
export function draftOf(prefs: NotificationPreferences, zone: string, now = new Date()): PreferencesDraft {
  const muted = prefs.mutedUntil && new Date(prefs.mutedUntil) > now ? new Date(prefs.mutedUntil) : null;
  return {
    quiet: prefs.quietHours !== null,
    start: prefs.quietHours?.start ?? '22:00',
    end: prefs.quietHours?.end ?? '07:00',
    timezone: prefs.quietHours?.timezone ?? zone,
    minSeverity: { ...prefs.minSeverity },
    mutedUntil: muted ? localInput(muted) : '',
  };
}

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

/**
 * The `PUT` body for the draft, or what is wrong with it. The form checks what it can alone (times
 * written, start ≠ end, a mute in the future); the zone is the API's to judge (`INVALID_TIMEZONE`).
 */
export function preferencesRequest(
  draft: PreferencesDraft,
  now = new Date(),
): { body: NotificationPreferences } | { errors: PreferencesErrors } {
  const errors: PreferencesErrors = {};
  if (draft.quiet) {
    if (!CLOCK.test(draft.start) || !CLOCK.test(draft.end)) errors.quiet = 'Give a start and an end, HH:MM';
    else if (draft.start === draft.end) errors.quiet = 'Start and end must differ';
    if (!draft.timezone.trim()) errors.timezone = 'A time zone such as Europe/Paris';
  }
  const muted = draft.mutedUntil ? new Date(draft.mutedUntil) : null;
  if (muted && (Number.isNaN(muted.getTime()) || muted <= now)) errors.mutedUntil = 'A time in the future';
  if (Object.keys(errors).length > 0) return { errors };
  return {
    body: {
      quietHours: draft.quiet
        ? { start: draft.start, end: draft.end, timezone: draft.timezone.trim() }
        : null,
      minSeverity: Object.fromEntries(
        Object.entries(draft.minSeverity).filter((e): e is [string, Severity] => e[1] !== ''),
      ),
      mutedUntil: muted ? muted.toISOString() : null,
    },
  };
}

/** Which part of the form an API refusal is about. */
export function preferencesField(code: string, detail: string): keyof PreferencesErrors {
  if (code === 'INVALID_TIMEZONE') return 'timezone';
  if (code === 'INVALID_QUIET_HOURS') return 'quiet';
  if (/^(?:body\.)?quietHours\.timezone/.test(detail)) return 'timezone';
  if (/^(?:body\.)?quietHours/.test(detail)) return 'quiet';
  if (/^(?:body\.)?mutedUntil/.test(detail)) return 'mutedUntil';
  return '';
}

import type { Envelope } from '@crucible/shared/envelope';
import { Events } from '@crucible/shared/events';

interface RetryData {
  willRetry?: unknown;
  reason?: unknown;
  attempt?: unknown;
  maxAttempts?: unknown;
  error?: unknown;
}

/**
 * What an open test page makes of its job channel's `queue:job:failed` with `willRetry`: the
 * attempt it was showing is over (a worker was lost, or the engine crashed) and the next one starts
 * from 0 %. Returns the test with its progress reset and a line saying so, or null for any other
 * message. Without this the page kept the lost attempt's "running 17 %" until the new one's
 * progress silently overtook it.
 */
export function afterFailedAttempt<T extends { status: string; progress: number }>(
  test: T,
  message: Envelope,
): { test: T; notice: string } | null {
  if (message.event !== Events.QUEUE_JOB_FAILED) return null;
  const data = (message.data ?? {}) as RetryData;
  if (data.willRetry !== true) return null;
  const next =
    typeof data.attempt === 'number' && typeof data.maxAttempts === 'number'
      ? `attempt ${data.attempt} of ${data.maxAttempts} starting`
      : 'starting again';
  const notice =
    data.reason === 'worker-lost'
      ? `worker lost — ${next}`
      : `attempt failed${typeof data.error === 'string' ? ` (${data.error})` : ''} — ${next}`;
  return { test: { ...test, status: 'queued', progress: 0 }, notice };
}

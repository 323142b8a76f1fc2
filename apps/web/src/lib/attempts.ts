import type { EventMessage } from '@crucible/contracts/envelope';
import { Events } from '@crucible/contracts/events';

/**
 * What an open test page makes of its job channel's `queue:job:failed` with `willRetry`: the
 * attempt it was showing is over (a worker was lost, or the engine crashed) and the next one starts
 * from 0 %. Returns the test with its progress reset and a line saying so, or null for any other
 * message. Without this the page kept the lost attempt's "running 17 %" until the new one's
 * progress silently overtook it.
 */
export function afterFailedAttempt<T extends { status: string; progress: number }>(
  test: T,
  message: EventMessage,
): { test: T; notice: string } | null {
  if (message.event !== Events.QUEUE_JOB_FAILED || !message.data.willRetry) return null;
  const { attempt, maxAttempts, reason, error, retryCount } = message.data;
  const next = `attempt ${attempt} of ${maxAttempts} starting`;
  const notice = reason === 'worker-lost' ? `worker lost — ${next}` : `attempt failed (${error}) — ${next}`;
  // The next attempt's `retryCount` too, where the test has one: {@link refreshed} tells attempts by it.
  const counted = 'retryCount' in test ? { retryCount } : {};
  return { test: { ...test, status: 'queued', progress: 0, ...counted }, notice };
}

/**
 * The test as an open page shows it once the API answered again (the stall check, a channel
 * reset): the answer, but within one running attempt the bar never moves back — the row's progress
 * trails the events by up to a write. The attempt is told by `retryCount` (one more for every
 * attempt after the first), not by the attempts listed: a page loaded while the test was queued
 * lists none, and took the answer's lower progress as a new attempt's (the recovery browser test
 * saw its bar go from 10 % back to 5 % when "stalled" showed, 2026-12-06).
 */
export function refreshed<T extends { status: string; progress: number; retryCount: number }>(
  shown: T | null,
  answer: T,
): T {
  const sameAttempt =
    shown !== null &&
    shown.status === 'running' &&
    answer.status === 'running' &&
    answer.retryCount === shown.retryCount;
  return sameAttempt ? { ...answer, progress: Math.max(answer.progress, shown.progress) } : answer;
}

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
  const { attempt, maxAttempts, reason, error } = message.data;
  const next = `attempt ${attempt} of ${maxAttempts} starting`;
  const notice = reason === 'worker-lost' ? `worker lost — ${next}` : `attempt failed (${error}) — ${next}`;
  return { test: { ...test, status: 'queued', progress: 0 }, notice };
}

import { UnrecoverableError } from 'bullmq';
import { EngineError } from '../errors.js';

/** Why the worker aborted a job's BullMQ signal (`worker.cancelJob` / `cancelAllJobs`). */
export const AbortReasons = {
  /** The user cancelled the test (broadcast on `CANCEL_TOPIC`). */
  CANCELLED: 'cancelled',
  /** The worker is draining and the test did not finish in time: hand it back. */
  SHUTDOWN: 'shutdown',
  /** BullMQ could not renew the job's lock: another worker may already run it. */
  LOCK_LOST: 'lock-lost',
} as const;

/** This attempt no longer owns the test (cancelled, re-run, or taken over): it must stop writing. */
export class FenceLost extends Error {
  constructor(message = 'the test was cancelled or taken over by another attempt') {
    super(message);
  }
}

/** The worker is draining: the attempt hands its test back instead of failing it. */
export class Shutdown extends Error {
  constructor() {
    super('the worker is shutting down');
  }
}

/** What an attempt stops with when the job's signal is aborted for `reason`. */
export function abortError(reason: unknown): Error {
  if (reason === AbortReasons.CANCELLED) return new EngineError('CANCELLED', 'the test was cancelled');
  if (reason === AbortReasons.SHUTDOWN) return new Shutdown();
  if (reason === AbortReasons.LOCK_LOST) return new FenceLost('the worker lost the lock of this test');
  return reason instanceof Error ? reason : new EngineError('ABORTED', 'the test was aborted');
}

/** Not worth a retry: the next attempt would fail the same way. */
export function isPermanent(err: unknown): boolean {
  return err instanceof UnrecoverableError || (err instanceof EngineError && !err.retryable);
}

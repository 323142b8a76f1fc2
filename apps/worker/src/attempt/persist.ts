import type { Logger } from 'pino';
import { isConnectionError } from '@crucible/db';
import { errorMessage } from '../errors.js';

/** Runs a database write, retried with backoff while PostgreSQL is unreachable. */
export type Persist = <T>(write: () => Promise<T>) => Promise<T>;

/**
 * Retries a write that failed because PostgreSQL could not be reached, backing off from 250 ms to
 * 5 s, for up to `retryMs`; any other error, or one past the deadline, is thrown as it is.
 */
export function persistFor(retryMs: number, log: Logger): Persist {
  return async <T>(write: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + retryMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await write();
      } catch (err) {
        if (!isConnectionError(err) || Date.now() + delay > deadline) throw err;
        log.warn({ err: errorMessage(err), retryInMs: delay }, 'database unreachable; retrying the write');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}

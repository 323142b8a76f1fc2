import type { NewBatchTest } from '@crucible/db';
import { HttpProblem, isUnavailable } from '../../../errors.js';
import type { AdmissionOutcome } from '../../quotas/admission.js';
import type { Created, Outcomes } from './batch.js';

/** PostgreSQL refusing a value (class 22, e.g. a NUL character in text) is the request's fault. */
const unstorable = (err: unknown) =>
  err instanceof Error && String((err as { code?: unknown }).code ?? '').startsWith('22')
    ? new HttpProblem(
        400,
        'INVALID_BODY',
        'Bad Request',
        `The request holds a value that cannot be stored: ${(err as Error).message}`,
      )
    : err;

/** Writes a batch's tests in one statement (the quota admission's `createMany`). */
export interface BatchWriter {
  createMany(items: NewBatchTest[]): Promise<AdmissionOutcome[]>;
}

/**
 * Inserts the leaders' rows in one statement (retried row by row when a value is refused, so only
 * its request fails; a key whose earlier test vanished between statements is tried again), and
 * answers in `out` those that end here: refused, unavailable, or a replay of an earlier test.
 * Returns the rows it created, in insertion order.
 */
export async function insertRows(
  tests: BatchWriter,
  items: NewBatchTest[],
  leaders: number[],
  out: Outcomes,
): Promise<Created[]> {
  const created: Created[] = [];
  let todo = leaders;
  for (let round = 0; todo.length > 0; round++) {
    const outcomes = await insertOnce(tests, items, todo, out);
    const again: number[] = [];
    todo.forEach((i, j) => {
      const o = outcomes[j];
      if (!o) return;
      if (o.created) {
        created.push({ i, row: o.row });
      } else if ('refused' in o) out[i] = { ok: false, error: o.refused };
      else if (o.earlier) out[i] = { ok: true, value: { created: false, earlier: o.earlier } };
      // The earlier test vanished between the statements: its key is free again.
      else if (round < 3) again.push(i);
      else out[i] = { ok: false, error: new Error('idempotency key kept changing hands') };
    });
    todo = again;
  }
  return created.sort((x, y) => (BigInt(x.row.id) < BigInt(y.row.id) ? -1 : 1));
}

/**
 * One round: `todo`'s rows in one statement, or, when it is refused for something about a row,
 * each on its own so only its request fails. Returns one outcome per `todo` entry (undefined:
 * answered in `out` already).
 */
async function insertOnce(
  tests: BatchWriter,
  items: NewBatchTest[],
  todo: number[],
  out: Outcomes,
): Promise<(AdmissionOutcome | undefined)[]> {
  try {
    return await tests.createMany(todo.map((i) => items[i]!));
  } catch (err) {
    if (isUnavailable(err) || todo.length === 1) {
      for (const i of todo) out[i] = { ok: false, error: unstorable(err) };
      return [];
    }
  }
  // Not the database being away but something about a row: each on its own, so only its
  // request fails (undefined: answered already).
  const outcomes: (AdmissionOutcome | undefined)[] = [];
  for (const i of todo) {
    try {
      outcomes.push(...(await tests.createMany([items[i]!])));
    } catch (error) {
      out[i] = { ok: false, error: unstorable(error) };
      outcomes.push(undefined);
    }
  }
  return outcomes;
}

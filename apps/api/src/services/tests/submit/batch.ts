import type { Settled } from '@crucible/runtime';
import type { NewBatchTest, TestRow } from '@crucible/db';

/** The outcome of one submission of a batch. */
export type Submitted =
  | { created: true; row: TestRow; queuePosition: number | null; etaSeconds: number | null }
  | { created: false; earlier: { testId: string; requestHash: string } };

/** Each submission's answer, filled in as a flush goes (undefined: not answered yet). */
export type Outcomes = (Settled<Submitted> | undefined)[];

/** A submission whose row was inserted: its index in the batch and the row. */
export interface Created {
  i: number;
  row: TestRow;
}

/**
 * A key repeated within one batch: the first submission with it (a leader) is written, the others
 * follow its outcome. Submissions without a key all lead.
 */
export function repeatedKeys(items: NewBatchTest[]): { leaders: number[]; followerOf: Map<number, number> } {
  const leaders: number[] = [];
  const followerOf = new Map<number, number>();
  const byKey = new Map<string, number>();
  items.forEach((item, i) => {
    if (!item.idempotency) return leaders.push(i);
    const k = `${item.userId}\0${item.idempotency.key}`;
    const first = byKey.get(k);
    if (first === undefined) {
      byKey.set(k, i);
      leaders.push(i);
    } else followerOf.set(i, first);
  });
  return { leaders, followerOf };
}

/** A repeated key answers as a replay of what its first use made (or with the same error). */
export function answerFollowers(items: NewBatchTest[], followerOf: Map<number, number>, out: Outcomes): void {
  for (const [i, first] of followerOf) {
    const lead = out[first]!;
    if (!lead.ok || !lead.value.created) out[i] = lead;
    else {
      out[i] = {
        ok: true,
        value: {
          created: false,
          earlier: { testId: lead.value.row.test_id, requestHash: items[first]!.idempotency!.requestHash },
        },
      };
    }
  }
}

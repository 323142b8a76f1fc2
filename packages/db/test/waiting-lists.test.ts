import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { TestTypes, queueNameOf } from '@crucible/contracts';
import type { TestType } from '@crucible/contracts';
import { TestDispatchRepository, TestsRepository, UsersRepository } from '../src/index.js';
import type { SnapshotRow } from '../src/index.js';
import { migratedDatabase } from './database.js';

/**
 * The fair order's waiting lists as the dispatcher and a queued test's place read them, against
 * the rule itself written out in the test: per list (a workspace's, and one for the tests without
 * a workspace), higher priority first then oldest; a test's turn is its list's tests in flight
 * plus its place in the list; tests of earlier turns go first, and at one turn the higher
 * priority, then the older.
 */
describe('waiting lists', () => {
  const database = migratedDatabase();

  it('orders every list, the one without a workspace too, and places each waiting test by the fair rule', async () => {
    const k = database.db.kysely;
    const users = new UsersRepository(k);
    const owners: { user: string; ws: string | null }[] = [];
    for (const name of ['a', 'b', 'c']) {
      const user = (await users.create(`lists-${name}@example.test`, 'h'))!;
      const ws = (
        await sql<{ id: string }>`SELECT id FROM workspaces WHERE personal_of = ${user.id}`.execute(k)
      ).rows[0]!.id;
      owners.push({ user: user.id, ws });
    }
    owners.push({ user: owners[0]!.user, ws: null });
    // A fixed pseudo-random mix: lists of different depths, priorities, types (the browser's own
    // queue among them), and tests released or running that count as in flight.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const types = Object.values(TestTypes) as TestType[];
    const rows: (SnapshotRow & { list: string | null })[] = [];
    for (let i = 0; i < 90; i++) {
      const owner = owners[i % 7 === 0 ? 3 : next(3)]!;
      const state = next(10);
      const status = state === 0 ? 'running' : 'queued';
      const released = state <= 2;
      const row = (
        await sql<SnapshotRow>`INSERT INTO test_queue (test_id, test_type, url, status, priority, user_id, workspace_id,
            dispatched_at, updated_at)
          VALUES (gen_random_uuid(), ${types[next(types.length)]!}, 'https://lists.example.test/', ${status},
            ${1 + next(3) * 4}, ${owner.user}, ${owner.ws}, ${released ? sql`now()` : null}, now() - interval '1 hour')
          RETURNING id, priority, status, test_type, workspace_id, dispatched_at`.execute(k)
      ).rows[0]!;
      rows.push({ ...row, list: owner.ws });
    }

    const lists = [...new Set(rows.map((r) => r.list))];
    const waiting = rows.filter((r) => r.status === 'queued' && r.dispatched_at === null);
    const inFlight = (list: string | null) =>
      rows.filter((r) => r.list === list && r.dispatched_at !== null).length;
    const fairOrder = (a: SnapshotRow, b: SnapshotRow) =>
      b.priority - a.priority || Number(a.id) - Number(b.id);

    // The dispatcher's heads: each list's first three in the fair order, with its count in flight.
    const heads = await new TestDispatchRepository(k).waitingLists(3, 0, []);
    expect(heads.map((l) => l.workspaceId).sort()).toEqual([...lists].sort());
    for (const list of heads) {
      expect(list.inFlight).toBe(inFlight(list.workspaceId));
      const expected = waiting.filter((r) => r.list === list.workspaceId).sort(fairOrder);
      expect(list.heads.map((h) => h.id)).toEqual(expected.slice(0, 3).map((r) => r.id));
    }

    // A waiting test's place: every released test, then by turn, then priority and age at its turn.
    const turnOf = new Map<string, number>();
    for (const list of lists) {
      for (const queue of new Set(types.map(queueNameOf))) {
        waiting
          .filter((r) => r.list === list && queueNameOf(r.test_type) === queue)
          .sort(fairOrder)
          .forEach((r, i) => turnOf.set(r.id, inFlight(list) + i));
      }
    }
    const releasedQueued = rows.filter((r) => r.status === 'queued' && r.dispatched_at !== null);
    const snapshots = await new TestsRepository(k).queueSnapshots(waiting);
    waiting.forEach((m, i) => {
      const ahead = waiting.filter(
        (t) =>
          queueNameOf(t.test_type) === queueNameOf(m.test_type) &&
          (turnOf.get(t.id)! < turnOf.get(m.id)! ||
            (turnOf.get(t.id) === turnOf.get(m.id) && fairOrder(t, m) < 0)),
      );
      const byType: Partial<Record<TestType, number>> = {};
      for (const t of [...releasedQueued, ...ahead]) byType[t.test_type] = (byType[t.test_type] ?? 0) + 1;
      expect(snapshots[i]!.aheadByType, `test ${m.id}`).toEqual(byType);
      expect(snapshots[i]!.otherWorkspacesAhead ?? 0, `test ${m.id}`).toBe(
        ahead.filter((t) => t.list !== m.list).length,
      );
    });
  });
});

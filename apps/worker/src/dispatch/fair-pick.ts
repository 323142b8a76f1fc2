import type { TestRow } from '@crucible/db';
import type { WaitingList } from '@crucible/db';

/**
 * Hands `free` slots to the waiting lists in turn: each slot goes to the workspace with the fewest
 * tests in flight (released and not finished), so a workspace with nothing running is served
 * before one that already holds slots, and workspaces with as many in flight take turns (round
 * robin). Ties go to the list whose next test has the higher priority, then the older test. Within
 * a workspace its tests go in its own order (priority, then oldest). A workspace at its cap
 * (`maxInFlight`, e.g. a running-tests quota) gets no slot. Returns the tests in the order given.
 */
export function pickFair(
  lists: WaitingList[],
  free: number,
  maxInFlight: (workspaceId: string | null) => number = () => Infinity,
): TestRow[] {
  const turns = lists.map((l) => ({
    inFlight: l.inFlight,
    cap: maxInFlight(l.workspaceId),
    heads: l.heads,
    next: 0,
  }));
  const picked: TestRow[] = [];
  while (picked.length < free) {
    let best: (typeof turns)[number] | undefined;
    for (const t of turns) {
      if (t.next >= t.heads.length || t.inFlight >= t.cap) continue;
      if (!best || before(t, best)) best = t;
    }
    if (!best) break;
    picked.push(best.heads[best.next++]!);
    best.inFlight++;
  }
  return picked;
}

type Turn = { inFlight: number; heads: TestRow[]; next: number };

function before(a: Turn, b: Turn): boolean {
  if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight;
  const x = a.heads[a.next]!;
  const y = b.heads[b.next]!;
  if (x.priority !== y.priority) return x.priority > y.priority;
  return BigInt(x.id) < BigInt(y.id);
}

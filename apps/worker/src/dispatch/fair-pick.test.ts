import { describe, expect, it } from 'vitest';
import type { TestRow, WaitingList } from '@crucible/db';
import { pickFair } from './fair-pick.js';

let nextId = 1;
const row = (name: string, priority = 5) => ({ id: String(nextId++), test_id: name, priority }) as TestRow;
const list = (workspaceId: string, inFlight: number, ...heads: TestRow[]): WaitingList => ({
  workspaceId,
  inFlight,
  heads,
});
const names = (rows: TestRow[]) => rows.map((r) => r.test_id);

describe('pickFair', () => {
  it('gives the next slot to a workspace with nothing in flight, before a backlog that holds slots', () => {
    const a = list('A', 5, row('a1'), row('a2'), row('a3'));
    const b = list('B', 0, row('b1'));
    expect(names(pickFair([a, b], 1))).toEqual(['b1']);
    expect(names(pickFair([a, b], 3))).toEqual(['b1', 'a1', 'a2']);
  });

  it('takes turns between workspaces with as many in flight, a third joining included', () => {
    const a = list('A', 1, row('a1'), row('a2'), row('a3'));
    const b = list('B', 1, row('b1'), row('b2'), row('b3'));
    const c = list('C', 0, row('c1'), row('c2'));
    expect(names(pickFair([a, b, c], 7))).toEqual(['c1', 'a1', 'b1', 'c2', 'a2', 'b2', 'a3']);
  });

  it('keeps each workspace’s own order, priority first, and breaks ties by priority then age', () => {
    const low = row('a-low', 2);
    const high = row('a-high', 9);
    const a = list('A', 0, high, low);
    const b = list('B', 0, row('b-mid', 5));
    expect(names(pickFair([b, a], 3))).toEqual(['a-high', 'b-mid', 'a-low']);
  });

  it('gives a workspace at its cap nothing, and stops when the lists run out', () => {
    const a = list('A', 2, row('a1'));
    const b = list('B', 3, row('b1'), row('b2'));
    expect(names(pickFair([a, b], 5, (ws) => (ws === 'A' ? 2 : Infinity)))).toEqual(['b1', 'b2']);
    expect(pickFair([], 5)).toEqual([]);
  });
});

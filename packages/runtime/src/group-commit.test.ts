import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';
import type { GroupCommitOptions, Settled } from './group-commit.js';

/** A flush that records its batches and finishes each when the test says so. */
function controlled<I>(options: GroupCommitOptions<I>, outcome: (item: I) => Settled<string>) {
  const batches: I[][] = [];
  const gates: { resolve(): void; reject(err: Error): void }[] = [];
  const group = new GroupCommit<I, string>(async (items) => {
    batches.push(items);
    await new Promise<void>((resolve, reject) => gates.push({ resolve, reject }));
    return items.map(outcome);
  }, options);
  return { group, batches, gates };
}

const ok = (item: unknown): Settled<string> => ({ ok: true, value: `ok ${String(item)}` });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('flushes a lone item at once and groups what arrives while a flush is in flight', async () => {
    const { group, batches, gates } = controlled<number>({ maxBatch: 3, maxInFlight: 1 }, ok);
    const first = group.submit(1);
    await expect.poll(() => batches.length).toBe(1);
    expect(batches[0]).toEqual([1]);
    // Arriving during the flush: they wait for it, then go together (at most maxBatch at a time).
    const rest = [2, 3, 4, 5].map((n) => group.submit(n));
    expect(group.pending).toBe(4);
    gates.shift()!.resolve();
    expect(await first).toBe('ok 1');
    await expect.poll(() => batches.length).toBe(2);
    expect(batches[1]).toEqual([2, 3, 4]);
    gates.shift()!.resolve();
    await expect.poll(() => batches.length).toBe(3);
    expect(batches[2]).toEqual([5]);
    gates.shift()!.resolve();
    expect(await Promise.all(rest)).toEqual(['ok 2', 'ok 3', 'ok 4', 'ok 5']);
  });

  it('takes what arrives in the same turn along, and waits windowMs when asked', async () => {
    const { group, batches, gates } = controlled<number>({}, ok);
    const same = [1, 2, 3].map((n) => group.submit(n));
    await tick();
    expect(batches).toEqual([[1, 2, 3]]);
    gates.shift()!.resolve();
    expect(await Promise.all(same)).toEqual(['ok 1', 'ok 2', 'ok 3']);

    const windowed = controlled<number>({ windowMs: 30 }, ok);
    const early = windowed.group.submit(1);
    await tick();
    expect(windowed.batches).toEqual([]);
    const late = windowed.group.submit(2);
    await expect.poll(() => windowed.batches.length).toBe(1);
    expect(windowed.batches[0]).toEqual([1, 2]);
    windowed.gates.shift()!.resolve();
    expect(await Promise.all([early, late])).toEqual(['ok 1', 'ok 2']);
  });

  it('keeps to its slots and batch size, and never writes one key twice at once', async () => {
    const { group, batches, gates } = controlled<string>(
      { key: (item) => item.split(':')[0]!, maxBatch: 3, maxInFlight: 2 },
      ok,
    );
    const results = ['x:1', 'y', 'x:2', 'z', 'w', 'v', 'u'].map((item) => group.submit(item));
    await tick();
    // A full batch goes at once; x:2 never shares a batch with x:1, nor starts while it is under way.
    expect(batches).toEqual([
      ['x:1', 'y'],
      ['z', 'w'],
    ]);
    gates[1]!.resolve();
    await expect.poll(() => batches.length).toBe(3);
    expect(batches[2]).toEqual(['v', 'u']);
    gates[0]!.resolve();
    await expect.poll(() => batches.length).toBe(4);
    expect(batches[3]).toEqual(['x:2']);
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(results)).toEqual(['ok x:1', 'ok y', 'ok x:2', 'ok z', 'ok w', 'ok v', 'ok u']);
  });

  it('gives each item its own outcome, and every item the error of a flush that threw', async () => {
    const { group, batches, gates } = controlled<number>({ maxInFlight: 1 }, (n) =>
      n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : ok(n),
    );
    const good = group.submit(1);
    await expect.poll(() => batches.length).toBe(1);
    const bad = group.submit(-1);
    const fine = group.submit(2);
    gates.shift()!.resolve();
    await expect.poll(() => batches.length).toBe(2);
    gates.shift()!.resolve();
    expect(await good).toBe('ok 1');
    await expect(bad).rejects.toThrow('bad -1');
    expect(await fine).toBe('ok 2');

    // A flush that throws (here: a batch lost with its connection) fails each of its items; the
    // committer goes on with the next.
    const failing = controlled<number>({ maxInFlight: 1 }, ok);
    const first = failing.group.submit(1);
    await expect.poll(() => failing.batches.length).toBe(1);
    const lost = [2, 3].map((n) => failing.group.submit(n));
    failing.gates.shift()!.resolve();
    await first;
    await expect.poll(() => failing.batches.length).toBe(2);
    failing.gates.shift()!.reject(new Error('connection lost'));
    for (const p of lost) await expect(p).rejects.toThrow('connection lost');
    const again = failing.group.submit(2);
    await expect.poll(() => failing.batches.length).toBe(3);
    failing.gates.shift()!.resolve();
    expect(await again).toBe('ok 2');
  });

  it('answers each item of an all-or-nothing writer with its value, in order', async () => {
    const group = new GroupCommit(
      GroupCommit.allOrNothing(async (items: number[]) => items.map((n) => n * 10)),
    );
    expect(await Promise.all([1, 2, 3].map((n) => group.submit(n)))).toEqual([10, 20, 30]);
  });
});

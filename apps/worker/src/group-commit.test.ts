import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A writer whose batches end when the test says so. */
function controlled(options: { maxBatch?: number; maxInFlight?: number } = {}) {
  const batches: { items: string[]; done: ReturnType<typeof deferred<void>> }[] = [];
  const group = new GroupCommit<string, string>({
    key: (item) => item.split(':')[0]!,
    run: async (items) => {
      const done = deferred<void>();
      batches.push({ items, done });
      await done.promise;
      return items.map((item) => `ok ${item}`);
    },
    ...options,
  });
  return { group, batches };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('writes an item at once when a slot is free, and gathers the ones that wait', async () => {
    const { group, batches } = controlled({ maxInFlight: 1 });
    const first = group.submit('a');
    await tick();
    expect(batches.map((b) => b.items)).toEqual([['a']]);
    const waiting = ['b', 'c', 'd'].map((item) => group.submit(item));
    await tick();
    expect(batches).toHaveLength(1);
    batches[0]!.done.resolve();
    expect(await first).toBe('ok a');
    await tick();
    expect(batches.map((b) => b.items)).toEqual([['a'], ['b', 'c', 'd']]);
    batches[1]!.done.resolve();
    expect(await Promise.all(waiting)).toEqual(['ok b', 'ok c', 'ok d']);
  });

  it('keeps to its slots and batch size, and never writes one key twice at once', async () => {
    const { group, batches } = controlled({ maxBatch: 2, maxInFlight: 3 });
    const results = ['x:1', 'y', 'x:2', 'z', 'w', 'v', 'u'].map((item) => group.submit(item));
    await tick();
    // Each goes at once while a slot is free, except x:2: x is under way.
    expect(batches.map((b) => b.items)).toEqual([['x:1'], ['y'], ['z']]);
    batches[1]!.done.resolve();
    await tick();
    expect(batches.map((b) => b.items).slice(3)).toEqual([['w', 'v']]);
    batches[0]!.done.resolve();
    await tick();
    expect(batches.map((b) => b.items).slice(4)).toEqual([['x:2', 'u']]);
    for (const b of batches) b.done.resolve();
    expect(await Promise.all(results)).toEqual(['ok x:1', 'ok y', 'ok x:2', 'ok z', 'ok w', 'ok v', 'ok u']);
  });

  it('fails every item of a failed batch with its error, and goes on with the next', async () => {
    const { group, batches } = controlled({ maxInFlight: 1 });
    const first = group.submit('a');
    const rest = [group.submit('b'), group.submit('c')];
    await tick();
    batches[0]!.done.resolve();
    await first;
    await tick();
    batches[1]!.done.reject(new Error('connection lost'));
    for (const result of rest) await expect(result).rejects.toThrow('connection lost');
    const again = group.submit('b');
    await tick();
    batches[2]!.done.resolve();
    expect(await again).toBe('ok b');
  });
});

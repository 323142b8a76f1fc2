import { describe, expect, it } from 'vitest';
import { UseRecorder } from './use-recorder.js';

function recorder() {
  let now = 1_000_000;
  const writes: Array<Record<string, number>> = [];
  const uses = new UseRecorder(
    async (batch) => {
      writes.push(Object.fromEntries([...batch].map(([id, at]) => [id, at.getTime()])));
    },
    // Flushed by hand: the timer never fires within a test.
    { minIntervalMs: 60_000, flushDelayMs: 3_600_000, now: () => now },
  );
  return { uses, writes, advance: (ms: number) => (now += ms) };
}

describe('UseRecorder', () => {
  it('writes a credential at most once a minute, however often it is used', async () => {
    const { uses, writes, advance } = recorder();
    uses.record('a');
    advance(1_000);
    uses.record('a');
    uses.record('b');
    await uses.flush();
    expect(writes).toEqual([{ a: 1_000_000, b: 1_001_000 }]);

    advance(58_000);
    uses.record('a');
    await uses.flush();
    expect(writes).toHaveLength(1);

    advance(1_000);
    uses.record('a');
    uses.record('b');
    await uses.flush();
    expect(writes).toEqual([{ a: 1_000_000, b: 1_001_000 }, { a: 1_060_000 }]);
  });

  it('goes on after a failed write, which it reports', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const written: string[][] = [];
    const uses = new UseRecorder(
      async (batch) => {
        if (fail) throw new Error('database down');
        written.push([...batch.keys()]);
      },
      { flushDelayMs: 3_600_000, onError: (err) => errors.push(err) },
    );
    uses.record('a');
    await uses.flush();
    expect(errors).toEqual([new Error('database down')]);
    fail = false;
    uses.record('b');
    await uses.flush();
    expect(written).toEqual([['b']]);
  });
});

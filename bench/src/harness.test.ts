import { describe, expect, it } from 'vitest';
import { defineBenchmark, median, runBenchmark } from './harness.js';
import { formatBenchmark } from './report.js';

const quiet = { smoke: true, log: () => {} };
/** A full (not smoke) run: it warms up. */
const full = { smoke: false, log: () => {} };

/** A subject whose successive runs return the given values, recording when it ran. */
function scripted(label: string, values: number[], calls: string[]) {
  let i = 0;
  return {
    label,
    async run() {
      calls.push(label);
      return { rps: values[i++]! };
    },
  };
}

describe('runBenchmark', () => {
  it('warms up, rotates the order each round, and pairs medians into ratios', async () => {
    const calls: string[] = [];
    const result = await runBenchmark(
      defineBenchmark({
        name: 'pair',
        description: 'two subjects',
        async run(ctx) {
          await ctx.compare({
            title: 'rps',
            metrics: [{ key: 'rps', label: 'req/s', better: 'higher' }],
            // warm-up value first (discarded), then three rounds
            crucible: scripted('c', [999, 10, 30, 20], calls),
            anchors: [scripted('a', [999, 5, 4, 6], calls)],
            targets: [{ anchor: 'a', metric: 'rps', text: '≥ 5×', met: (c, a) => c >= 5 * a }],
          });
        },
      }),
      full,
    );
    expect(calls).toEqual(['c', 'a', 'c', 'a', 'a', 'c', 'c', 'a']);
    expect(result.error).toBeNull();
    const [row] = result.comparisons[0]!.rows;
    expect(row).toMatchObject({
      crucible: { samples: [10, 30, 20], median: 20, min: 10, max: 30 },
      anchor: { samples: [5, 4, 6], median: 5, min: 4, max: 6 },
      ratio: 4,
      target: { text: '≥ 5×', met: false },
    });
    expect(formatBenchmark(result)).toContain(
      '| req/s | c | 20.0 (10.0–30.0) | a | 5.00 (4.00–6.00) | 4.00× | ≥ 5×: **missed** |',
    );
  });

  it('skips the warm-up in a smoke run, and still records every round', async () => {
    const calls: string[] = [];
    const result = await runBenchmark(
      defineBenchmark({
        name: 'smoke',
        description: 'no warm-up',
        async run(ctx) {
          await ctx.compare({
            title: 'rps',
            metrics: [{ key: 'rps', label: 'req/s', better: 'higher' }],
            crucible: scripted('c', [10, 30, 20], calls),
            anchors: [scripted('a', [5, 4, 6], calls)],
          });
        },
      }),
      quiet,
    );
    expect(calls).toEqual(['c', 'a', 'a', 'c', 'c', 'a']);
    expect(result.comparisons[0]!.rows[0]).toMatchObject({ crucible: { samples: [10, 30, 20] } });
  });

  it('leaves out the rows of a metric an anchor does not give', async () => {
    const result = await runBenchmark(
      defineBenchmark({
        name: 'partial',
        description: 'an anchor without a database',
        async run(ctx) {
          await ctx.compare({
            title: 'two metrics',
            metrics: [
              { key: 'rps', label: 'req/s', better: 'higher' },
              { key: 'pg', label: 'PostgreSQL µs', better: 'lower' },
            ],
            crucible: { label: 'c', run: async () => ({ rps: 10, pg: 3 }) },
            anchors: [
              { label: 'db', run: async () => ({ rps: 5, pg: 6 }) },
              { label: 'bare', run: async () => ({ rps: 20 }) },
            ],
          });
        },
      }),
      quiet,
    );
    expect(result.error).toBeNull();
    expect(result.comparisons[0]!.rows.map((r) => [r.metric, r.anchor.label, r.ratio])).toEqual([
      ['req/s', 'db', 2],
      ['PostgreSQL µs', 'db', 0.5],
      ['req/s', 'bare', 0.5],
    ]);
  });

  it('runs every clean-up in reverse order when a benchmark fails, and reports the failure', async () => {
    const order: number[] = [];
    const result = await runBenchmark(
      defineBenchmark({
        name: 'broken',
        description: 'fails half-way',
        async run(ctx) {
          ctx.defer(() => order.push(1));
          ctx.defer(() => order.push(2));
          await ctx.compare({
            title: 'nan',
            metrics: [{ key: 'rps', label: 'req/s', better: 'higher' }],
            crucible: { label: 'c', run: async () => ({ rps: Number.NaN }) },
            anchors: [],
          });
        },
      }),
      quiet,
    );
    expect(order).toEqual([2, 1]);
    expect(result.error).toContain('c gave no finite value for rps');
    expect(result.comparisons).toEqual([]);
  });

  it('records a skip with its reason, not as a failure', async () => {
    const result = await runBenchmark(
      defineBenchmark({
        name: 'later',
        description: 'needs something missing',
        async run(ctx) {
          ctx.note('kept');
          ctx.skip('the engine has not landed');
        },
      }),
      quiet,
    );
    expect(result).toMatchObject({ skipped: 'the engine has not landed', error: null, notes: ['kept'] });
  });

  it('sizes by mode and never runs fewer than three rounds', async () => {
    const seen: unknown[] = [];
    const bench = defineBenchmark({
      name: 'size',
      description: 'reads its context',
      async run(ctx) {
        seen.push(ctx.size('full', 'tiny'), ctx.rounds);
      },
    });
    await runBenchmark(bench, { smoke: false, rounds: 1, log: () => {} });
    await runBenchmark(bench, { smoke: true, rounds: 5, log: () => {} });
    expect(seen).toEqual(['full', 3, 'tiny', 5]);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

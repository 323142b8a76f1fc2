import { describe, expect, it } from 'vitest';
import { formatBenchmark } from '../src/report.js';
import { failuresIn } from './smoke.js';

describe('a failed smoke run', () => {
  it('says which benchmark failed and why, from the report, before anything else', () => {
    const result = (name: string, error: string | null) => ({
      name,
      description: `${name}, measured`,
      durationMs: 1,
      comparisons: [],
      notes: ['a note'],
      skipped: null,
      error,
    });
    const stdout = [
      formatBenchmark(result('stress', null)),
      formatBenchmark(result('scale', 'Error: worker-3 exited with code 1\n    at start (stack.ts:9:1)')),
      formatBenchmark(result('notify', null)),
    ].join('\n');
    expect(failuresIn(stdout)).toBe(
      'scale failed: Error: worker-3 exited with code 1\n    at start (stack.ts:9:1)',
    );
    expect(failuresIn(formatBenchmark(result('stress', null)))).toBe('');
  });
});

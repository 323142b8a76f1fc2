import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { TestDetail } from '@crucible/contracts/api';
import { reportOf } from './report.js';
import { formatSummary } from './summary.js';

describe('a stress test an abortOnFail threshold stopped', () => {
  const test = {
    testId: 't1',
    testType: 'stress',
    url: 'http://127.0.0.1:1/',
    name: null,
    status: 'completed',
    verdict: 'failed',
    startedAt: '2026-12-06T06:00:00.000Z',
    completedAt: '2026-12-06T06:00:03.000Z',
    errorMessage: null,
    result: {
      thresholds: [
        {
          expression: 'errors.rate < 0.05',
          metric: 'errors.rate',
          op: '<',
          limit: 0.05,
          actual: 0.2,
          passed: false,
        },
      ],
      aborted: { threshold: 'errors.rate < 0.05', atSec: 2, actual: 0.2 },
    },
  } as unknown as TestDetail;

  it('reports and prints which threshold stopped it, and when', () => {
    const report = reportOf({ type: 'stress', target: test.url }, test, 'http://x/tests/t1');
    expect(report.aborted).toEqual({ threshold: 'errors.rate < 0.05', atSec: 2, actual: 0.2 });
    expect(formatSummary(report, undefined, pc.createColors(false))).toContain(
      'stopped early: threshold "errors.rate < 0.05" failed 2 s into the load (actual 0.2)',
    );
  });

  it('reports nothing of the kind for a test that ran to its end', () => {
    const report = reportOf(
      { type: 'stress', target: test.url },
      { ...test, result: {} },
      'http://x/tests/t1',
    );
    expect(report.aborted).toBeUndefined();
  });
});

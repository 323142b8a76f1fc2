import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verdictOf } from './catalog.js';
import { judgeResult } from './judging.js';
import {
  InvalidThresholdError,
  THRESHOLD_OPERATORS,
  evaluateThresholds,
  formatThreshold,
  liveBreach,
  parseDelaySec,
  parseThreshold,
  stressConfigThresholds,
  validateThresholds,
} from './thresholds.js';

const metricName = fc
  .array(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('.'));
const threshold = fc.record({
  metric: metricName,
  op: fc.constantFrom(...THRESHOLD_OPERATORS),
  limit: fc.double({ noNaN: true, noDefaultInfinity: true }),
});

describe('parseThreshold', () => {
  it('reads back every threshold it formats, whatever the spacing', () => {
    fc.assert(
      fc.property(threshold, fc.constantFrom('', ' ', '  ', '\t'), (t, space) => {
        expect(parseThreshold(formatThreshold(t))).toEqual(t);
        const spaced = `${space}${t.metric}${space}${t.op}${space}${formatThreshold(t).split(' ')[2]}${space}`;
        expect(parseThreshold(spaced)).toEqual(t);
      }),
    );
  });

  it('never crashes: any input is a threshold or an InvalidThresholdError', () => {
    const anyText = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.tuple(metricName, fc.string({ maxLength: 4 }), fc.string({ maxLength: 12 })).map((p) => p.join(' ')),
    );
    fc.assert(
      fc.property(anyText, (text) => {
        try {
          const t = parseThreshold(text);
          expect(THRESHOLD_OPERATORS).toContain(t.op);
          expect(Number.isFinite(t.limit)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidThresholdError);
          expect((err as InvalidThresholdError).expression).toBe(text);
        }
      }),
    );
  });

  it('says what is wrong: a bad operator, a non-number, no number, no shape at all', () => {
    const reason = (e: string) => {
      try {
        parseThreshold(e);
      } catch (err) {
        return (err as Error).message;
      }
      return 'parsed';
    };
    expect(reason('latency.p95 <> 300')).toBe(
      'threshold "latency.p95 <> 300": unknown operator "<>" (one of <= >= == != < >)',
    );
    expect(reason('latency.p95 < fast')).toBe('threshold "latency.p95 < fast": "fast" is not a number');
    expect(reason('latency.p95 < 1e999')).toBe('threshold "latency.p95 < 1e999": "1e999" is not a number');
    expect(reason('latency.p95 <')).toBe('threshold "latency.p95 <": a number must follow the operator');
    expect(reason('latency.p95 300')).toMatch(/expected "<metric> <op> <number>"/);
    expect(parseThreshold('errors.rate<=.05')).toEqual({ metric: 'errors.rate', op: '<=', limit: 0.05 });
  });
});

describe('validateThresholds', () => {
  it('refuses a metric the type does not have, and more than 20', () => {
    expect(() => validateThresholds('performance', ['latency.p95 < 300'])).toThrow(
      'performance tests have no metric "latency.p95"',
    );
    expect(validateThresholds('stress', ['latency.p95 < 300'])).toEqual([
      { metric: 'latency.p95', op: '<', limit: 300 },
    ]);
    expect(() =>
      validateThresholds(
        'seo',
        Array.from({ length: 21 }, () => 'score >= 80'),
      ),
    ).toThrow('at most 20 thresholds, 21 given');
  });
});

describe('evaluateThresholds', () => {
  it('judges each in order; a metric measured as null fails', () => {
    const metrics = { 'latency.p95': 250, rps: null };
    expect(evaluateThresholds(['latency.p95 < 300', 'latency.p95 != 250', 'rps >= 1'], metrics)).toEqual([
      {
        expression: 'latency.p95 < 300',
        metric: 'latency.p95',
        op: '<',
        limit: 300,
        actual: 250,
        passed: true,
      },
      {
        expression: 'latency.p95 != 250',
        metric: 'latency.p95',
        op: '!=',
        limit: 250,
        actual: 250,
        passed: false,
      },
      { expression: 'rps >= 1', metric: 'rps', op: '>=', limit: 1, actual: null, passed: false },
    ]);
  });

  it("translates stress's config thresholds into the language, in the engine's order", () => {
    expect(stressConfigThresholds({ minRps: 50, errorRatePct: 5, p95Ms: 300 })).toEqual([
      'latency.p95 <= 300',
      'errors.rate <= 0.05',
      'rps >= 50',
    ]);
  });
});

describe('verdict of a judged result', () => {
  const seo = { score: 72, counts: { pass: 10, warn: 3, fail: 2 } };
  it('is none with nothing to judge, passed when every threshold holds, failed when one does not', () => {
    const judged = (thresholds: string[]) => judgeResult('seo', {}, { thresholds }, [seo]);
    expect(verdictOf('seo', judged([]))).toBe('none');
    expect(verdictOf('seo', judged(['score >= 70', 'issues.error <= 2']))).toBe('passed');
    expect(verdictOf('seo', judged(['score >= 70', 'issues.error == 0']))).toBe('failed');
  });

  it('fails an api test whose own check failed even when every threshold holds', () => {
    const api = { passed: false, totals: { assertions: 2, assertionsFailed: 1 }, steps: [] };
    expect(verdictOf('api', judgeResult('api', {}, { thresholds: ['checks.passed >= 1'] }, [api]))).toBe(
      'failed',
    );
  });
});

describe('abortOnFail', () => {
  const live = { 'errors.rate': 0.2, 'latency.p95': 120, rps: 50, 'requests.total': 100 };

  it('names the first aborting threshold the live figures fail, past its delay', () => {
    const abortOn = [
      { expression: 'latency.p95 < 500' },
      { expression: 'errors.rate < 0.05', delayAbortEvalSec: 3 },
    ];
    expect(liveBreach(abortOn, live, 2)).toBeNull();
    expect(liveBreach(abortOn, live, 3)).toEqual({ threshold: 'errors.rate < 0.05', atSec: 3, actual: 0.2 });
    // Nothing measured yet is no failure yet.
    expect(liveBreach(abortOn, { ...live, 'errors.rate': null }, 5)).toBeNull();
  });

  it('reads k6 durations', () => {
    expect([parseDelaySec('5s'), parseDelaySec('500ms'), parseDelaySec('1m'), parseDelaySec('soon')]).toEqual(
      [5, 0.5, 60, NaN],
    );
  });

  it('fails the threshold that aborted the test whatever the partial figures say', () => {
    const result = {
      totals: { requests: 10, rps: 5 },
      errorRatePct: 0,
      latency: null,
      aborted: { threshold: 'rps > 1' },
    };
    const judged = judgeResult('stress', {}, { thresholds: ['rps > 1'] }, [result]);
    expect(judged.thresholds.map((t) => [t.expression, t.actual, t.passed])).toEqual([['rps > 1', 5, false]]);
  });
});

import { describe, expect, it } from 'vitest';
import { verdictOf } from './catalog.js';

describe('verdictOf', () => {
  it('fails an api test with a failed step, passes one whose assertions held, judges none without any', () => {
    expect(verdictOf('api', { passed: false, totals: { assertions: 0 } })).toBe('failed');
    expect(verdictOf('api', { passed: false, totals: { assertions: 3 } })).toBe('failed');
    expect(verdictOf('api', { passed: true, totals: { assertions: 3 } })).toBe('passed');
    expect(verdictOf('api', { passed: true, totals: { assertions: 0 } })).toBe('none');
  });

  it('judges a stress test by its thresholds only when it had some', () => {
    const threshold = { name: 'minRps', limit: 10, actual: 5, passed: false };
    expect(verdictOf('stress', { passed: false, thresholds: [threshold] })).toBe('failed');
    expect(verdictOf('stress', { passed: true, thresholds: [{ ...threshold, passed: true }] })).toBe(
      'passed',
    );
    expect(verdictOf('stress', { passed: true, thresholds: [] })).toBe('none');
  });

  it('judges nothing for performance, seo and security, whatever their scores', () => {
    for (const type of ['performance', 'seo', 'security'] as const) {
      expect(verdictOf(type, { passed: false, summary: { score: 0 } })).toBe('none');
    }
  });

  it('reads a malformed stored result as nothing judged, never throws', () => {
    expect(verdictOf('api', null)).toBe('none');
    expect(verdictOf('stress', 'text')).toBe('none');
  });
});

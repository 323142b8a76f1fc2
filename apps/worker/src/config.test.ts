import { describe, expect, it } from 'vitest';
import { parseTestConfig } from './config.js';
import { EngineError } from './errors.js';

describe('parseTestConfig', () => {
  it('fills the catalogue defaults', () => {
    expect(parseTestConfig('performance', {})).toEqual({ iterations: 3, timeoutMs: 15_000 });
    expect(parseTestConfig('performance', undefined)).toEqual({ iterations: 3, timeoutMs: 15_000 });
    expect(parseTestConfig('performance', { iterations: 7 })).toEqual({ iterations: 7, timeoutMs: 15_000 });
    expect(parseTestConfig('stress', {})).toMatchObject({ connections: 10, durationSec: 10, mode: 'load' });
  });

  it('names the field that breaks the schema, as a non-retryable engine error', () => {
    expect(() => parseTestConfig('performance', { iterations: 21 })).toThrow(/^config\.iterations: /);
    expect(() => parseTestConfig('performance', { iterations: 2.5 })).toThrow(/^config\.iterations: /);
    expect(() => parseTestConfig('performance', { timeoutMs: '5000' })).toThrow(/^config\.timeoutMs: /);
    expect(() => parseTestConfig('performance', { extra: true })).toThrow(/^config/);
    try {
      parseTestConfig('stress', { mode: 'hammer' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/^config\.mode: /);
    }
  });
});

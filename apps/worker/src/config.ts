import { InvalidConfigError, validateTestConfig } from '@crucible/contracts';
import type { TestType } from '@crucible/contracts';
import { EngineError } from './errors.js';

/** Re-validates a job's config with the catalogue (the job may come from an older API); never retried. */
export function parseTestConfig(testType: TestType, config: unknown): Record<string, unknown> {
  try {
    return validateTestConfig(testType, config);
  } catch (err) {
    if (err instanceof InvalidConfigError) throw new EngineError('INVALID_CONFIG', err.message);
    throw err;
  }
}

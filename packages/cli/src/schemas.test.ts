import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { publishedSchemas, schemaText } from './schemas.js';

const published = (file: string) => readFileSync(new URL(`../schemas/${file}`, import.meta.url), 'utf8');

describe('published schemas', () => {
  it('are the TypeBox schemas as generated (pnpm --filter @crucible/cli schemas)', () => {
    for (const [file, schema] of Object.entries(publishedSchemas()))
      expect(published(file)).toBe(schemaText(schema));
  });

  it('validate a checks file an editor would check, and name what is wrong in a bad one', () => {
    const validate = new Ajv({ strict: false }).compile(JSON.parse(published('checks.schema.json')));
    const good = {
      checks: [
        {
          name: 'home',
          type: 'stress',
          target: 'https://example.com/',
          config: { connections: 5 },
          thresholds: ['latency.p95 < 300'],
        },
      ],
    };
    expect(validate(good)).toBe(true);
    expect(
      validate({
        checks: [{ name: 'home', type: 'stress', target: 'https://example.com/', config: { connection: 5 } }],
      }),
    ).toBe(false);
    expect(validate({ checks: [{ name: 'x', type: 'load', target: 'https://example.com/' }] })).toBe(false);
  });
});

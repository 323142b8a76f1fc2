import { describe, expect, it } from 'vitest';
import { ownerOf, summarize } from './profile-summary.js';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });

describe('profile summary', () => {
  it('attributes each script to its package, to Crucible, to node or to V8', () => {
    expect(ownerOf('file:///r/node_modules/.pnpm/pg@8/node_modules/pg/lib/client.js')).toBe('pg');
    expect(ownerOf('file:///r/node_modules/.pnpm/x/node_modules/@fastify/ajv-compiler/index.js')).toBe(
      '@fastify/ajv-compiler',
    );
    expect(ownerOf('file:///r/apps/api/src/app.ts')).toBe('crucible:apps/api');
    expect(ownerOf('node:internal/streams')).toBe('node');
    expect(ownerOf('')).toBe('(v8)');
  });

  it("counts self time where samples land and inclusive time up Crucible's own frames", () => {
    const text = summarize({
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2] },
        { id: 2, callFrame: frame('submit', 'file:///r/apps/api/src/tests.service.ts'), children: [3, 4] },
        { id: 3, callFrame: frame('query', 'file:///r/node_modules/pg/lib/client.js') },
        { id: 4, callFrame: frame('parse', 'node:internal/json') },
      ],
      samples: [3, 3, 3, 4],
      timeDeltas: [250_000, 250_000, 250_000, 250_000],
    });
    expect(text).toContain('1.0 s sampled');
    expect(text).toContain(' 75.0 %  pg');
    expect(text).toContain(' 25.0 %  parse node:internal/json:1');
    expect(text).toMatch(
      /inclusive time in Crucible's own functions:\n {2}100\.0 % {2}submit apps\/api\/src\/tests\.service\.ts:1/,
    );
  });
});

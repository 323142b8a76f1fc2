import { describe, expect, it } from 'vitest';
import { SMOKE_GROUPS, listed, smoke } from './smoke.js';

describe('pnpm bench --smoke (first half)', () => {
  it('the two halves hold every benchmark once', async () => {
    const all = await listed();
    expect(all).toContain('accept');
    expect([...SMOKE_GROUPS.a, ...SMOKE_GROUPS.b].sort()).toEqual([...all].sort());
  });

  it(`runs ${SMOKE_GROUPS.a.join(', ')} and reports each figure beside its anchor`, () =>
    smoke(SMOKE_GROUPS.a));
});

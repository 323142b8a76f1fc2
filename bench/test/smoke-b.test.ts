import { describe, it } from 'vitest';
import { SMOKE_GROUPS, smoke } from './smoke.js';

describe('pnpm bench --smoke (second half)', () => {
  it(`runs ${SMOKE_GROUPS.b.join(', ')} and reports each figure beside its anchor`, () =>
    smoke(SMOKE_GROUPS.b));
});

import { describe, expect, it } from 'vitest';
import { cli } from './smoke.js';

describe('pnpm bench, asked wrongly', () => {
  it('says what was wrong in one line and the usage, exit 2; --help prints the usage, exit 0', async () => {
    const failed = await cli(['--frob']).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr?.trim().split('\n')).toEqual([
      "Unknown option '--frob'",
      expect.stringMatching(/^usage: pnpm bench /),
    ]);
    const unknown = await cli(['nosuch']).catch((err: { code?: number; stderr?: string }) => err);
    expect(unknown).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^unknown benchmark\(s\): nosuch;/),
    });
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/^usage: pnpm bench /);
  });
});

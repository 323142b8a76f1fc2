import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILE_PREFIX, sweepOrphans } from '../../src/engines/browser/chromium.js';

// A worker killed with SIGKILL runs no exit handler: its browsers live on. The next worker to launch
// a browser finds them by their profile, named after the dead worker's pid, and kills them.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('orphan browsers', () => {
  it("kills the process group of a dead worker's browser and removes its profile, and leaves a live worker's alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crucible-sweep-test-'));
    dirs.push(dir);
    // A pid that is certainly not running: a finished child's.
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    const deadProfile = join(dir, `${PROFILE_PREFIX}${gone.pid}-abc`);
    const liveProfile = join(dir, `${PROFILE_PREFIX}${process.pid}-def`);
    mkdirSync(deadProfile);
    mkdirSync(liveProfile);
    const orphan = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 1000)', '--', `--user-data-dir=${deadProfile}`],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => orphan.once('exit', resolve));
    expect(alive(orphan.pid!)).toBe(true);
    expect(sweepOrphans(dir)).toBe(1);
    await exited;
    expect(alive(orphan.pid!)).toBe(false);
    expect(existsSync(deadProfile)).toBe(false);
    expect(existsSync(liveProfile)).toBe(true);
  });
});

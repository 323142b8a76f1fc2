import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

import { freePort } from '@crucible/db/testing';

export { freePort };

export interface AppProcess {
  name: string;
  child: ChildProcess;
  output: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `entry` (a TypeScript file under the repo) as its own Node.js process through tsx. */
export function startProcess(name: string, entry: string, env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls a URL until it answers 200, failing with the process output if the process dies first. */
export async function waitForReady(url: string, proc: AppProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited early:\n${proc.output()}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${proc.name} not ready at ${url}:\n${proc.output()}`);
}

/**
 * Starts `entry` on a `freePort()` (`envOf(port)`) and waits until `readyPath` answers there; on a
 * new port when another process took that one first: the port is released before the child binds
 * it, and the other lane's suites draw ports too (EADDRINUSE in CI, 2026-12-06).
 */
export async function startOnFreePort(
  name: string,
  entry: string,
  envOf: (port: number) => Record<string, string>,
  readyPath: string,
  timeoutMs?: number,
): Promise<AppProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = startProcess(name, entry, envOf(port));
    try {
      await waitForReady(`http://127.0.0.1:${port}${readyPath}`, proc, timeoutMs);
      return proc;
    } catch (err) {
      if (attempt === 3 || !proc.output().includes('EADDRINUSE')) {
        await proc.stop('SIGKILL');
        throw err;
      }
    }
  }
}

/** `POST /api/admin/queue-board/session` as a token's user: the status and the board's cookie, if set. */
export async function openQueueBoard(apiUrl: string, token?: string) {
  const res = await fetch(`${apiUrl}/api/admin/queue-board/session`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  await res.arrayBuffer();
  const set = res.headers.getSetCookie().find((c) => c.startsWith('crucible_queue_board='));
  return { status: res.status, cookie: set?.split(';')[0] };
}

/** What bull-board's own API lists of the tests queue in one state, read with a board cookie. */
export async function boardQueue(apiUrl: string, cookie: string | undefined, state = 'latest') {
  const res = await fetch(`${apiUrl}/admin/queues/api/queues?activeQueue=tests&status=${state}&page=1`, {
    headers: cookie ? { cookie } : {},
  });
  const body = (await res.json()) as {
    queues?: {
      name: string;
      counts: Record<string, number>;
      jobs: { id: string; data: { testId: string } }[];
    }[];
  };
  return { status: res.status, queue: body.queues?.find((q) => q.name === 'tests') };
}

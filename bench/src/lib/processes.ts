import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export { freePort } from '@crucible/db/testing';

/** Preloaded into every started process: it stops itself if the benchmark dies without stopping it. */
const EXIT_WITH_PARENT = './bench/src/lib/exit-with-parent.mjs';

export interface ChildApp {
  name: string;
  child: ChildProcess;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `entry` (a TypeScript file, relative to the repo root) as its own Node.js process through
 * tsx, so a server never shares an event loop with the load generator measuring it. If this
 * process dies without stopping it, it stops itself (SIGTERM) within a second or so.
 * `nodeArgs` reach node itself (e.g. `--cpu-prof`).
 */
export function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): ChildApp {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', EXIT_WITH_PARENT, '--import', 'tsx', entry],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const keep = (d: Buffer) => {
    // The tail is what explains a crash; a chatty process must not grow this without bound.
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Polls a URL until it answers 200, failing with the process output if the process dies first. */
export async function waitForReady(url: string, proc: ChildApp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited early:\n${proc.output()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} not ready at ${url}:\n${proc.output()}`);
}

/** Waits until a process has printed `text` (for a process with no HTTP port to poll). */
export async function waitForOutput(proc: ChildApp, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes(text)) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited early:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${proc.name} never printed "${text}":\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { BrowserConfig } from '@crucible/contracts';
import type { Lhr } from './report.js';

/** What the Lighthouse child is asked to do. */
export interface LighthouseTask {
  url: string;
  config: BrowserConfig;
  /** DevTools port of the Chromium to drive. */
  port: number;
  /** Where the child writes the result (JSON). */
  outFile: string;
}

/** The child's entry: TypeScript under tsx and vitest, the bundle's `lighthouse.child.js` in production. */
const CHILD_FILE = new URL(
  `./lighthouse.child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

/** A TypeScript entry needs tsx, which `node --import tsx` passes on but vitest does not. */
function childExecArgv(): string[] {
  const loadsTs = CHILD_FILE.pathname.endsWith('.ts');
  if (!loadsTs || process.execArgv.some((arg) => arg.includes('tsx'))) return process.execArgv;
  return [...process.execArgv, '--import', 'tsx'];
}

/** Children alive now: killed with the worker, however it exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Runs one Lighthouse audit in a child process; an abort kills the child at once. */
export function runLighthouseProcess(task: LighthouseTask, signal: AbortSignal): Promise<Lhr> {
  signal.throwIfAborted();
  return new Promise<Lhr>((resolve, reject) => {
    const child = fork(CHILD_FILE, [], {
      execArgv: childExecArgv(),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(child);
    let stderr = '';
    let answer: { ok: boolean; error?: string } | undefined;
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
    child.once('message', (message: { ok: boolean; error?: string }) => (answer = message));
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('exit', (code, sig) => {
      live.delete(child);
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(signal.reason as Error);
      if (answer?.ok) {
        try {
          return resolve(JSON.parse(readFileSync(task.outFile, 'utf8')) as Lhr);
        } catch (err) {
          return reject(err as Error);
        }
      }
      reject(new Error(answer?.error ?? `Lighthouse exited with ${sig ?? `code ${code}`}: ${stderr.trim()}`));
    });
    child.send(task);
  });
}

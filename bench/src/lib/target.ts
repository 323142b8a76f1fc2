import type { BenchContext } from '../harness.js';
import { freePort, startProcess, waitForReady } from './processes.js';

export interface Target {
  /** `http://127.0.0.1:…/` */
  url: string;
  /** Requests the target has served so far (its own counter, whoever sent them). */
  served(): Promise<number>;
}

/** Starts the trivial target site in a process of its own. */
export async function startTarget(ctx: BenchContext): Promise<Target> {
  const port = await freePort();
  const proc = startProcess('target', 'bench/src/anchors/target-server.ts', { PORT: String(port) });
  ctx.defer(() => proc.stop());
  const url = `http://127.0.0.1:${port}/`;
  await waitForReady(`${url}__served`, proc);
  return {
    url,
    async served() {
      const res = await fetch(`${url}__served`);
      return ((await res.json()) as { served: number }).served;
    },
  };
}

/**
 * Calls `send(i)` for i = 0…count-1 at a fixed rate, on a schedule that does not wait for answers
 * (an open loop, as real clients arrive: a slow answer must not slow the arrivals and hide its own
 * latency). Resolves when every call has settled; rejects with the first failure.
 */
export async function atRate(
  perSecond: number,
  count: number,
  send: (i: number) => Promise<void>,
): Promise<void> {
  const interval = 1000 / perSecond;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(send(i));
  }
  await Promise.all(inflight);
}

/** Polls `done` until it returns true, failing after `timeoutMs` with what `describe` says. */
export async function until(
  done: () => boolean | Promise<boolean>,
  {
    timeoutMs,
    intervalMs = 20,
    describe,
  }: { timeoutMs: number; intervalMs?: number; describe: () => string },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Preloaded (`node --expose-gc --import ./bench/src/lib/gc-on-signal.mjs`) into a server whose
// memory a benchmark reads: SIGUSR2 runs a full collection and prints `[gc <n>]` once it is done,
// with what V8 then holds (KiB), so every server is read in the same state and the output says
// where its memory is (see `collectGarbage` in benchmarks/gateway/fanout.ts).
import process from 'node:process';
import v8 from 'node:v8';

let n = 0;
process.on('SIGUSR2', () => {
  globalThis.gc();
  const kib = (bytes) => Math.round(bytes / 1024);
  const m = process.memoryUsage();
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  process.stderr.write(
    `[gc ${++n}] rss ${kib(m.rss)} heapTotal ${kib(m.heapTotal)} heapUsed ${kib(m.heapUsed)} ` +
      `external ${kib(m.external)} old_space ${kib(old?.space_size ?? 0)} (used ${kib(old?.space_used_size ?? 0)})\n`,
  );
});

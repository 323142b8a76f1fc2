import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Benchmark } from './harness.js';
import { runBenchmarks } from './harness.js';
import { formatBenchmark, formatHeader, writeReport } from './report.js';

const BENCHMARKS_DIR = fileURLToPath(new URL('./benchmarks/', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../results/', import.meta.url));

/** Every `src/benchmarks/<name>.bench.ts`, in the order: adding a file is all it takes. */
export async function discoverBenchmarks(): Promise<Benchmark[]> {
  const files = (await readdir(BENCHMARKS_DIR)).filter((f) => f.endsWith('.bench.ts'));
  const loaded = await Promise.all(
    files.map(async (f) => {
      const mod = (await import(pathToFileURL(`${BENCHMARKS_DIR}${f}`).href)) as { default: Benchmark };
      return mod.default;
    }),
  );
  return loaded.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.name.localeCompare(b.name));
}

const USAGE =
  'usage: pnpm bench [--smoke] [--rounds N] [--out DIR] [--list] [name …] (no name: every benchmark)';

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        smoke: { type: 'boolean', default: process.env.BENCH_SMOKE === '1' },
        rounds: { type: 'string', default: '3' },
        out: { type: 'string', default: process.env.BENCH_RESULTS_DIR ?? DEFAULT_OUT },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    // An unknown or malformed option: one line and the usage, not a stack trace.
    console.error(`${(err as Error).message.split('. ')[0]}\n${USAGE}`);
    process.exit(2);
  }
}
const { values, positionals } = parse();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const all = await discoverBenchmarks();
if (values.list) {
  for (const b of all) console.log(`${b.name}\t${b.description}`);
  process.exit(0);
}
const unknown = positionals.filter((name) => !all.some((b) => b.name === name));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = positionals.length ? all.filter((b) => positionals.includes(b.name)) : all;
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 3) {
  console.error('--rounds must be an integer ≥ 3');
  process.exit(2);
}

const command = ['pnpm bench', ...process.argv.slice(2)].join(' ');
const report = await runBenchmarks(selected, {
  smoke: values.smoke!,
  rounds,
  command,
  onStart: (started) => console.log(formatHeader(started)),
  onResult: (result) => console.log(formatBenchmark(result)),
});
console.log(
  `Load average at end ${report.machine.loadavgAtEnd.map((l) => l.toFixed(2)).join(' / ')}; ` +
    `${Math.round((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000)} s in all.`,
);
const path = await writeReport(report, values.out!);
console.error(`results written to ${path}`);
process.exit(report.benchmarks.some((b) => b.error) ? 1 : 0);

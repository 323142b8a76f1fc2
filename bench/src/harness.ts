import { cpus, loadavg, totalmem } from 'node:os';

/** One figure a subject produces per round, e.g. `{ key: 'rps', label: 'req/s', better: 'higher' }`. */
export interface Metric {
  key: string;
  label: string;
  better: 'higher' | 'lower';
}

/** Something measured: Crucible, or the bare tool it is compared with. */
export interface Subject {
  label: string;
  /** Runs one round and returns a value for every metric key of the comparison. */
  run(): Promise<Record<string, number>>;
}

/** A goal from the issue, judged on the medians of one row. */
export interface Target {
  anchor: string;
  metric: string;
  text: string;
  met(crucible: number, anchor: number): boolean;
}

export interface Comparison {
  title: string;
  metrics: Metric[];
  crucible: Subject;
  anchors: Subject[];
  targets?: Target[];
  /** Runs each subject once, unrecorded, before the rounds; default true. */
  warmup?: boolean;
}

export interface Stats {
  label: string;
  samples: number[];
  median: number;
  min: number;
  max: number;
}

export interface Row {
  metric: string;
  better: 'higher' | 'lower';
  crucible: Stats;
  anchor: Stats;
  /** crucible median / anchor median. */
  ratio: number;
  target: { text: string; met: boolean } | null;
}

export interface ComparisonResult {
  title: string;
  rows: Row[];
}

export interface BenchmarkResult {
  name: string;
  description: string;
  durationMs: number;
  comparisons: ComparisonResult[];
  notes: string[];
  /** Why the benchmark did not run (a missing dependency, not a failure). */
  skipped: string | null;
  /** The failure that stopped it, if any. */
  error: string | null;
}

export interface BenchContext {
  /** Tiny sizes: proves the benchmark works, measures nothing worth quoting. */
  smoke: boolean;
  /** Recorded rounds per subject (at least 3). */
  rounds: number;
  /** The full size, or the smoke size in smoke mode. */
  size<T>(full: T, smoke: T): T;
  /** Measures Crucible and its anchors round by round and records the rows. */
  compare(comparison: Comparison): Promise<ComparisonResult>;
  /** Registers a clean-up; all run in reverse order when the benchmark ends, even if it failed. */
  defer(cleanup: () => unknown): void;
  /** A sentence printed under the benchmark's table (what caps a figure, what was left out). */
  note(text: string): void;
  /** Stops the benchmark as skipped, with the reason printed in its place. */
  skip(reason: string): never;
  /** Progress on stderr, so stdout keeps only the tables. */
  log(text: string): void;
}

export interface Benchmark {
  /** What `pnpm bench <name>` selects. */
  name: string;
  description: string;
  /** Position in a full run (the numbering); default 100. */
  order?: number;
  run(ctx: BenchContext): Promise<void>;
}

/** Identity, for the types: `export default defineBenchmark({...})` in `src/benchmarks/<name>.bench.ts`. */
export function defineBenchmark(benchmark: Benchmark): Benchmark {
  return benchmark;
}

class Skip extends Error {}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function stats(label: string, samples: number[]): Stats {
  return { label, samples, median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

async function measure(
  comparison: Comparison,
  rounds: number,
  log: (text: string) => void,
  smoke = false,
): Promise<ComparisonResult> {
  const subjects = [comparison.crucible, ...comparison.anchors];
  const samples = subjects.map(() => new Map<string, number[]>());
  const runOnce = async (index: number, round: string) => {
    const subject = subjects[index]!;
    log(`  ${comparison.title} · ${subject.label} · ${round}`);
    const values = await subject.run();
    for (const metric of comparison.metrics) {
      const value = values[metric.key];
      // An anchor may leave out a metric that means nothing for it; Crucible gives every one.
      if (value === undefined && index > 0) continue;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`${subject.label} gave no finite value for ${metric.key} (${String(value)})`);
      }
    }
    return values;
  };
  // A smoke run's figures mean nothing, so it skips the warm-up (every round still runs).
  if (comparison.warmup !== false && !smoke) {
    for (let i = 0; i < subjects.length; i++) await runOnce(i, 'warm-up');
  }
  for (let round = 0; round < rounds; round++) {
    // Rotating the order spreads a noisy neighbour's burst over every subject alike.
    for (let k = 0; k < subjects.length; k++) {
      const index = (k + round) % subjects.length;
      const values = await runOnce(index, `round ${round + 1}/${rounds}`);
      for (const metric of comparison.metrics) {
        if (values[metric.key] === undefined) continue;
        const list = samples[index]!.get(metric.key) ?? [];
        list.push(values[metric.key]!);
        samples[index]!.set(metric.key, list);
      }
    }
  }
  const rows: Row[] = [];
  comparison.anchors.forEach((anchor, a) => {
    for (const metric of comparison.metrics) {
      if (!samples[0]!.get(metric.key)?.length || !samples[a + 1]!.get(metric.key)?.length) continue;
      const crucible = stats(comparison.crucible.label, samples[0]!.get(metric.key)!);
      const other = stats(anchor.label, samples[a + 1]!.get(metric.key)!);
      const target = comparison.targets?.find((t) => t.anchor === anchor.label && t.metric === metric.key);
      rows.push({
        metric: metric.label,
        better: metric.better,
        crucible,
        anchor: other,
        ratio: ratioOf(crucible.median, other.median),
        target: target ? { text: target.text, met: target.met(crucible.median, other.median) } : null,
      });
    }
  });
  return { title: comparison.title, rows };
}

/** Crucible ÷ anchor; two zeros are even (1), a zero anchor beside a cost is unbounded (Infinity). */
export function ratioOf(crucible: number, anchor: number): number {
  if (anchor === 0) return crucible === 0 ? 1 : Infinity;
  return crucible / anchor;
}

export interface RunOptions {
  smoke: boolean;
  rounds?: number;
  log?: (text: string) => void;
  /** Called as each benchmark finishes, so its table prints before the next starts. */
  onResult?: (result: BenchmarkResult) => void;
}

export async function runBenchmark(benchmark: Benchmark, options: RunOptions): Promise<BenchmarkResult> {
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const rounds = Math.max(3, options.rounds ?? 3);
  const result: BenchmarkResult = {
    name: benchmark.name,
    description: benchmark.description,
    durationMs: 0,
    comparisons: [],
    notes: [],
    skipped: null,
    error: null,
  };
  const cleanups: (() => unknown)[] = [];
  const ctx: BenchContext = {
    smoke: options.smoke,
    rounds,
    size: (full, smoke) => (options.smoke ? smoke : full),
    async compare(comparison) {
      const measured = await measure(comparison, rounds, log, options.smoke);
      result.comparisons.push(measured);
      return measured;
    },
    defer: (cleanup) => void cleanups.push(cleanup),
    note: (text) => void result.notes.push(text),
    skip(reason) {
      throw new Skip(reason);
    },
    log,
  };
  const started = performance.now();
  log(`${benchmark.name}: ${benchmark.description}`);
  try {
    await benchmark.run(ctx);
  } catch (err) {
    if (err instanceof Skip) result.skipped = err.message;
    else result.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log(`${benchmark.name}: clean-up failed: ${String(err)}`);
      }
    }
  }
  result.durationMs = Math.round(performance.now() - started);
  options.onResult?.(result);
  return result;
}

export interface Report {
  command: string;
  smoke: boolean;
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    loadavgAtStart: number[];
    loadavgAtEnd: number[];
  };
  benchmarks: BenchmarkResult[];
}

export async function runBenchmarks(
  benchmarks: Benchmark[],
  options: RunOptions & { command: string; onStart?: (report: Report) => void },
): Promise<Report> {
  const report: Report = {
    command: options.command,
    smoke: options.smoke,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadavgAtStart: loadavg(),
      loadavgAtEnd: [],
    },
    benchmarks: [],
  };
  options.onStart?.(report);
  for (const benchmark of benchmarks) report.benchmarks.push(await runBenchmark(benchmark, options));
  report.finishedAt = new Date().toISOString();
  report.machine.loadavgAtEnd = loadavg();
  return report;
}

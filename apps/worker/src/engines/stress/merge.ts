import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { StressLatency, StressSecond } from '@crucible/contracts';
import { roundMs } from '../../stats.js';

/**
 * Latencies of a stress test, in µs: one HDR histogram per second and one for the run, whatever
 * process recorded them. Every shard builds them alike, so the coordinator adds them bucket by
 * bucket: the merged percentiles are those of one histogram fed every sample (HDR's 3 significant
 * digits), never an average of the shards' percentiles.
 */
export function latencyHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** A histogram as sent between processes: HdrHistogram's compressed V2 encoding, in base64. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** The sum of the encoded histograms, as one histogram. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const merged = latencyHistogram();
  for (const text of encoded) {
    const part = hdr.decodeFromCompressedBase64(text);
    merged.add(part);
    part.destroy();
  }
  return merged;
}

const toMs = (us: number) => roundMs(us / 1000);

/** Latency percentiles of a histogram of µs, in ms; null when it holds nothing. */
export function latencyOf(h: Histogram): StressLatency | null {
  if (h.totalCount === 0) return null;
  return {
    min: toMs(h.minNonZeroValue),
    mean: toMs(h.mean),
    stddev: toMs(h.stdDeviation),
    p50: toMs(h.getValueAtPercentile(50)),
    p75: toMs(h.getValueAtPercentile(75)),
    p90: toMs(h.getValueAtPercentile(90)),
    p95: toMs(h.getValueAtPercentile(95)),
    p99: toMs(h.getValueAtPercentile(99)),
    p999: toMs(h.getValueAtPercentile(99.9)),
    max: toMs(h.maxValue),
  };
}

/** p50, p95 and p99 of one second, in ms (0 without a response, as a single process reports it). */
export function secondPercentiles(h: Histogram): Pick<StressSecond, 'p50' | 'p95' | 'p99'> {
  const at = (p: number) => (h.totalCount ? toMs(h.getValueAtPercentile(p)) : 0);
  return { p50: at(50), p95: at(95), p99: at(99) };
}

/** One second of one shard, as it sends it: its counters and the second's latencies. */
export interface ShardSecond extends Omit<StressSecond, 'p50' | 'p95' | 'p99' | 'rps'> {
  /** This second's latencies ({@link encodeHistogram}). */
  histogram: string;
}

/** Adds `from`'s counts into `into`. */
export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

/** One second of the whole test from its shards' reports of that second. */
export function mergeSecond(second: number, parts: readonly ShardSecond[]): StressSecond {
  const errorsByKind: Record<string, number> = {};
  const statusCodes: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let connections = 0;
  let active = 0;
  for (const part of parts) {
    requests += part.requests;
    errors += part.errors;
    connections += part.connections;
    active += part.active;
    addCounts(errorsByKind, part.errorsByKind);
    addCounts(statusCodes, part.statusCodes);
  }
  const latencies = mergeHistograms(parts.map((p) => p.histogram));
  const point: StressSecond = {
    second,
    requests,
    rps: requests,
    ...secondPercentiles(latencies),
    errors,
    errorsByKind,
    statusCodes,
    connections,
    active,
  };
  latencies.destroy();
  return point;
}

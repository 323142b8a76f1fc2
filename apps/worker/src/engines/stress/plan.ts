import type { StressConfig, StressResult } from '@crucible/contracts';
import type { Dispatcher } from 'undici';

/** Server-side bounds: whatever a user asks for, one test never exceeds them. */
export interface StressLimits {
  /** @defaultValue 200 (`STRESS_MAX_CONNECTIONS`) */
  maxConnections: number;
  /** Ramp-up included. @defaultValue 300 (`STRESS_MAX_DURATION_SEC`) */
  maxDurationSec: number;
  /** Shards one test may be split into. @defaultValue 16 (`STRESS_MAX_SHARDS`) */
  maxShards?: number;
  /** How long a sharded test waits for every shard to find a worker before it fails. @defaultValue 15 s */
  shardStartTimeoutMs?: number;
}

export const DEFAULT_STRESS_LIMITS: StressLimits = {
  maxConnections: 200,
  maxDurationSec: 300,
  maxShards: 16,
  shardStartTimeoutMs: 15_000,
};

export type StressMode = StressResult['mode'];

/** What one run does, once the server-side limits have cut the request. */
export interface StressPlan {
  mode: StressMode;
  /** Virtual users, one connection each. */
  connections: number;
  /** Ramp-up included. */
  totalSec: number;
  rampUpSec: number;
  /** The limits cut what was asked. */
  capped: boolean;
  method: Dispatcher.HttpMethod;
  /** Requests per second across all users, or null: as fast as the target answers. */
  rate: number | null;
  /** The one request every user sends, again and again. */
  request: Dispatcher.DispatchOptions;
}

/** The run a config asks for against `target`, within `limits`. */
export function planStress(config: StressConfig, limits: StressLimits, target: URL): StressPlan {
  const mode = config.mode ?? 'load';
  const askedConnections = config.connections ?? 10;
  const askedRamp = config.rampUpSec ?? 0;
  const askedDuration = config.durationSec ?? 10;
  const connections = Math.min(askedConnections, limits.maxConnections);
  const totalSec = Math.min(askedRamp + askedDuration, limits.maxDurationSec);
  const rampUpSec = Math.min(askedRamp, totalSec);
  const capped = connections < askedConnections || totalSec < askedRamp + askedDuration;
  const method = (config.method ?? (config.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod;
  const headers: Record<string, string> = {
    'user-agent': 'Crucible/0.1 (+stress test)',
    ...(config.headers ?? {}),
  };
  const path = `${target.pathname}${target.search}`;
  const rate = config.rate ?? null;
  const bodyBuffer = config.body === undefined ? undefined : Buffer.from(config.body);
  // Headers as a flat [name, value, …] list: undici walks it without a key array per request.
  const request: Dispatcher.DispatchOptions = {
    method,
    path,
    headers: Object.entries(headers).flat(),
    body: bodyBuffer,
  };
  return { mode, connections, totalSec, rampUpSec, capped, method, rate, request };
}

/**
 * Virtual users allowed at `t` seconds into a run of `totalSec` with `n` connections:
 * load ramps 1 → n over `rampUpSec` then holds; stress climbs in 5 equal steps of n/5;
 * spike holds n/10 for the first 40 %, n for the next 20 %, n/10 again for the rest.
 */
export function activeUsers(
  mode: StressMode,
  n: number,
  t: number,
  totalSec: number,
  rampUpSec: number,
): number {
  if (mode === 'stress')
    return Math.max(1, Math.ceil((n * Math.min(5, Math.floor((5 * t) / totalSec) + 1)) / 5));
  if (mode === 'spike') {
    const base = Math.max(1, Math.ceil(n / 10));
    const phase = t / totalSec;
    return phase >= 0.4 && phase < 0.6 ? n : base;
  }
  if (rampUpSec > 0 && t < rampUpSec) return Math.max(1, Math.ceil((n * t) / rampUpSec));
  return n;
}

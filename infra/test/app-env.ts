import { loadApiEnv, loadMigrateEnv } from '@crucible/api';
import { loadGatewayEnv } from '@crucible/gateway';
import { loadProcessEnv } from '@crucible/runtime';
import { loadWorkerEnv } from '@crucible/worker';

/**
 * The configuration loaders each deployed process runs at start (its `main.ts`), so a test can
 * see exactly which variables a process reads and whether a deployment's values pass.
 */
export const PROCESS_LOADERS = {
  api: [loadApiEnv, (env: NodeJS.ProcessEnv) => loadProcessEnv(env, { shutdownTimeoutMs: 10_000 })],
  worker: [loadWorkerEnv, (env: NodeJS.ProcessEnv) => loadProcessEnv(env, { shutdownTimeoutMs: 60_000 })],
  gateway: [loadGatewayEnv, (env: NodeJS.ProcessEnv) => loadProcessEnv(env, { shutdownTimeoutMs: 10_000 })],
  migrate: [loadMigrateEnv],
} as const;
export type ProcessName = keyof typeof PROCESS_LOADERS;

/** Runs `load` over `env`, recording every variable it looks up. */
export function recordReads<T>(load: (env: NodeJS.ProcessEnv) => T, env: Record<string, string>) {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
  });
  return { read, value: load(recording) };
}

/** Runs a process's loaders over `env`, recording every variable they look up. */
export function readEnv(name: ProcessName, env: Record<string, string>) {
  const { read, value } = recordReads(
    (recording) =>
      PROCESS_LOADERS[name].map((load) => load(recording)) as unknown as Record<string, unknown>[],
    env,
  );
  return { read, config: Object.assign({}, ...value) as Record<string, unknown> };
}

/** The variables a process reads: its loaders run once with every lookup recorded. */
export function variablesRead(name: ProcessName): Set<string> {
  // JWT_SECRET is required by api and gateway: give one so the loaders run to their end.
  return readEnv(name, { JWT_SECRET: 'x'.repeat(32), DATABASE_URL: 'postgres://h/db' }).read;
}

import type { FastifyInstance } from 'fastify';
import { buildApi } from './app.js';
import type { ApiDeps, BuildApiOptions } from './app.js';
import type { ApiSettings } from './env.js';

/** What the process running the api provides; the rest of `buildApi`'s input comes from its settings. */
export type ApiServices = Omit<
  ApiDeps,
  | 'targetAllowlist'
  | 'groupCommit'
  | 'stalledAfterMs'
  | 'monitorMinIntervalSeconds'
  | 'notify'
  | 'quotaLimits'
  | 'systemAlerts'
>;
export type ApiProcessOptions = Omit<
  BuildApiOptions,
  'authThrottle' | 'registration' | 'trustProxy' | 'publicWsUrl'
>;

/**
 * The api as every mode runs it (`main.ts`, all-in-one): `buildApi` given its settings, so a
 * variable means the same in both.
 */
export function composeApi(
  services: ApiServices,
  options: ApiProcessOptions,
  settings: ApiSettings,
): Promise<FastifyInstance> {
  return buildApi(
    {
      ...services,
      targetAllowlist: settings.targetAllowlist,
      groupCommit: settings.acceptBatch,
      stalledAfterMs: settings.lockDurationMs,
      monitorMinIntervalSeconds: settings.monitorMinIntervalSeconds,
      notify: settings.notify,
      quotaLimits: settings.quotaLimits,
      systemAlerts: settings.systemAlerts,
    },
    {
      ...options,
      authThrottle: settings.authThrottle,
      registration: settings.registration,
      trustProxy: settings.trustProxy,
      publicWsUrl: settings.publicWsUrl,
    },
  );
}

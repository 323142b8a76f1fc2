// `@crucible/shared/egress`: its own entry so that processes which never reach out (the gateway)
// do not load undici and ipaddr.js.
export * from './policy.js';
export * from './client.js';

import { ConfigError } from '../env.js';
import { parseAllowlist } from './policy.js';
import type { Allowlist } from './policy.js';

/** Reads `TARGET_ALLOWLIST` at start; a bad entry stops the process with a message naming it. */
export function envAllowlist(env: Record<string, string | undefined>): Allowlist {
  try {
    return parseAllowlist(env.TARGET_ALLOWLIST);
  } catch (err) {
    throw new ConfigError('TARGET_ALLOWLIST', (err as Error).message);
  }
}

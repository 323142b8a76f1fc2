import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@crucible/runtime';

/**
 * The `JWT_SECRET` of a start without one: generated once and kept in the data folder, so that
 * sign-ins survive a restart.
 */
export function readOrCreateSecret(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'secret');
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    secret = randomBytes(32).toString('hex');
    writeFileSync(file, secret, { mode: 0o600 });
  }
  if (secret.length < 32) throw new ConfigError('JWT_SECRET', `${file} holds fewer than 32 characters`);
  return secret;
}

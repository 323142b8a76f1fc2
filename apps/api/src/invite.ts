import { ExitCodes, loadConfigOrExit } from '@crucible/runtime';
import { InvitationsRepository, createDb } from '@crucible/db';
import { loadMigrateEnv } from './env.js';
import { INVITATION_TTL_MS, invitationTokenHash, newInvitationToken } from './services/invitations.js';

/**
 * `node dist/invite.js [email]` (from source: `pnpm --filter @crucible/api invite [email]`):
 * makes an invitation in the database and prints its token. It is how the first account of a
 * deployment whose registration needs invitations (`REGISTRATION=invite`, distributed mode's
 * default) is made — the first account of an empty database becomes the admin — and a way in for
 * an operator who has no admin left.
 */
const env = loadConfigOrExit(() => loadMigrateEnv());
const email = process.argv[2]?.trim().toLowerCase();
if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) {
  console.error(`not an email address: ${process.argv[2]}`);
  process.exit(ExitCodes.CONFIG);
}

const db = createDb(env.databaseUrl);
try {
  const token = newInvitationToken();
  const row = await new InvitationsRepository(db.kysely).create({
    tokenHash: invitationTokenHash(token),
    email: email ?? null,
    createdBy: null,
    expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
  });
  process.stdout.write(
    `invitation ${row.id} for ${email ?? 'anyone'}, usable once until ${row.expires_at.toISOString()}\n` +
      `token: ${token}\n` +
      `sign up at <your Crucible address>/signup?invite=${token}\n`,
  );
  await db.close();
  process.exit(ExitCodes.OK);
} catch (err) {
  console.error('could not make the invitation:', err instanceof Error ? err.message : err);
  await db.close().catch(() => {});
  process.exit(ExitCodes.FAILURE);
}

import { createHash, randomBytes } from 'node:crypto';
import type { InvitationSummary } from '@crucible/db';
import type { InvitationView } from '@crucible/contracts/api';

/** How long an invitation can be used. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const TOKEN_PREFIX = 'inv_';

/** A new invitation token: 32 random bytes, shown once; only its hash is stored. */
export function newInvitationToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function invitationTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function invitationView(row: InvitationSummary, now = new Date()): InvitationView {
  const status = row.used_at
    ? 'used'
    : row.revoked_at
      ? 'revoked'
      : row.expires_at <= now
        ? 'expired'
        : 'pending';
  return {
    id: row.id,
    email: row.email,
    status,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    usedAt: row.used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

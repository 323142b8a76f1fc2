import { createHash, randomBytes } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import { API_KEY_PREFIX, SESSION_MAX_MS } from '@crucible/contracts';
import type { TokenClaims } from '@crucible/contracts';

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new public share id (`SHARE_ID_PATTERN`): 24 random bytes, base64url. */
export function generateShareId(): string {
  return randomBytes(24).toString('base64url');
}

/** How a share id is stored and looked up (`test_shares.share_hash`): SHA-256, hex. */
export function hashShareId(shareId: string): string {
  return createHash('sha256').update(`share:${shareId}`).digest('hex');
}

/** Verified tokens remembered at most, and for how long. */
const VERIFIED_MAX = 10_000;
const VERIFIED_TTL_MS = 60_000;

/**
 * Session tokens: HS256 JWTs signed with JWT_SECRET, shared by api and gateway. A token is only the
 * name of a session: whether that session is still alive (not signed out, not idle) is its row's
 * business, read by the authenticator.
 */

export function createTokenService(secret: string, expiresInMs = SESSION_MAX_MS) {
  if (secret.length < 32) throw new Error('JWT_SECRET must be at least 32 characters');
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: expiresInMs, iss: 'crucible' });
  const verifyToken = createVerifier({ key: secret, algorithms: ['HS256'], allowedIss: 'crucible' });
  // Verified tokens are remembered, for a minute at most and never past their own `exp`: a client
  // sends the same token with every request, and the HMAC and decoding were the largest part of an
  // authenticated request's CPU. Keyed by the token itself, not by fast-jwt's cache: that one keys
  // by a SHA-256 of the token, a hash per request to find what the process holds in memory anyway.
  // Map order is insertion order: the front is the oldest. A refused token is never remembered.
  const remembered = new Map<string, { claims: TokenClaims; until: number }>();

  function claimsOf(token: string): TokenClaims | undefined {
    try {
      const payload = verifyToken(token) as { sub?: unknown; role?: unknown; sid?: unknown; exp?: unknown };
      if (
        typeof payload.sub !== 'string' ||
        typeof payload.sid !== 'string' ||
        (payload.role !== 'user' && payload.role !== 'admin')
      ) {
        return undefined;
      }
      const claims: TokenClaims = { sub: payload.sub, role: payload.role, sid: payload.sid };
      const until = Date.now() + VERIFIED_TTL_MS;
      remembered.set(token, {
        claims,
        until: typeof payload.exp === 'number' ? Math.min(until, payload.exp * 1000) : until,
      });
      if (remembered.size > VERIFIED_MAX) remembered.delete(remembered.keys().next().value!);
      return claims;
    } catch {
      return undefined;
    }
  }

  return {
    sign: (claims: TokenClaims): string => sign({ sub: claims.sub, role: claims.role, sid: claims.sid }),
    /**
     * Returns the claims, or undefined for any invalid, expired or foreign token, and for tokens
     * issued before sessions existed (no `sid`: nothing could revoke them).
     */
    verify: (token: string): TokenClaims | undefined => {
      const hit = remembered.get(token);
      if (hit) {
        if (hit.until > Date.now()) return hit.claims;
        remembered.delete(token);
      }
      return claimsOf(token);
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

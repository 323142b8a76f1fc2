import { createHash, randomBytes } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';

export const Roles = { USER: 'user', ADMIN: 'admin' } as const;
export type Role = (typeof Roles)[keyof typeof Roles];

export interface TokenClaims {
  sub: string;
  role: Role;
  /** The session (a `sessions` row) the token belongs to: signing out revokes it. */
  sid: string;
}

/** A session ends after this long without use; every use moves the deadline (sliding). */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** A session ends this long after sign-in, however much it is used (the token's `exp`). */
export const SESSION_MAX_MS = 7 * 24 * 60 * 60 * 1000;

/** API keys are `crk_` + 32 random bytes; only their SHA-256 is stored (they are high-entropy, unlike passwords). */
export const API_KEY_PREFIX = 'crk_';

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function isApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/**
 * Session tokens: HS256 JWTs signed with JWT_SECRET, shared by api and gateway. A token is only the
 * name of a session: whether that session is still alive (not signed out, not idle) is its row's
 * business, read by the authenticator.
 */
export function createTokenService(secret: string, expiresInMs = SESSION_MAX_MS) {
  if (secret.length < 32) throw new Error('JWT_SECRET must be at least 32 characters');
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: expiresInMs, iss: 'crucible' });
  // Verified tokens are remembered (fast-jwt's LRU, keyed by a hash of the token, never beyond the
  // token's own expiry): a client sends the same token with every request, and the HMAC and
  // decoding were the largest part of an authenticated request's CPU.
  const verify = createVerifier({
    key: secret,
    algorithms: ['HS256'],
    allowedIss: 'crucible',
    cache: 10_000,
    cacheTTL: 60_000,
  });
  return {
    sign: (claims: TokenClaims): string => sign({ sub: claims.sub, role: claims.role, sid: claims.sid }),
    /**
     * Returns the claims, or undefined for any invalid, expired or foreign token, and for tokens
     * issued before sessions existed (no `sid`: nothing could revoke them).
     */
    verify: (token: string): TokenClaims | undefined => {
      try {
        const payload = verify(token) as { sub?: unknown; role?: unknown; sid?: unknown };
        if (
          typeof payload.sub !== 'string' ||
          typeof payload.sid !== 'string' ||
          (payload.role !== 'user' && payload.role !== 'admin')
        ) {
          return undefined;
        }
        return { sub: payload.sub, role: payload.role, sid: payload.sid };
      } catch {
        return undefined;
      }
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

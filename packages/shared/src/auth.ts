import { createHash, randomBytes } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';

export const Roles = { USER: 'user', ADMIN: 'admin' } as const;
export type Role = (typeof Roles)[keyof typeof Roles];

export interface TokenClaims {
  sub: string;
  role: Role;
}

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

/** Session tokens: HS256 JWTs signed with JWT_SECRET, shared by api and gateway. */
export function createTokenService(secret: string, expiresInMs = 7 * 24 * 60 * 60 * 1000) {
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
    sign: (claims: TokenClaims): string => sign({ sub: claims.sub, role: claims.role }),
    /** Returns the claims, or undefined for any invalid, expired or foreign token. */
    verify: (token: string): TokenClaims | undefined => {
      try {
        const payload = verify(token) as { sub?: unknown; role?: unknown };
        if (typeof payload.sub !== 'string' || (payload.role !== 'user' && payload.role !== 'admin')) {
          return undefined;
        }
        return { sub: payload.sub, role: payload.role };
      } catch {
        return undefined;
      }
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

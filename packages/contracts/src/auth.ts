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

export function isApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

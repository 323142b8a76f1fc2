import { hashApiKey, isApiKey } from '@crucible/shared';
import type { Role, TokenService } from '@crucible/shared';
import type { ApiKeysRepository } from './repositories/api-keys.repository.js';
import type { UsersRepository } from './repositories/users.repository.js';

export interface AuthUser {
  id: string;
  email: string;
  role: Role;
  /** Set when the request authenticated with an API key rather than a session token. */
  apiKeyId?: string;
}

/** Resolves a bearer credential (session token or API key) to the current user. */
export interface Authenticate {
  (credential: string | undefined): Promise<AuthUser | undefined>;
  /**
   * Drops remembered answers at once (this process): every one, or those of one API key or user.
   * Other processes forget them within the cache's TTL.
   */
  forget(match?: { apiKeyId?: string; userId?: string }): void;
}

/** Credentials remembered at most; the oldest go first. */
const CACHE_MAX = 10_000;

/**
 * Resolves a bearer credential (session token or API key) to the current user; used by api and
 * gateway. The user row is read for every credential not seen within `cacheTtlMs`: a revoked key,
 * a role change or a deleted account takes effect within that time in every process (at once in
 * the process that revoked, through `forget`). Unknown credentials are never remembered.
 */
export function createAuthenticator(deps: {
  users: UsersRepository;
  apiKeys: ApiKeysRepository;
  tokens: TokenService;
  /** How long a resolved credential is remembered. @defaultValue 0 (never: every call reads the row) */
  cacheTtlMs?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}): Authenticate {
  const ttl = deps.cacheTtlMs ?? 0;
  const now = deps.now ?? Date.now;
  // By API key hash or user id. Map iteration order is insertion order: the front is the oldest.
  const cache = new Map<string, { user: AuthUser; until: number }>();

  /** The row behind `key`, remembered for `ttl` (a miss is never remembered). */
  async function lookup(key: string, read: () => Promise<AuthUser | undefined>) {
    if (ttl <= 0) return read();
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.user;
    if (hit) cache.delete(key);
    const user = await read();
    if (!user) return undefined;
    cache.set(key, { user, until: now() + ttl });
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
    return user;
  }

  const authenticate = async function authenticate(credential: string | undefined) {
    if (!credential || credential.length > 4096) return undefined;
    if (isApiKey(credential)) {
      const keyHash = hashApiKey(credential);
      return lookup(`key:${keyHash}`, async () => {
        const user = await deps.apiKeys.findUserByKeyHash(keyHash);
        return user && { id: user.id, email: user.email, role: user.role, apiKeyId: user.api_key_id };
      });
    }
    // The token is verified every time (signature, expiry); only its user's row is remembered.
    const claims = deps.tokens.verify(credential);
    if (!claims) return undefined;
    return lookup(`user:${claims.sub}`, async () => {
      const user = await deps.users.findById(claims.sub);
      return user && { id: user.id, email: user.email, role: user.role };
    });
  } as Authenticate;
  authenticate.forget = (match) => {
    if (!match) return cache.clear();
    for (const [key, { user }] of cache) {
      if (
        (match.apiKeyId !== undefined && user.apiKeyId === match.apiKeyId) ||
        (match.userId !== undefined && user.id === match.userId)
      ) {
        cache.delete(key);
      }
    }
  };
  return authenticate;
}

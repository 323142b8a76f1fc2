import { isApiKey } from '@crucible/contracts';
import type { Role, WorkspaceRole } from '@crucible/contracts';
import { hashApiKey } from './auth.js';
import type { TokenService } from './auth.js';
import { UseRecorder } from './use-recorder.js';

/** A credential's user, as the stores of keys and sessions read it (`@crucible/db`'s repositories). */
interface CredentialOwner {
  id: string;
  email: string;
  role: Role;
}

export interface AuthUser {
  id: string;
  email: string;
  role: Role;
  /** Set when the request authenticated with an API key rather than a session token. */
  apiKeyId?: string;
  /** An API key's workspace and role there: the key acts in that workspace only, with at most that role. */
  apiKeyAccess?: { workspaceId: string; role: WorkspaceRole };
  /** Set when the request authenticated with a session token: the session it names. */
  sessionId?: string;
}

/** Resolves a bearer credential (session token or API key) to the current user. */
export interface Authenticate {
  (credential: string | undefined): Promise<AuthUser | undefined>;
  /**
   * Drops remembered answers at once (this process): every one, or those of one API key, session
   * or user. Other processes forget them within the cache's TTL.
   */
  forget(match?: { apiKeyId?: string; sessionId?: string; userId?: string }): void;
}

/** Where every successful authentication notes its credential's use (see {@link UseRecorder}). */
export interface CredentialUses {
  apiKeys: UseRecorder;
  sessions: UseRecorder;
  /** Writes what is noted; call it when the process stops. */
  flush(): Promise<void>;
}

/** Last-use recorders over the keys' and sessions' tables, at most one write a minute per credential. */
export function createCredentialUses(deps: {
  apiKeys: { recordUse(uses: ReadonlyMap<string, Date>): Promise<void> };
  sessions: { recordUse(uses: ReadonlyMap<string, Date>): Promise<void> };
  onError?: (err: unknown) => void;
}): CredentialUses {
  const apiKeys = new UseRecorder((uses) => deps.apiKeys.recordUse(uses), { onError: deps.onError });
  const sessions = new UseRecorder((uses) => deps.sessions.recordUse(uses), { onError: deps.onError });
  return {
    apiKeys,
    sessions,
    flush: async () => {
      await Promise.all([apiKeys.flush(), sessions.flush()]);
    },
  };
}

/** Credentials remembered at most; the oldest go first. */
const CACHE_MAX = 10_000;

/**
 * Resolves a bearer credential (session token or API key) to the current user; used by api and
 * gateway. The key's or session's row (with its user) is read for every credential not seen within
 * `cacheTtlMs`: a revoked key, a signed-out or idle session, a role change or a deleted account
 * takes effect within that time in every process (at once in the process that revoked, through
 * `forget`). Unknown credentials are never remembered.
 */
export function createAuthenticator(deps: {
  apiKeys: {
    findUserByKeyHash(keyHash: string): Promise<
      | (CredentialOwner & { api_key_id: string; api_key_workspace_id: string; api_key_role: WorkspaceRole })
      | undefined
    >;
  };
  sessions: { findUser(sessionId: string): Promise<CredentialOwner | undefined> };
  tokens: TokenService;
  /** Told of every credential that authenticates (remembered or not). @defaultValue none */
  uses?: Pick<CredentialUses, 'apiKeys' | 'sessions'>;
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
      const user = await lookup(`key:${keyHash}`, async () => {
        const user = await deps.apiKeys.findUserByKeyHash(keyHash);
        return (
          user && {
            id: user.id,
            email: user.email,
            role: user.role,
            apiKeyId: user.api_key_id,
            apiKeyAccess: { workspaceId: user.api_key_workspace_id, role: user.api_key_role },
          }
        );
      });
      if (user) deps.uses?.apiKeys.record(user.apiKeyId!);
      return user;
    }
    // The token is verified every time (signature, expiry); only its session's row is remembered.
    const claims = deps.tokens.verify(credential);
    if (!claims) return undefined;
    const user = await lookup(`session:${claims.sid}`, async () => {
      const user = await deps.sessions.findUser(claims.sid);
      // A session is its user's only: a token naming another's session is forged or stale.
      return user?.id === claims.sub
        ? { id: user.id, email: user.email, role: user.role, sessionId: claims.sid }
        : undefined;
    });
    if (user) deps.uses?.sessions.record(claims.sid);
    return user;
  } as Authenticate;
  authenticate.forget = (match) => {
    if (!match) return cache.clear();
    for (const [key, { user }] of cache) {
      if (
        (match.apiKeyId !== undefined && user.apiKeyId === match.apiKeyId) ||
        (match.sessionId !== undefined && user.sessionId === match.sessionId) ||
        (match.userId !== undefined && user.id === match.userId)
      ) {
        cache.delete(key);
      }
    }
  };
  return authenticate;
}

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

/**
 * Resolves a bearer credential (session token or API key) to the current user. The user row is
 * always read, so a role change or deleted account takes effect at once; used by api and gateway.
 */
export function createAuthenticator(deps: {
  users: UsersRepository;
  apiKeys: ApiKeysRepository;
  tokens: TokenService;
}) {
  return async function authenticate(credential: string | undefined): Promise<AuthUser | undefined> {
    if (!credential || credential.length > 4096) return undefined;
    if (isApiKey(credential)) {
      const user = await deps.apiKeys.findUserByKeyHash(hashApiKey(credential));
      if (!user) return undefined;
      return { id: user.id, email: user.email, role: user.role, apiKeyId: user.api_key_id };
    }
    const claims = deps.tokens.verify(credential);
    if (!claims) return undefined;
    const user = await deps.users.findById(claims.sub);
    if (!user) return undefined;
    return { id: user.id, email: user.email, role: user.role };
  };
}

export type Authenticate = ReturnType<typeof createAuthenticator>;

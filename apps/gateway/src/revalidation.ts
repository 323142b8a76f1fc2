import type { FastifyBaseLogger } from 'fastify';
import type { GatewayMetrics } from './metrics.js';
import { CloseCodes } from './session.js';
import type { Session } from './session.js';

/** Which of these credentials (API keys, or sign-in sessions) are still active. */
export interface ActiveIds {
  activeIds(ids: string[]): Promise<Set<string>>;
}

/** Of these memberships, the ones that still hold, as `${workspaceId}:${userId}`. */
export interface ActiveMemberships {
  activePairs(pairs: { workspaceId: string; userId: string }[]): Promise<Set<string>>;
}

export interface RevalidationOptions {
  /** Without it, revoking an API key is not watched. */
  apiKeys: ActiveIds | undefined;
  /** Without them, signing out is not watched. */
  signIns: ActiveIds | undefined;
  /** Which (workspace, user) memberships still hold; without it, removal from a workspace is not watched. */
  memberships?: ActiveMemberships;
  /** The sessions open on this gateway. */
  sessions: Iterable<Session>;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
  intervalMs: number;
}

/**
 * Revoking an API key or signing a session out must end its sockets: each gateway asks, every
 * `intervalMs`, which of the credentials its sockets hold are still active, and closes the others
 * with `CloseCodes.REVOKED`. Likewise a removed member loses the channels read by membership of
 * that workspace (the socket stays). Returns the stop function; a no-op when there is nothing to watch.
 */
export function startRevalidation(options: RevalidationOptions): () => void {
  const { sessions, metrics, log } = options;
  const credentialChecks = [
    {
      store: options.apiKeys,
      of: (s: Session) => s.apiKeyId,
      what: 'API keys',
      reason: 'credential revoked',
    },
    { store: options.signIns, of: (s: Session) => s.sessionId, what: 'sessions', reason: 'session ended' },
  ];
  const revalidate = () => {
    for (const { store, of, what, reason } of credentialChecks) {
      if (!store) continue;
      const held = [...sessions].filter((s) => of(s) !== undefined);
      if (held.length === 0) continue;
      store.activeIds([...new Set(held.map((s) => of(s)!))]).then(
        (active) => {
          for (const session of held) {
            if (active.has(of(session)!)) continue;
            metrics.abuseDisconnects.inc({ reason: 'revoked' });
            session.close(CloseCodes.REVOKED, reason);
          }
        },
        (err: unknown) => log.warn({ err }, `checking ${what} failed; retrying on the next tick`),
      );
    }
  };
  const revalidateMemberships = () => {
    const { memberships } = options;
    if (!memberships) return;
    const held = [...sessions].flatMap((session) =>
      [...session.workspaces()].map((workspaceId) => ({ session, workspaceId, userId: session.user.id })),
    );
    if (held.length === 0) return;
    memberships.activePairs(held).then(
      (active) => {
        for (const { session, workspaceId, userId } of held) {
          if (!active.has(`${workspaceId}:${userId}`)) session.dropWorkspace(workspaceId);
        }
      },
      (err: unknown) => log.warn({ err }, 'checking memberships failed; retrying on the next tick'),
    );
  };
  const watched = options.apiKeys || options.signIns || options.memberships;
  const timer = watched
    ? setInterval(() => {
        revalidate();
        revalidateMemberships();
      }, options.intervalMs)
    : undefined;
  return () => clearInterval(timer);
}

import {
  Channels,
  Events,
  SHARE_ID_PATTERN,
  SHARE_REVOKED_TOPIC,
  channelName,
  redactShared,
  redactUrls,
} from '@crucible/contracts';
import type { PubSub } from '@crucible/contracts';
import type { SharedTestView } from '@crucible/contracts/api';
import type { TestSharesRepository, TestsRepository } from '@crucible/db';
import { generateShareId, hashShareId } from '@crucible/runtime';
import { HttpProblem, notFound } from '../errors.js';
import { AuditActions } from './audit.js';
import type { Audit } from './audit.js';
import type { Publish } from './tests/events.js';
import type { Actor } from './workspace-access.js';

export interface SharesServiceDeps {
  shares: TestSharesRepository;
  tests: Pick<TestsRepository, 'findVisible'>;
  /** `team-{workspaceId}` hears of shares made and revoked. */
  publish: Publish;
  /** Tells every gateway a share was revoked ({@link SHARE_REVOKED_TOPIC}). */
  pubsub: Pick<PubSub, 'publish'>;
  audit: Audit;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const shareNotFound = () => notFound('Share');

/**
 * Public read-only links to one test (DESIGN.md, "Sharing"). The public id is the secret: shown
 * once, kept as its hash. The page shows the test redacted and nothing else of the workspace.
 */
export function createSharesService(deps: SharesServiceDeps) {
  const { shares, tests } = deps;
  const team = (workspaceId: string) => channelName(Channels.TEAM, { teamId: workspaceId });

  /** The test the actor may see, or 404 (another workspace's is as missing as an unknown one). */
  async function visibleTest(actor: Actor, testId: string) {
    const row = await tests.findVisible(testId, actor);
    if (!row || !row.workspace_id) throw notFound();
    return { ...row, workspace_id: row.workspace_id };
  }

  return {
    async create(actor: Actor, testId: string, expiresAt: string | undefined, origin: string) {
      const test = await visibleTest(actor, testId);
      const expires = expiresAt === undefined ? null : new Date(expiresAt);
      if (expires && !(expires.getTime() > Date.now())) {
        throw new HttpProblem(400, 'INVALID_EXPIRY', 'Bad Request', 'expiresAt must be in the future');
      }
      const shareId = generateShareId();
      const row = await shares.create({
        shareHash: hashShareId(shareId),
        testId,
        workspaceId: test.workspace_id,
        createdBy: actor.id,
        expiresAt: expires,
      });
      const expiresIso = row.expires_at?.toISOString() ?? null;
      await Promise.all([
        deps.publish(
          Events.WORKSPACE_TEST_SHARED,
          team(test.workspace_id),
          {
            workspaceId: test.workspace_id,
            testId,
            shareId: row.id,
            userId: actor.id,
            expiresAt: expiresIso,
          },
          null,
        ),
        deps.audit(
          actor,
          test.workspace_id,
          AuditActions.SHARE_CREATED,
          { type: 'test', id: testId },
          {
            shareId: row.id,
            expiresAt: expiresIso,
          },
        ),
      ]);
      return { id: row.id, shareId, url: `${origin}/shared/${shareId}`, expiresAt: expiresIso };
    },

    async list(actor: Actor, testId: string) {
      const test = await visibleTest(actor, testId);
      const rows = await shares.listActive(testId, test.workspace_id);
      return rows.map((r) => ({
        id: r.id,
        createdAt: r.created_at.toISOString(),
        expiresAt: r.expires_at?.toISOString() ?? null,
      }));
    },

    /** Revokes one of the test's shares, by its id or its public id; the page and channel go at once. */
    async revoke(actor: Actor, testId: string, shareId: string): Promise<void> {
      const test = await visibleTest(actor, testId);
      const by = UUID.test(shareId) ? { id: shareId } : { shareHash: hashShareId(shareId) };
      const revoked = await shares.revoke(testId, test.workspace_id, by);
      if (!revoked) throw shareNotFound();
      await deps.pubsub.publish(SHARE_REVOKED_TOPIC, revoked.share_hash);
      await Promise.all([
        deps.publish(
          Events.WORKSPACE_TEST_UNSHARED,
          team(test.workspace_id),
          { workspaceId: test.workspace_id, testId, shareId: revoked.id, userId: actor.id, expiresAt: null },
          null,
        ),
        deps.audit(
          actor,
          test.workspace_id,
          AuditActions.SHARE_REVOKED,
          { type: 'test', id: testId },
          {
            shareId: revoked.id,
          },
        ),
      ]);
    },

    /** The shared test as anyone with the link sees it; 404 for an unknown, revoked or expired one. */
    async read(shareId: string): Promise<SharedTestView> {
      if (!SHARE_ID_PATTERN.test(shareId)) throw shareNotFound();
      const share = await shares.findActive(hashShareId(shareId));
      if (!share) throw shareNotFound();
      // Looked up within the share's workspace only, as one of its members would.
      const row = await tests.findVisible(share.testId, {
        id: '',
        role: 'user',
        workspaceId: share.workspaceId,
      });
      if (!row) throw shareNotFound();
      return {
        testType: row.test_type,
        name: row.test_name,
        url: redactUrls(row.url),
        status: row.status,
        verdict: row.verdict,
        progress: row.progress,
        config: redactShared(row.config) as Record<string, unknown>,
        thresholds: row.judging?.thresholds ?? [],
        runs: row.judging?.runs ?? 1,
        result: redactShared(row.result ?? null),
        errorMessage: row.error_message === null ? null : redactUrls(row.error_message),
        createdAt: row.created_at.toISOString(),
        startedAt: row.started_at?.toISOString() ?? null,
        completedAt: row.completed_at?.toISOString() ?? null,
        expiresAt: share.expiresAt?.toISOString() ?? null,
        channel: channelName(Channels.SHARED_TESTS, { shareId }),
      };
    },
  };
}

export type SharesService = ReturnType<typeof createSharesService>;

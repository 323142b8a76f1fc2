import type { Kysely } from 'kysely';
import type { Database, TestShare } from '../types.js';

/** A live share as the public page and the gateway resolve it: the test it shows, and until when. */
export interface ActiveShare {
  id: string;
  testId: string;
  workspaceId: string;
  expiresAt: Date | null;
}

/** Repository of `test_shares`: public read-only links to one test, kept by the hash of their id. */
export class TestSharesRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(values: {
    shareHash: string;
    testId: string;
    workspaceId: string;
    createdBy: string;
    expiresAt: Date | null;
  }): Promise<TestShare> {
    return this.#db
      .insertInto('test_shares')
      .values({
        share_hash: values.shareHash,
        test_id: values.testId,
        workspace_id: values.workspaceId,
        created_by: values.createdBy,
        expires_at: values.expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The share with this hash if it is neither revoked nor expired (its test still exists: cascade). */
  async findActive(shareHash: string): Promise<ActiveShare | undefined> {
    const row = await this.#db
      .selectFrom('test_shares')
      .select(['id', 'test_id', 'workspace_id', 'expires_at'])
      .where('share_hash', '=', shareHash)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
      .executeTakeFirst();
    return (
      row && { id: row.id, testId: row.test_id, workspaceId: row.workspace_id, expiresAt: row.expires_at }
    );
  }

  /** The test's shares that are neither revoked nor expired, newest first. */
  listActive(testId: string, workspaceId: string): Promise<TestShare[]> {
    return this.#db
      .selectFrom('test_shares')
      .selectAll()
      .where('test_id', '=', testId)
      .where('workspace_id', '=', workspaceId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
      .orderBy('created_at', 'desc')
      .execute();
  }

  /**
   * Revokes one of the test's shares, named by its row id or its hash: the revoked share, or
   * undefined when there is no such live share of this test in this workspace.
   */
  revoke(
    testId: string,
    workspaceId: string,
    by: { id: string } | { shareHash: string },
  ): Promise<Pick<TestShare, 'id' | 'share_hash'> | undefined> {
    let q = this.#db
      .updateTable('test_shares')
      .set({ revoked_at: new Date() })
      .where('test_id', '=', testId)
      .where('workspace_id', '=', workspaceId)
      .where('revoked_at', 'is', null);
    q = 'id' in by ? q.where('id', '=', by.id) : q.where('share_hash', '=', by.shareHash);
    return q.returning(['id', 'share_hash']).executeTakeFirst();
  }
}

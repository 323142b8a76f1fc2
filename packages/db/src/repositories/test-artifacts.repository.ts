import type { Kysely } from 'kysely';
import type { Database } from '../types.js';

/** Most bytes one artifact may hold (the table's check says the same). */
export const ARTIFACT_MAX_BYTES = 16 * 1024 * 1024;

export interface StoredArtifact {
  contentType: string;
  data: Buffer;
}

/**
 * Repository of `test_artifacts`: files a test keeps beside its result (a browser test's
 * screenshot, filmstrip frames and Lighthouse report). They go with their test (ON DELETE CASCADE).
 */
export class TestArtifactsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Stores (or replaces, on a later attempt) one artifact of a test. */
  async put(testId: string, name: string, contentType: string, data: Buffer): Promise<void> {
    if (data.length > ARTIFACT_MAX_BYTES) {
      throw new RangeError(
        `artifact ${name} is ${data.length} bytes; at most ${ARTIFACT_MAX_BYTES} are kept`,
      );
    }
    await this.#db
      .insertInto('test_artifacts')
      .values({ test_id: testId, name, content_type: contentType, data })
      .onConflict((oc) =>
        oc
          .columns(['test_id', 'name'])
          .doUpdateSet({ content_type: contentType, data, created_at: new Date() }),
      )
      .execute();
  }

  async get(testId: string, name: string): Promise<StoredArtifact | undefined> {
    const row = await this.#db
      .selectFrom('test_artifacts')
      .select(['content_type', 'data'])
      .where('test_id', '=', testId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && { contentType: row.content_type, data: row.data };
  }
}

import type { Actor } from '../workspace-access.js';
import type { TestsRepository } from '@crucible/db';
import type { ListQuery } from '@crucible/contracts/api';
import { HttpProblem } from '../../errors.js';
import { toTestView } from './views.js';

/** Cursors are opaque to clients: the id of the page's last row. */
const encodeCursor = (id: string) => Buffer.from(`v1:${id}`).toString('base64url');
function decodeCursor(cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const match = /^v1:(\d{1,19})$/.exec(raw);
  if (!match)
    throw new HttpProblem(400, 'INVALID_CURSOR', 'Bad Request', 'cursor is not one this API returned');
  return match[1]!;
}

export function createList(deps: { tests: Pick<TestsRepository, 'list'> }) {
  /** A page of tests, the caller's own unless an admin asks for another owner's. */
  return async function list(user: Actor, query: ListQuery) {
    const ownerEmail = query.owner?.trim().toLowerCase();
    const other =
      (query.userId !== undefined && query.userId !== user.id) ||
      (ownerEmail !== undefined && ownerEmail !== user.email);
    if (other && user.role !== 'admin') {
      throw new HttpProblem(403, 'FORBIDDEN', 'Forbidden', "Only admins may list other users' tests");
    }
    const page = await deps.tests.list(user, {
      status: query.status,
      testType: query.testType,
      urlContains: query.url,
      monitorId: query.monitorId,
      userId: query.userId,
      ownerEmail,
      afterId: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
      limit: query.limit ?? 20,
    });
    return {
      items: page.rows.map((row) => ({
        ...toTestView(row),
        owner: row.user_id && row.owner_email ? { id: row.user_id, email: row.owner_email } : null,
      })),
      nextCursor: page.nextAfterId === null ? null : encodeCursor(page.nextAfterId),
    };
  };
}

import { TestQueueNames } from '@crucible/contracts';
import type { TestQueueName } from '@crucible/contracts';
import type { QueueSnapshot } from '@crucible/db';

const tests = (n: number) => `${n} ${n === 1 ? 'test' : 'tests'}`;

/**
 * Why a queued test has not started, in words for the Queue page: no worker to run it (no browser
 * worker, for a browser test), other workspaces taking their turn first (fair share), tests ahead
 * of it in its queue (priority, then age), or every slot of the live workers of its queue taken.
 * Null for a test that is not queued.
 */
export function whyQueued(
  status: string,
  queuePosition: number | null,
  own: {
    queue: TestQueueName;
    snapshot: Pick<QueueSnapshot, 'running' | 'otherWorkspacesAhead'>;
    capacity: number;
  },
): string | null {
  if (status !== 'queued') return null;
  const { capacity } = own;
  if (capacity === 0)
    return own.queue === TestQueueNames.BROWSER ? 'no browser worker is online' : 'no worker is online';
  if (queuePosition !== null && queuePosition > 1) {
    const ahead = queuePosition - 1;
    const others = own.snapshot.otherWorkspacesAhead ?? 0;
    if (others > 0) {
      return `fair share: other workspaces take their turn first — ${tests(ahead)} ahead of it, ${others} of them theirs`;
    }
    return `${tests(ahead)} ahead of it`;
  }
  const running = own.snapshot.running.length;
  if (running >= capacity) return `every worker slot is busy (${running} of ${capacity})`;
  return 'next to start';
}

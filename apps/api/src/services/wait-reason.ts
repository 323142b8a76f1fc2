/**
 * Why a queued test has not started, in words for the Queue page: no worker to run it, tests
 * ahead of it, or every slot of the live workers taken. Null for a test that is not queued.
 */
export function whyQueued(
  status: string,
  queuePosition: number | null,
  capacity: number,
  running: number,
): string | null {
  if (status !== 'queued') return null;
  if (capacity === 0) return 'no worker is online';
  if (queuePosition !== null && queuePosition > 1) {
    const ahead = queuePosition - 1;
    return `${ahead} ${ahead === 1 ? 'test' : 'tests'} ahead of it`;
  }
  if (running >= capacity) return `every worker slot is busy (${running} of ${capacity})`;
  return 'next to start';
}

/**
 * How the tests list keeps each row's status right when two sources move it: the row's
 * `job-status-{id}` channel and reloads of the page over HTTP. Either can arrive after the other.
 */

interface RowState {
  testId: string;
  status: string;
  progress: number;
  verdict: unknown;
}

/**
 * A reloaded page, with each row whose channel moved it after the reload was asked keeping the
 * channel's status: an answer read before that event cannot be newer than it (a cancel seen live
 * must not be put back to `queued` by a reload that was already on its way).
 *
 * @param movedAt when the channel last changed each row (the clock `askedAt` is on)
 * @param askedAt when this reload was asked
 */
export function mergeReloaded<T extends RowState>(
  shown: readonly T[] | null,
  loaded: readonly T[],
  movedAt: ReadonlyMap<string, number>,
  askedAt: number,
): T[] {
  return loaded.map((row) => {
    const moved = movedAt.get(row.testId);
    if (moved === undefined || moved < askedAt) return row;
    const live = shown?.find((s) => s.testId === row.testId);
    return live ? { ...row, status: live.status, progress: live.progress, verdict: live.verdict } : row;
  });
}

import type { UnackedMessage } from '@crucible/contracts';

/** Most unacknowledged messages remembered per user; the oldest give way (like the channel history does). */
export const MAX_PER_USER = 1000;

/** The unacknowledged messages of one channel and epoch at or before `upto`, oldest first. */
export const unackedUpTo = (
  entries: Iterable<UnackedMessage>,
  channel: string,
  epoch: string,
  upto: number,
) =>
  [...entries]
    .filter((m) => m.channel === channel && m.epoch === epoch && m.offset <= upto)
    .sort((a, b) => a.offset - b.offset);

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DraftMessage, Envelope, EventLog, Recovery } from '@crucible/contracts';

/** Redis keys and the pub/sub channel of one Crucible channel. The hash tag keeps them in one slot. */
export function channelKeys(prefix: string, channel: string) {
  const base = `${prefix}:ch:{${channel}}`;
  return {
    offset: `${base}:offset`,
    epoch: `${base}:epoch`,
    stream: `${base}:stream`,
    pubsub: `${prefix}:ch:${channel}`,
  };
}

/** The pub/sub pattern that matches every channel of a prefix (for tests and tooling). */
export function pubsubPrefix(prefix: string): string {
  return `${prefix}:ch:`;
}

export interface EventLogOptions {
  /** Key prefix shared by every app of one deployment. @defaultValue 'crucible' */
  prefix?: string;
  /** Messages retained per channel for recovery (approximate, Redis `MAXLEN ~`). @defaultValue 1000 */
  maxLen?: number;
  /** How long a channel's history lives after its last message. @defaultValue 24 hours */
  ttlMs?: number;
}

/**
 * Appends the message to the channel's bounded stream and publishes it, in one atomic step,
 * so the offset order in the stream is exactly the order subscribers see live.
 * A missing epoch means the history was lost (or never existed): a new epoch starts at offset 1.
 * So does a missing offset beside an epoch (a partial loss: a key evicted or deleted alone), which
 * would otherwise restart the offsets below the stream's last id, make XADD fail after INCR (a
 * script is not rolled back) and leave every later publish to the channel failing.
 * Answers `{offset, epoch}` only: the caller already holds the rest of the message.
 */
const PUBLISH_SCRIPT = `
local epoch = redis.call('GET', KEYS[2])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
  redis.call('DEL', KEYS[1], KEYS[3])
end
local offset = redis.call('INCR', KEYS[1])
local msg = string.sub(ARGV[1], 1, -2) .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '0-' .. offset, 'm', msg)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[5], msg)
return {offset, epoch}
`;

type RedisWithPublish = Redis & {
  /** Answers the message's offset and epoch (the caller has the rest: no echo of the message). */
  crucibleLogPublish(...args: (string | number)[]): Promise<[number, string]>;
};

export class RedisEventLog implements EventLog {
  readonly prefix: string;
  readonly #redis: RedisWithPublish;
  readonly #maxLen: number;
  readonly #ttlMs: number;

  constructor(redis: Redis, options: EventLogOptions = {}) {
    this.prefix = options.prefix ?? 'crucible';
    this.#maxLen = options.maxLen ?? 1000;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    if (!('crucibleLogPublish' in redis)) {
      redis.defineCommand('crucibleLogPublish', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
    }
    this.#redis = redis as RedisWithPublish;
  }

  #args(draft: DraftMessage): (string | number)[] {
    const keys = channelKeys(this.prefix, draft.channel);
    return [
      keys.offset,
      keys.epoch,
      keys.stream,
      JSON.stringify(draft),
      randomUUID().slice(0, 8),
      this.#maxLen,
      this.#ttlMs,
      keys.pubsub,
    ];
  }

  async publish<D>(draft: DraftMessage<D>): Promise<Envelope<D>> {
    const [offset, epoch] = await this.#redis.crucibleLogPublish(...this.#args(draft));
    return { ...draft, offset, epoch };
  }

  async publishAll(drafts: readonly DraftMessage[]): Promise<Envelope[]> {
    if (drafts.length <= 1) return Promise.all(drafts.map((draft) => this.publish(draft)));
    // One pipeline: one write and one round trip for the lot, each message still its own script
    // (its channel's keys share a hash slot; the lot's do not), run in the order sent.
    const pipeline = this.#redis.pipeline() as ReturnType<Redis['pipeline']> & {
      crucibleLogPublish(...args: (string | number)[]): unknown;
    };
    for (const draft of drafts) pipeline.crucibleLogPublish(...this.#args(draft));
    const results = await pipeline.exec();
    if (!results) throw new Error('event log: the publish pipeline was aborted');
    return results.map(([err, reply], i) => {
      if (err) throw err;
      const [offset, epoch] = reply as [number, string];
      return { ...drafts[i]!, offset, epoch };
    });
  }

  async recover(channel: string, sinceOffset: number): Promise<Recovery> {
    const keys = channelKeys(this.prefix, channel);
    const from = Math.max(0, Math.floor(sinceOffset)) + 1;
    const results = await this.#redis
      .multi()
      .get(keys.epoch)
      .get(keys.offset)
      .xrange(keys.stream, `0-${from}`, '+')
      .exec();
    if (!results) throw new Error('event log: recovery transaction aborted');
    for (const [err] of results) if (err) throw err;
    const epoch = (results[0]![1] as string | null) ?? null;
    const offset = Number((results[1]![1] as string | null) ?? 0);
    const entries = results[2]![1] as [string, string[]][];
    const messages = entries.map(([, fields]) => JSON.parse(fields[1]!) as Envelope);
    const expected = offset - from + 1;
    const complete = epoch === null ? true : messages.length === Math.max(0, expected);
    return { epoch, offset, messages, complete };
  }
}

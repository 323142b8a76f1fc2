import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

export type RedisRole = 'producer' | 'worker' | 'subscriber';

/**
 * One place that knows how each kind of Redis client must behave:
 * producers fail fast while Redis is down (no offline queue), workers and subscribers wait and
 * reconnect (`maxRetriesPerRequest: null`, as BullMQ requires). Every client gets an `error`
 * listener so a Redis restart never crashes the process.
 */
export function createRedis(
  url: string,
  role: RedisRole,
  onError: (err: Error) => void = () => {},
  extra: RedisOptions = {},
): Redis {
  // A subscriber may SUBSCRIBE before the connection is ready; ioredis's ready check (INFO) would
  // then fail in subscriber mode and drop the subscriptions, so subscribers skip it.
  const options: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5_000 }
      : role === 'subscriber'
        ? { maxRetriesPerRequest: null, enableReadyCheck: false }
        : { maxRetriesPerRequest: null, enableReadyCheck: true };
  const client = new Redis(url, {
    ...options,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
    lazyConnect: false,
    ...extra,
  });
  client.on('error', onError);
  return client;
}

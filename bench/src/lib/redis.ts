import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL =
  process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one benchmark (every key under it is deleted afterwards). */
export function benchPrefix(): string {
  return `t-bench-${randomUUID()}`;
}

/** Deletes every key of a prefix (SCAN + UNLINK, never KEYS). */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

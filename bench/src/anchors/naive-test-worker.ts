// Anchor: a bare BullMQ worker doing a trivial test's work the naive way, in a process of its own
// like Crucible's worker: one undici GET of the target, the row marked running and then completed
// with its result (one UPDATE each, on a table made LIKE test_queue), and one Redis PUBLISH per
// status change. No attempts history, no fencing, no fair dispatch, no events log: what is left
// when everything Crucible adds to "run a GET and record it" is taken away.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';

const table = process.env.ANCHOR_TABLE!;
const channelPrefix = process.env.ANCHOR_CHANNEL_PREFIX!;
const concurrency = Number(process.env.ANCHOR_CONCURRENCY ?? 5);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Math.min(concurrency, 10) });
const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const publisher = new Redis(process.env.REDIS_URL!);

interface NaiveJob {
  testId: string;
  url: string;
}

const worker = new Worker<NaiveJob>(
  'naive-tests',
  async (job) => {
    const { testId, url } = job.data;
    const channel = `${channelPrefix}${testId}`;
    await pool.query(`UPDATE ${table} SET status = 'running', started_at = now() WHERE test_id = $1`, [
      testId,
    ]);
    await publisher.publish(channel, JSON.stringify({ event: 'test:started', testId }));
    const started = performance.now();
    const res = await request(url);
    const body = await res.body.text();
    const result = { statusCode: res.statusCode, bytes: body.length, ms: performance.now() - started };
    await pool.query(
      `UPDATE ${table} SET status = 'completed', result = $2, progress = 100, completed_at = now() WHERE test_id = $1`,
      [testId, JSON.stringify(result)],
    );
    await publisher.publish(channel, JSON.stringify({ event: 'test:completed', testId, result }));
  },
  { connection, prefix: process.env.ANCHOR_BULL_PREFIX, concurrency },
);
await worker.waitUntilReady();
console.log('anchor worker ready');
process.once('SIGTERM', () => {
  void worker.close().then(async () => {
    await pool.end();
    connection.disconnect();
    publisher.disconnect();
    process.exit(0);
  });
});

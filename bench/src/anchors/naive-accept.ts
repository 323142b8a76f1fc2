// Anchor: the accept route anyone would write first — one INSERT, one BullMQ add, per request —
// on the same table, the same Redis and the same pool size as Crucible's API.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
const queue = new Queue('tests', { connection, prefix: process.env.NAIVE_BULL_PREFIX });
const userId = process.env.NAIVE_USER_ID!;

const app = Fastify({ logger: false });
app.get('/health/ready', async () => ({ ok: true }));
app.post<{ Body: { testType: string; url: string; config?: object } }>('/run', async (req, reply) => {
  const testId = randomUUID();
  const { testType, url, config = {} } = req.body;
  await pool.query(
    'INSERT INTO test_queue (test_id, test_type, url, config, user_id) VALUES ($1, $2, $3, $4, $5)',
    [testId, testType, url, config, userId],
  );
  await queue.add(testType, { testId, testType, url, config, userId }, { jobId: testId });
  return reply.code(202).send({ testId, status: 'queued' });
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.once('SIGTERM', () => {
  void (async () => {
    await app.close();
    await queue.close();
    connection.disconnect();
    await pool.end();
    process.exit(0);
  })();
});

// Anchor: a bare BullMQ worker whose jobs do nothing, in a process of its own like Crucible's worker.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const worker = new Worker('tests', async () => {}, {
  connection,
  prefix: process.env.ANCHOR_BULL_PREFIX,
  concurrency: Number(process.env.ANCHOR_CONCURRENCY ?? 5),
});
await worker.waitUntilReady();
console.log('anchor worker ready');
process.once('SIGTERM', () => {
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});

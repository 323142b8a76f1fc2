import { afterAll, describe, expect, it } from 'vitest';
import { MONITOR_QUEUE_NAME, STRESS_SHARD_QUEUE_NAME, TestQueueNames } from '@crucible/contracts';
import { createTestDeployment } from '../src/testing.js';
import type { TestDeployment } from '../src/testing.js';

describe('the embedded backplane', () => {
  let deployment: TestDeployment | undefined;
  afterAll(() => deployment?.close());

  it('holds every queue and a worker on each, restarted seven times, on its one pool without a leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      deployment = await createTestDeployment({ mode: 'embedded' });
      const backplane = await deployment.backplane();
      for (const name of Object.values(TestQueueNames)) backplane.queue.named(name);
      void backplane.monitorQueue;
      void backplane.shardQueue;
      const names = [...Object.values(TestQueueNames), MONITOR_QUEUE_NAME, STRESS_SHARD_QUEUE_NAME] as const;
      for (let run = 0; run < 8; run++) {
        const workers = names.map((queue) =>
          backplane.createWorker(async () => undefined, { queue, concurrency: 1 }),
        );
        await Promise.all(workers.map((w) => w.waitUntilReady()));
        await Promise.all(workers.map((w) => w.close()));
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

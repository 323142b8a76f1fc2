import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { MonitorsRepository, UsersRepository, WorkspacesRepository } from '../src/index.js';
import { migratedDatabase } from './database.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('monitors repository', () => {
  const database = migratedDatabase();

  it('deletes a monitor while one of its runs settles, neither of them failing on a deadlock', async () => {
    const user = await new UsersRepository(database.db.kysely).create(`${randomUUID()}@example.test`, 'h');
    const workspace = await new WorkspacesRepository(database.db.kysely).create('Team', user!.id);
    const monitors = new MonitorsRepository(database.db.kysely);
    const monitor = await monitors.create({
      workspaceId: workspace.id,
      createdBy: user!.id,
      name: 'm',
      test: { testType: 'api', url: 'http://127.0.0.1/' },
      judging: null,
      baseline: null,
      everySeconds: 60,
      cron: null,
      timezone: null,
      enabled: true,
      nextRunAt: new Date(Date.now() + 60_000),
    });
    const run = await monitors.runNow(monitor, randomUUID(), null);
    await database.db.kysely
      .updateTable('test_queue')
      .set({ status: 'completed', completed_at: new Date() })
      .where('test_id', '=', run!.row.test_id)
      .execute();

    // Another transaction holds the run's slot, so that settling and deleting both queue behind it,
    // the settle first: the order in which a worker finishing a run meets an API deleting its monitor.
    let releaseSlot!: () => void;
    const slotHeld = new Promise<void>((r) => (releaseSlot = r));
    let slotLocked!: () => void;
    const locked = new Promise<void>((r) => (slotLocked = r));
    const holder = database.db.kysely.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM monitor_slots WHERE monitor_id = ${monitor.id} FOR UPDATE`.execute(trx);
      slotLocked();
      await slotHeld;
    });
    await locked;
    const settled = monitors.settleRun(run!.row.test_id, () => 'up');
    await sleep(200);
    const deleted = monitors.delete(monitor.id, workspace.id);
    await sleep(200);
    releaseSlot();
    await holder;
    const [settle, del] = await Promise.allSettled([settled, deleted]);
    expect(settle.status === 'fulfilled' ? 'ok' : String((settle as PromiseRejectedResult).reason)).toBe(
      'ok',
    );
    expect(del.status === 'fulfilled' ? 'ok' : String((del as PromiseRejectedResult).reason)).toBe('ok');
    expect(await monitors.find(monitor.id, workspace.id)).toBeUndefined();
  });
});

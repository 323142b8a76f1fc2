import { describe, expect, it } from 'vitest';
import type { TestRow } from '@crucible/db';
import { createStanding } from './standing.js';

/** A queued test of `workspace` (only what the standing reads). */
const queued = (id: number, workspace: string): TestRow =>
  ({
    id: String(id),
    test_id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    test_type: 'api',
    status: 'queued',
    priority: 5,
    workspace_id: workspace,
    dispatched_at: null,
    created_at: new Date(),
    updated_at: new Date(),
    started_at: null,
  }) as unknown as TestRow;

describe('Standing.explainAll', () => {
  it("asks each store once for all the tests and each workspace's running quota once", async () => {
    const asked = { hosts: 0, stress: 0, quota: [] as string[] };
    const rows = [
      ...Array.from({ length: 20 }, (_, i) => queued(i + 1, 'ws-a')),
      queued(21, 'ws-b'),
      { ...queued(22, 'ws-a'), status: 'running' } as TestRow,
    ];
    const standing = createStanding({
      tests: {
        queueSnapshot: () => Promise.reject(new Error('one at a time: not asked here')),
        queueSnapshots: async (list) => list.map(() => ({ aheadByType: {}, running: [], meanSecByType: {} })),
      },
      registry: { live: async () => [] },
      targetHosts: {
        waiting: async (ids) => {
          asked.hosts++;
          return new Map(ids.includes(rows[2]!.test_id) ? [[rows[2]!.test_id, 'its host is busy']] : []);
        },
      },
      stressConnections: {
        waiting: async () => {
          asked.stress++;
          return new Map();
        },
      },
      quotaReason: async (row) => {
        asked.quota.push(row.workspace_id!);
        return row.workspace_id === 'ws-a' ? 'the running quota is reached' : null;
      },
      log: { warn: () => undefined },
    });

    const where = await standing.explainAll(rows);

    expect(asked).toEqual({ hosts: 1, stress: 1, quota: ['ws-a', 'ws-b'] });
    expect(where[0]!.waitReason).toBe('the running quota is reached');
    expect(where[2]!.waitReason).toBe('its host is busy');
    expect(where[20]!.waitReason).toBe('no worker is online');
    expect(where[21]!.waitReason).toBeNull();
  });
});

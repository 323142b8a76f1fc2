import { MaintenanceWindowsRepository } from '@crucible/db';
import type { Db } from '@crucible/db';
import { inMaintenanceAt } from '@crucible/runtime';
import type { PlanOptions } from './plan.js';

/**
 * Whether a monitor of `workspaceIds` is inside one of its maintenance windows at a time: their
 * windows read once (in the caller's transaction), then asked per monitor and slot.
 */
export async function maintenanceWindowsOf(
  workspaceIds: string[],
  db: Db['kysely'],
): Promise<PlanOptions['inMaintenance']> {
  const windows = await new MaintenanceWindowsRepository(db).list(workspaceIds);
  return windows.length === 0 ? () => false : (monitor, at) => inMaintenanceAt(windows, monitor, at);
}

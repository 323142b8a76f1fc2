import type {
  MaintenanceWindowCreate,
  MaintenanceWindowUpdate,
  MaintenanceWindowView,
} from '@crucible/contracts/api';
import type {
  MaintenanceWindowRow,
  MaintenanceWindowsRepository,
  MonitorRow,
  MonitorsRepository,
} from '@crucible/db';
import { InvalidWindowError, checkMaintenanceWindow, inMaintenanceAt, windowOpenAt } from '@crucible/runtime';
import { HttpProblem, notFound } from '../../errors.js';
import type { Actor } from '../workspace-access.js';

export interface MaintenanceWindowsServiceDeps {
  windows: MaintenanceWindowsRepository;
  monitors: Pick<MonitorsRepository, 'idsInWorkspace'>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function toWindowView(w: MaintenanceWindowRow, now = new Date()): MaintenanceWindowView {
  return {
    id: w.id,
    name: w.name,
    monitorIds: w.monitor_ids ?? 'all',
    startsAt: w.starts_at?.toISOString() ?? null,
    endsAt: w.ends_at?.toISOString() ?? null,
    cron: w.cron,
    durationMinutes: w.duration_minutes,
    timezone: w.timezone,
    active: windowOpenAt(w, now),
    createdAt: w.created_at.toISOString(),
  };
}

/** 400 `INVALID_WINDOW` naming what is wrong with the window's times. */
function checkedTimes(body: Parameters<typeof checkMaintenanceWindow>[0]) {
  try {
    return checkMaintenanceWindow(body);
  } catch (err) {
    if (err instanceof InvalidWindowError)
      throw new HttpProblem(400, 'INVALID_WINDOW', 'Bad Request', err.message, { cause: err });
    throw err;
  }
}

/**
 * Maintenance windows of a workspace (DESIGN.md, "Monitors"): while one is open, its monitors'
 * slots are recorded `skipped` (reason `maintenance`) instead of run, they show `maintenance`, and
 * their state does not change (nothing alerts). A window names monitors of its own workspace only:
 * another's is 404, as if it did not exist.
 */
export function createMaintenanceWindowsService(deps: MaintenanceWindowsServiceDeps) {
  const { windows } = deps;

  async function checkedMonitors(actor: Actor, ids: string[] | 'all'): Promise<string[] | null> {
    if (ids === 'all') return null;
    const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
    const own = new Set(await deps.monitors.idsInWorkspace(actor.workspaceId, unique));
    const stranger = unique.find((id) => !own.has(id));
    if (stranger) throw notFound(`Monitor ${stranger}`);
    return unique;
  }

  async function found(actor: Actor, id: string): Promise<MaintenanceWindowRow> {
    const w = UUID.test(id) ? await windows.find(id.toLowerCase(), actor.workspaceId) : undefined;
    if (!w) throw notFound('Maintenance window');
    return w;
  }

  return {
    async create(actor: Actor, body: MaintenanceWindowCreate): Promise<MaintenanceWindowView> {
      const times = checkedTimes(body);
      const monitorIds = await checkedMonitors(actor, body.monitorIds);
      const w = await windows.create({
        workspaceId: actor.workspaceId,
        name: body.name,
        monitorIds,
        startsAt: times.starts_at,
        endsAt: times.ends_at,
        cron: times.cron,
        durationMinutes: times.duration_minutes,
        timezone: times.timezone,
      });
      return toWindowView(w);
    },

    async list(actor: Actor): Promise<MaintenanceWindowView[]> {
      const now = new Date();
      return (await windows.list([actor.workspaceId])).map((w) => toWindowView(w, now));
    },

    async get(actor: Actor, id: string): Promise<MaintenanceWindowView> {
      return toWindowView(await found(actor, id));
    },

    async update(actor: Actor, id: string, body: MaintenanceWindowUpdate): Promise<MaintenanceWindowView> {
      const current = await found(actor, id);
      const { name, monitorIds, ...given } = body;
      const retimed = Object.keys(given).length > 0;
      const times = retimed ? checkedTimes(given) : undefined;
      const w = await windows.update(current.id, actor.workspaceId, {
        ...(name !== undefined ? { name } : {}),
        ...(monitorIds !== undefined ? { monitorIds: await checkedMonitors(actor, monitorIds) } : {}),
        ...(times
          ? {
              startsAt: times.starts_at,
              endsAt: times.ends_at,
              cron: times.cron,
              durationMinutes: times.duration_minutes,
              timezone: times.timezone,
            }
          : {}),
      });
      if (!w) throw notFound('Maintenance window');
      return toWindowView(w);
    },

    async delete(actor: Actor, id: string): Promise<void> {
      if (!UUID.test(id) || !(await windows.delete(id.toLowerCase(), actor.workspaceId))) {
        throw notFound('Maintenance window');
      }
    },

    /** Which of `monitors` are inside one of their windows now (their status shows `maintenance`). */
    async inMaintenance(monitors: MonitorRow[]): Promise<Set<string>> {
      const list = await windows.list([...new Set(monitors.map((m) => m.workspace_id))]);
      const now = new Date();
      return new Set(monitors.filter((m) => inMaintenanceAt(list, m, now)).map((m) => m.id));
    },
  };
}

export type MaintenanceWindowsService = ReturnType<typeof createMaintenanceWindowsService>;

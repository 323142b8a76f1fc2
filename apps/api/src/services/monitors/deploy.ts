import type { Judging } from '@crucible/contracts';
import type { MonitorDeploy, MonitorDeployItem, MonitorDeployResult } from '@crucible/contracts/api';
import type { MonitorRow } from '@crucible/db';
import { HttpProblem } from '../../errors.js';
import type { checkMonitorSchedule } from './validation.js';

type Change = MonitorDeployResult['changes'][number];

/** A deploy's monitor once the API has checked it: what it would store. */
export interface CheckedItem {
  item: MonitorDeployItem;
  test: Record<string, unknown>;
  judging: Judging | null;
  baseline: string | null;
  schedule: ReturnType<typeof checkMonitorSchedule>;
}

/** What `deploy` needs of the monitors service: the same checks and writes as its own routes. */
export interface DeployOps {
  check(item: MonitorDeployItem): Promise<CheckedItem>;
  codeMonitors(): Promise<MonitorRow[]>;
  create(checked: CheckedItem): Promise<{ id: string }>;
  update(
    id: string,
    fields: Partial<Pick<MonitorDeployItem, 'name' | 'test' | 'schedule' | 'enabled'>>,
  ): Promise<unknown>;
  delete(id: string): Promise<void>;
}

/** JSON with its keys sorted, undefined members left out: jsonb keeps no key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The fields of a stored monitor the checked item would change, compared as the API stores them. */
export function changedFields(current: MonitorRow, next: CheckedItem): string[] {
  const changed: string[] = [];
  if (current.name !== next.item.name) changed.push('name');
  if (
    canonical(current.test) !== canonical(next.test) ||
    canonical(current.judging ?? null) !== canonical(next.judging ?? null) ||
    current.baseline !== next.baseline
  )
    changed.push('test');
  const s = next.schedule;
  if (current.every_seconds !== s.everySeconds || current.cron !== s.cron || current.timezone !== s.timezone)
    changed.push('schedule');
  if (next.item.enabled !== undefined && next.item.enabled !== current.enabled) changed.push('enabled');
  return changed;
}

/** A check's problem, naming the check: the file may hold many. */
function inCheck(err: unknown, codeKey: string): unknown {
  if (!(err instanceof HttpProblem)) return err;
  return new HttpProblem(err.status, err.code, err.title, `check "${codeKey}": ${err.message}`, {
    cause: err,
    headers: err.headers,
    extensions: err.extensions,
  });
}

/**
 * Makes the workspace's monitors as code match the request. Every monitor is checked before
 * anything changes, so one bad check leaves the workspace as it was; an equal monitor is not
 * written at all, so deploying the same file twice changes nothing. Only monitors with a code key
 * are ever updated or pruned.
 */
export async function deployMonitors(ops: DeployOps, body: MonitorDeploy): Promise<MonitorDeployResult> {
  const dryRun = body.dryRun ?? false;
  const keys = new Set<string>();
  for (const { codeKey } of body.monitors) {
    if (keys.has(codeKey))
      throw new HttpProblem(
        400,
        'DUPLICATE_CODE_KEY',
        'Bad Request',
        `two monitors have the code key "${codeKey}"`,
      );
    keys.add(codeKey);
  }
  const checked: CheckedItem[] = [];
  for (const item of body.monitors) {
    try {
      checked.push(await ops.check(item));
    } catch (err) {
      throw inCheck(err, item.codeKey);
    }
  }
  const existing = await ops.codeMonitors();
  const byKey = new Map(existing.map((m) => [m.code_key!, m]));
  const changes: Change[] = [];
  for (const next of checked) {
    const { item } = next;
    const current = byKey.get(item.codeKey);
    if (!current) {
      const id = dryRun ? null : (await ops.create(next)).id;
      changes.push({ codeKey: item.codeKey, action: 'create', id, name: item.name, changed: [] });
      continue;
    }
    const changed = changedFields(current, next);
    if (changed.length > 0 && !dryRun) {
      const fields: Parameters<DeployOps['update']>[1] = {};
      for (const field of changed) Object.assign(fields, { [field]: item[field as keyof typeof fields] });
      await ops.update(current.id, fields);
    }
    changes.push({
      codeKey: item.codeKey,
      action: changed.length > 0 ? 'update' : 'unchanged',
      id: current.id,
      name: item.name,
      changed,
    });
  }
  for (const m of existing.filter((x) => !keys.has(x.code_key!))) {
    if (body.prune && !dryRun) await ops.delete(m.id);
    changes.push({
      codeKey: m.code_key!,
      action: body.prune ? 'delete' : 'kept',
      id: m.id,
      name: m.name,
      changed: [],
    });
  }
  return { dryRun, changes };
}

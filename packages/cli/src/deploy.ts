import type { MonitorDeployItem, MonitorDeployResult } from '@crucible/contracts/api';
import type { Connection } from './connection.js';
import { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';
import { runTestBody } from './submission.js';
import type { CheckSpec } from './submission.js';

export interface DeployOptions {
  /** Delete the monitors a deploy made that the file no longer lists. */
  prune: boolean;
  /** Print the plan, change nothing. */
  dryRun: boolean;
  /** The file, for the messages. */
  file: string;
}

type Change = MonitorDeployResult['changes'][number];

/** A check with a `schedule` as the API takes a monitor: its name is its code key. */
export function monitorOf(check: CheckSpec & { name: string }): MonitorDeployItem {
  const item: MonitorDeployItem = {
    codeKey: check.name,
    name: check.name,
    test: runTestBody(check) as MonitorDeployItem['test'],
    schedule: check.schedule!,
  };
  if (check.enabled !== undefined) item.enabled = check.enabled;
  return item;
}

const describeSchedule = (s: CheckSpec['schedule']) =>
  s && 'everySeconds' in s ? `every ${s.everySeconds} s` : s ? `cron "${s.cron}" ${s.timezone ?? 'UTC'}` : '';

const VERB = {
  create: ['create', 'created', 'would create'],
  update: ['update', 'updated', 'would update'],
  delete: ['delete', 'deleted', 'would delete'],
  unchanged: ['unchanged', 'unchanged', 'unchanged'],
  kept: ['kept', 'kept', 'kept'],
} as const;

/** One line per monitor, then what changed in all, or that nothing did. */
export function formatPlan(
  result: MonitorDeployResult,
  checks: Map<string, CheckSpec>,
  output: Pick<Output, 'colors'>,
): string {
  const { colors } = output;
  const mark: Record<Change['action'], string> = {
    create: colors.green('+'),
    update: colors.yellow('~'),
    delete: colors.red('-'),
    unchanged: colors.dim('='),
    kept: colors.dim('!'),
  };
  const lines = result.changes.map((c) => {
    const verb = VERB[c.action][result.dryRun ? 2 : 1].padEnd(result.dryRun ? 12 : 9);
    let why = '';
    if (c.action === 'create') why = ` (${describeSchedule(checks.get(c.codeKey)?.schedule)})`;
    if (c.action === 'update') why = `: ${c.changed.join(', ')}`;
    if (c.action === 'kept') why = ' (not in the file; --prune deletes it)';
    return `${mark[c.action]} ${verb} ${c.codeKey}${why}`;
  });
  const count = (action: Change['action']) => result.changes.filter((c) => c.action === action).length;
  const changed = (['create', 'update', 'delete'] as const).filter((a) => count(a) > 0);
  let total: string;
  if (changed.length === 0) {
    const unchanged = count('unchanged');
    total = `nothing to change: ${unchanged} monitor${unchanged === 1 ? '' : 's'} already as the file says`;
  } else {
    total = changed.map((a) => `${count(a)} ${VERB[a][result.dryRun ? 2 : 1]}`).join(', ');
    if (count('unchanged') > 0) total += `, ${count('unchanged')} unchanged`;
  }
  if (result.dryRun) total += ' (dry run: nothing was changed)';
  return `${lines.join('\n')}${lines.length ? '\n' : ''}${total}\n`;
}

/**
 * `crucible deploy`: the file's checks with a `schedule` become the workspace's monitors as code.
 * The API checks every monitor before it changes any and compares each with what it stores, so
 * the plan, the validation and the idempotence are the server's, the same for every client.
 */
export async function deploy(
  connection: Connection,
  checks: CheckSpec[],
  output: Output,
  options: DeployOptions,
): Promise<ExitCode> {
  const monitors = checks.filter((c): c is CheckSpec & { name: string } => c.schedule !== undefined);
  if (monitors.length === 0 && !options.prune) {
    output.err.write(
      `${options.file}: no check has a schedule, so there is no monitor to deploy (a check with "schedule" is a monitor)\n`,
    );
  }
  const result = await connection.call('deployMonitors', {
    body: { monitors: monitors.map(monitorOf), prune: options.prune, dryRun: options.dryRun },
  });
  output.out.write(formatPlan(result, new Map(monitors.map((c) => [c.name, c])), output));
  return ExitCode.PASSED;
}

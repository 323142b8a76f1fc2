import type { Logger } from 'pino';
import { ALERT_RUNS_MAX, incidentKey, metricSpec, parseThreshold, runFails } from '@crucible/contracts';
import type { AlertCondition, MetricValues, TestType } from '@crucible/contracts';
import { AlertRulesRepository, IncidentsRepository } from '@crucible/db';
import type { AlertRuleWithChannels, Db, MonitorRow, SettledRunRow, TestRow } from '@crucible/db';
import { notifyIncident } from '@crucible/notify';
import type { IncidentNotifyOptions } from '@crucible/notify';

export interface AlertEvaluatorDeps {
  notify: IncidentNotifyOptions;
  logger: Logger;
}

/** The run's metrics as templates read them (`{{metrics.latency.p95}}`). */
function metricsOf(run: SettledRunRow): MetricValues {
  return Object.fromEntries(Object.entries(run.metrics ?? {}).map(([name, m]) => [name, m?.value ?? null]));
}

/** Whether a rule can judge a monitor's runs: a threshold's metric must be one the monitor's type measures. */
function applies(condition: AlertCondition, testType: TestType): boolean {
  return (
    condition.kind === 'down' ||
    metricSpec(testType, parseThreshold(condition.expression).metric) !== undefined
  );
}

/**
 * Judges a monitor's rules after one of its runs settled, inside the settling transaction with
 * the monitor's row held (so one evaluation of a monitor runs at a time, whichever worker settles).
 * It reads the monitor's latest finished runs rather than counting as runs come in, so a run settled
 * twice or out of order changes nothing: `failAfter` failing runs in a row (newer than the key's
 * last incident and than the rule) open an incident, `recoverAfter` passing runs after those that
 * opened it resolve it. Missed and skipped slots (maintenance) are not runs and count for nothing.
 */
export function createAlertEvaluator(deps: AlertEvaluatorDeps) {
  async function judgeRule(
    trx: Db['kysely'],
    rule: AlertRuleWithChannels,
    monitor: MonitorRow,
    history: SettledRunRow[],
    suppressed: boolean,
  ): Promise<void> {
    const incidents = new IncidentsRepository(trx);
    const fails = (run: SettledRunRow) => runFails(rule.condition, run);
    const current = await incidents.current(rule.id, monitor.id);
    if (!current) {
      const key = incidentKey(rule.id, monitor.id);
      const spent = await incidents.spentThrough(key);
      const since = spent && spent > rule.created_at ? spent : rule.created_at;
      const recent = history.filter((r) => r.scheduled_for > since).slice(0, rule.fail_after);
      if (recent.length < rule.fail_after || !recent.every(fails)) return;
      const opened = await incidents.open({
        workspaceId: monitor.workspace_id,
        ruleId: rule.id,
        monitorId: monitor.id,
        key,
        ruleName: rule.name,
        monitorName: monitor.name,
        severity: rule.severity,
        runs: recent,
        nextRemindAt: rule.remind_every_minutes
          ? new Date(Date.now() + rule.remind_every_minutes * 60_000)
          : null,
      });
      deps.logger.info({ incidentId: opened.id, ruleId: rule.id, monitorId: monitor.id }, 'incident opened');
      await notifyIncident(trx, opened, 'incident.opened', {
        ...deps.notify,
        metrics: metricsOf(recent[0]!),
        suppressed,
      });
      return;
    }
    const recent = history
      .filter((r) => r.scheduled_for > current.opened_through)
      .slice(0, rule.recover_after);
    if (recent.length < rule.recover_after || recent.some(fails)) return;
    const resolved = await incidents.resolve(current.id, { by: null, runs: recent });
    deps.logger.info(
      { incidentId: resolved.id, ruleId: rule.id, monitorId: monitor.id },
      'incident resolved',
    );
    await notifyIncident(trx, resolved, 'incident.resolved', {
      ...deps.notify,
      metrics: metricsOf(recent[0]!),
      suppressed,
    });
  }

  /** `maintenance`: the monitor is inside a maintenance window; what its rules decide is told `suppressed`. */
  return async function evaluate(trx: Db['kysely'], run: TestRow, maintenance: boolean): Promise<void> {
    if (!run.monitor_id || !run.workspace_id) return;
    const rules = await new AlertRulesRepository(trx).forMonitor(run.workspace_id, run.monitor_id);
    if (rules.length === 0) return;
    const monitor = await trx
      .selectFrom('monitors')
      .selectAll()
      .where('id', '=', run.monitor_id)
      .executeTakeFirst();
    if (!monitor) return;
    const testType = (monitor.test as { testType: TestType }).testType;
    const history = await new IncidentsRepository(trx).latestRuns(monitor.id, ALERT_RUNS_MAX);
    for (const rule of rules) {
      if (!applies(rule.condition, testType)) continue;
      await judgeRule(trx, rule, monitor, history, maintenance);
    }
  };
}

export type AlertEvaluator = ReturnType<typeof createAlertEvaluator>;

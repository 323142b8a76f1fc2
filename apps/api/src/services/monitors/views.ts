import { KEY_METRIC } from '@crucible/contracts';
import type { MonitorStatus, TestType } from '@crucible/contracts';
import type { MonitorRunView, MonitorView } from '@crucible/contracts/api';
import type { MonitorRow, MonitorRunRow, MonitorStats } from '@crucible/db';

/** A monitor's key metric (the list's last value and sparkline), by its test's type. */
export function keyMetricOf(m: MonitorRow): string | null {
  const type = (m.test as { testType?: TestType }).testType;
  return type ? (KEY_METRIC as Record<string, string>)[type] ?? null : null;
}

/** Paused beats maintenance beats what the runs say; nothing finished yet is `pending`. */
export function statusOf(m: MonitorRow, inMaintenance: boolean): MonitorStatus {
  if (!m.enabled) return 'paused';
  if (inMaintenance) return 'maintenance';
  return m.state ?? 'pending';
}

export function scheduleView(m: MonitorRow): Record<string, unknown> {
  return m.every_seconds !== null
    ? { everySeconds: m.every_seconds }
    : { cron: m.cron, timezone: m.timezone ?? 'UTC' };
}

export function toMonitorView(m: MonitorRow, stats: MonitorStats | undefined, inMaintenance: boolean): MonitorView {
  const metric = keyMetricOf(m);
  const series = stats?.series ?? [];
  return {
    id: m.id,
    name: m.name,
    test: m.test,
    schedule: scheduleView(m),
    enabled: m.enabled,
    status: statusOf(m, inMaintenance),
    nextRunAt: m.enabled ? (m.next_run_at?.toISOString() ?? null) : null,
    codeKey: m.code_key,
    createdAt: m.created_at.toISOString(),
    updatedAt: m.updated_at.toISOString(),
    lastRun: stats?.lastRun
      ? {
          testId: stats.lastRun.testId,
          scheduledFor: stats.lastRun.scheduledFor.toISOString(),
          state: stats.lastRun.state,
          completedAt: stats.lastRun.completedAt?.toISOString() ?? null,
        }
      : null,
    uptime24h: stats?.uptime24h ?? null,
    uptime30d: stats?.uptime30d ?? null,
    keyMetric: metric
      ? {
          name: metric,
          last: series.at(-1)?.v ?? null,
          series: series.map((p) => ({ t: p.t.toISOString(), v: p.v })),
        }
      : null,
  };
}

export function toRunView(r: MonitorRunRow): MonitorRunView {
  return {
    testId: r.test_id,
    scheduledFor: r.scheduled_for.toISOString(),
    outcome: r.outcome,
    reason: r.reason,
    status: r.status,
    verdict: r.verdict ?? null,
    state: r.state,
    startedAt: r.started_at?.toISOString() ?? null,
    completedAt: r.completed_at?.toISOString() ?? null,
    metrics: r.metrics ?? null,
  };
}

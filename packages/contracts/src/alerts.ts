/**
 * Alert rules and incidents (DESIGN.md, "Alerts and notifications"): what makes a monitor's run
 * fail a rule. Browser-safe; the worker judges runs with it, the api checks rules with it.
 */
import { evaluateThresholds } from './thresholds.js';
import type { MetricValues } from './metrics.js';
import type { MonitorState } from './monitors.js';

/**
 * When a run fails a rule: `down` (the run's state is `down`, as monitors define it) or `threshold`
 * (the run's metric breaks the expression, in the verdicts' threshold language: a metric not
 * measured breaks it, as it fails a verdict).
 */
export type AlertCondition = { kind: 'down' } | { kind: 'threshold'; expression: string };

export const IncidentStatuses = ['open', 'acknowledged', 'resolved'] as const;
export type IncidentStatus = (typeof IncidentStatuses)[number];

/** A rule's consecutive runs, failing to open or passing to resolve. */
export const ALERT_RUNS_MIN = 1;
export const ALERT_RUNS_MAX = 20;
/** A rule's runs default. */
export const ALERT_RUNS_DEFAULT = 2;
/** Reminders come at most this often. */
export const ALERT_REMIND_MIN_MINUTES = 5;

/** What a rule judges of one finished run. */
export interface JudgedRun {
  state: MonitorState;
  /** `result.metrics` as stored: each metric's `{value}`; null for a run without a result. */
  metrics: Record<string, { value: number | null } | null | undefined> | null;
}

/** The run's metrics as the threshold language reads them. */
function metricValues(run: JudgedRun): MetricValues {
  const out: MetricValues = {};
  for (const [name, metric] of Object.entries(run.metrics ?? {})) out[name] = metric?.value ?? null;
  return out;
}

/** Whether `run` fails `condition` (counts towards opening an incident). */
export function runFails(condition: AlertCondition, run: JudgedRun): boolean {
  if (condition.kind === 'down') return run.state === 'down';
  return !evaluateThresholds([condition.expression], metricValues(run))[0]!.passed;
}

/** The dedup key of a rule's incidents on a monitor: at most one of them is open. */
export const incidentKey = (ruleId: string, monitorId: string) => `crucible-${ruleId}-${monitorId}`;

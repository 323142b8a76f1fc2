import { ALERT_RUNS_DEFAULT } from '@crucible/contracts';
import type { Severity } from '@crucible/contracts';
import type { AlertRuleCreate, AlertRuleView } from '@crucible/contracts/api';

/** The rule form's fields as typed: numbers stay text until sent, so a half-typed one is kept. */
export interface RuleDraft {
  name: string;
  /** A monitor's id, or `''` for every monitor (those made later too). */
  monitorId: string;
  kind: 'down' | 'threshold';
  expression: string;
  failAfter: string;
  recoverAfter: string;
  /** `''`: no reminders. */
  remindEveryMinutes: string;
  severity: Severity;
  channelIds: string[];
}

/** The form for a new rule, or filled from an existing one. */
export function draftOf(rule?: AlertRuleView): RuleDraft {
  if (!rule)
    return {
      name: '',
      monitorId: '',
      kind: 'down',
      expression: '',
      failAfter: String(ALERT_RUNS_DEFAULT),
      recoverAfter: String(ALERT_RUNS_DEFAULT),
      remindEveryMinutes: '',
      severity: 'critical',
      channelIds: [],
    };
  return {
    name: rule.name,
    monitorId: 'monitorId' in rule.target ? rule.target.monitorId : '',
    kind: rule.condition.kind,
    expression: rule.condition.kind === 'threshold' ? rule.condition.expression : '',
    failAfter: String(rule.failAfter),
    recoverAfter: String(rule.recoverAfter),
    remindEveryMinutes: rule.remindEveryMinutes === null ? '' : String(rule.remindEveryMinutes),
    severity: rule.severity,
    channelIds: [...rule.channelIds],
  };
}

export type RuleErrors = Partial<Record<keyof RuleDraft | '', string>>;

const WHOLE = /^\s*\d+\s*$/;

/**
 * The request body for the draft, or what is wrong with it field by field. Only what the form
 * can tell by itself is checked here (a name, whole numbers); ranges and the expression are the
 * API's to judge, and its answer shows under the field (`ruleField`).
 */
export function ruleRequest(draft: RuleDraft): { body: AlertRuleCreate } | { errors: RuleErrors } {
  const errors: RuleErrors = {};
  if (!draft.name.trim()) errors.name = 'Give the rule a name';
  if (draft.kind === 'threshold' && !draft.expression.trim())
    errors.expression = 'An expression such as latency.p95 < 500';
  for (const key of ['failAfter', 'recoverAfter'] as const)
    if (!WHOLE.test(draft[key])) errors[key] = 'A whole number of runs';
  if (draft.remindEveryMinutes.trim() && !WHOLE.test(draft.remindEveryMinutes))
    errors.remindEveryMinutes = 'A whole number of minutes, or empty for none';
  if (Object.keys(errors).length > 0) return { errors };
  return {
    body: {
      name: draft.name.trim(),
      target: draft.monitorId ? { monitorId: draft.monitorId } : { allMonitors: true },
      condition:
        draft.kind === 'down' ? { kind: 'down' } : { kind: 'threshold', expression: draft.expression.trim() },
      failAfter: Number(draft.failAfter),
      recoverAfter: Number(draft.recoverAfter),
      remindEveryMinutes: draft.remindEveryMinutes.trim() ? Number(draft.remindEveryMinutes) : null,
      severity: draft.severity,
      channelIds: draft.channelIds,
    },
  };
}

/**
 * Which field an API refusal of the rule form is about, from its code and the path its detail
 * starts with (`condition.expression: threshold "…": …`, `failAfter must be <= 20`); `''` for the
 * form as a whole.
 */
export function ruleField(code: string, detail: string): keyof RuleDraft | '' {
  if (code === 'INVALID_THRESHOLD') return 'expression';
  const path = /^(?:body\.)?([\w.]+)/.exec(detail)?.[1] ?? '';
  const [head, sub] = path.split('.');
  if (head === 'condition') return sub === 'expression' ? 'expression' : 'kind';
  if (head === 'target') return 'monitorId';
  if (
    head === 'name' ||
    head === 'failAfter' ||
    head === 'recoverAfter' ||
    head === 'remindEveryMinutes' ||
    head === 'severity' ||
    head === 'channelIds'
  )
    return head;
  return '';
}

/** What the rule waits for, in words: `down 2 runs in a row · resolves after 2 passing · reminds every 30 min`. */
export function ruleSummary(rule: AlertRuleView): string {
  const what = rule.condition.kind === 'down' ? 'down' : `breaks ${rule.condition.expression}`;
  const runs = (n: number) => (n === 1 ? '1 run' : `${n} runs`);
  return [
    `${what} ${rule.failAfter === 1 ? 'once' : `${runs(rule.failAfter)} in a row`}`,
    `resolves after ${rule.recoverAfter} passing`,
    rule.remindEveryMinutes === null ? 'no reminders' : `reminds every ${rule.remindEveryMinutes} min`,
  ].join(' · ');
}

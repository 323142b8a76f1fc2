import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { RunsSpread, TestTypes } from '@crucible/contracts';

/**
 * What `--json` writes: one object per check, stable across versions of the CLI (a field may be
 * added, none renamed or removed without a new `schemaVersion`). Published as
 * `schemas/summary.schema.json`.
 */
const Nullable = <T extends ReturnType<typeof Type.Number | typeof Type.String>>(t: T) =>
  Type.Union([t, Type.Null()]);

export const ThresholdReport = Type.Object(
  {
    expression: Type.String({ description: 'As given, e.g. `latency.p95 < 300`.' }),
    metric: Type.String(),
    op: Type.String(),
    limit: Type.Number(),
    actual: Type.Union([Type.Number(), Type.Null()], { description: 'null: nothing was measured.' }),
    passed: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ThresholdReport = Static<typeof ThresholdReport>;

export const ComparisonReport = Type.Object(
  {
    metric: Type.String(),
    baseline: Type.Union([Type.Number(), Type.Null()]),
    current: Type.Union([Type.Number(), Type.Null()]),
    changePct: Type.Union([Type.Number(), Type.Null()]),
    verdict: Type.String({ description: '`regressed`, `improved` or `unchanged`.' }),
    confidence: Type.Union([Type.Number(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ComparisonReport = Static<typeof ComparisonReport>;

export const CheckReport = Type.Object(
  {
    id: Type.Union([Type.String(), Type.Null()], {
      description: 'The test id; null if it was never created.',
    }),
    name: Type.String(),
    type: Type.Union(Object.values(TestTypes).map((t) => Type.Literal(t))),
    target: Type.String(),
    status: Type.Union(
      [
        Type.Literal('completed'),
        Type.Literal('failed'),
        Type.Literal('cancelled'),
        Type.Literal('timed-out'),
        Type.Literal('not-submitted'),
      ],
      { description: "The test's status, `timed-out` (cancelled after --timeout) or `not-submitted`." },
    ),
    verdict: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('none'), Type.Null()]),
    exitCode: Type.Integer({ description: 'What this check alone would exit with.' }),
    metrics: Type.Record(
      Type.String(),
      Type.Object(
        {
          value: Nullable(Type.Number()),
          unit: Type.String(),
          runs: Type.Optional({
            ...RunsSpread,
            description: 'With `runs` > 1: the spread over the runs; `value` is their median.',
          }),
        },
        { additionalProperties: true },
      ),
    ),
    thresholds: Type.Array(ThresholdReport),
    aborted: Type.Optional(
      Type.Object(
        {
          threshold: Type.String(),
          atSec: Type.Number({ description: 'Seconds into the load.' }),
          actual: Type.Union([Type.Number(), Type.Null()]),
        },
        {
          additionalProperties: false,
          description: 'The `abortOnFail` threshold that failed live and stopped the test early.',
        },
      ),
    ),
    comparison: Type.Array(ComparisonReport),
    durationMs: Nullable(Type.Number()),
    url: Type.Union([Type.String(), Type.Null()], { description: "The test's page in the dashboard." }),
    error: Type.Union([Type.String(), Type.Null()], {
      description: 'Why there is no result, if there is none.',
    }),
  },
  { additionalProperties: false },
);
export type CheckReport = Static<typeof CheckReport>;

export const SummaryReport = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    crucibleUrl: Type.String(),
    exitCode: Type.Integer(),
    checks: Type.Array(CheckReport),
  },
  { additionalProperties: false, title: 'crucible --json summary' },
);
export type SummaryReport = Static<typeof SummaryReport>;

import type { CheckReport } from './report-schema.js';
import { formatNumber } from './summary.js';

/** XML text or attribute value: the five entities, and characters XML 1.0 does not allow dropped. */
export function xmlEscape(value: string): string {
  return (
    value
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const attrs = (values: Record<string, string | number>) =>
  Object.entries(values)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');

const seconds = (ms: number | null) => ((ms ?? 0) / 1000).toFixed(3);

interface Case {
  name: string;
  failure?: { message: string; body: string; type: string };
  error?: { message: string; type: string };
}

/**
 * One `<testcase>` per threshold; a test without thresholds gets one for its verdict, and one
 * without a result one `<error>` saying why, so every suite says what happened.
 */
function casesOf(check: CheckReport): Case[] {
  if (check.status !== 'completed') {
    return [
      {
        name: 'result',
        error: { message: check.error ?? `the test was ${check.status}`, type: check.status },
      },
    ];
  }
  const cases: Case[] = check.thresholds.map((t) => ({
    name: t.expression,
    ...(t.passed
      ? {}
      : {
          failure: {
            message: `${t.expression}: actual ${formatNumber(t.actual)}`,
            body: `expected: ${t.metric} ${t.op} ${formatNumber(t.limit)}\nactual: ${formatNumber(t.actual)}`,
            type: 'threshold',
          },
        }),
  }));
  for (const c of check.comparison.filter((x) => x.verdict === 'regressed')) {
    cases.push({
      name: `${c.metric} regression`,
      failure: {
        message: `${c.metric} regressed: ${formatNumber(c.baseline)} → ${formatNumber(c.current)}`,
        body: `baseline: ${formatNumber(c.baseline)}\ncurrent: ${formatNumber(c.current)}\nchange: ${formatNumber(c.changePct)} %`,
        type: 'regression',
      },
    });
  }
  const judged = cases.some((c) => c.failure);
  if (cases.length === 0 || (check.verdict === 'failed' && !judged)) {
    cases.push({
      name: 'verdict',
      ...(check.verdict === 'failed'
        ? { failure: { message: "the test's own checks failed", body: check.url ?? '', type: 'verdict' } }
        : {}),
    });
  }
  return cases;
}

/** JUnit XML as GitLab, Jenkins and GitHub's test reporters read it: one suite per check. */
export function junitXml(checks: CheckReport[]): string {
  const suites = checks.map((check) => ({ check, cases: casesOf(check) }));
  const count = (pick: (c: Case) => unknown) => suites.reduce((n, s) => n + s.cases.filter(pick).length, 0);
  const totalMs = checks.reduce((n, c) => n + (c.durationMs ?? 0), 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'crucible', tests: count(() => true), failures: count((c) => c.failure), errors: count((c) => c.error), time: seconds(totalMs) })}>`,
  ];
  for (const { check, cases } of suites) {
    out.push(
      `  <testsuite${attrs({
        name: check.name,
        tests: cases.length,
        failures: cases.filter((c) => c.failure).length,
        errors: cases.filter((c) => c.error).length,
        skipped: 0,
        time: seconds(check.durationMs),
      })}>`,
      '    <properties>',
      ...Object.entries({
        id: check.id ?? '',
        type: check.type,
        target: check.target,
        status: check.status,
        verdict: check.verdict ?? '',
        url: check.url ?? '',
      }).map(([name, value]) => `      <property${attrs({ name, value })}/>`),
      '    </properties>',
    );
    for (const c of cases) {
      const head = `    <testcase${attrs({ classname: `crucible.${check.type}.${check.name}`, name: c.name, time: c === cases[0] ? seconds(check.durationMs) : '0.000' })}`;
      if (c.failure) {
        out.push(
          `${head}>`,
          `      <failure${attrs({ message: c.failure.message, type: c.failure.type })}>${xmlEscape(c.failure.body)}</failure>`,
          '    </testcase>',
        );
      } else if (c.error) {
        out.push(
          `${head}>`,
          `      <error${attrs({ message: c.error.message, type: c.error.type })}/>`,
          '    </testcase>',
        );
      } else out.push(`${head}/>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

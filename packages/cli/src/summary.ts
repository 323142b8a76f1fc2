import type { RunsSpread } from '@crucible/contracts';
import type { TestDetail } from '@crucible/contracts/api';
import type { Colors } from './output.js';
import type { CheckReport } from './report-schema.js';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);

/** A number as a person reads it: integers whole, others to 3 significant digits. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}

function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
  );
}

/** One line of what the engine found, for a test without a metrics catalogue in its result. */
function headline(test: TestDetail): string | undefined {
  const r = obj(test.result);
  switch (test.testType) {
    case 'performance': {
      const s = obj(r.summary);
      return `score ${formatNumber(r.score as number)}, ttfb median ${formatNumber(obj(s.ttfb).median as number)} ms, total median ${formatNumber(obj(s.total).median as number)} ms`;
    }
    case 'stress': {
      const t = obj(r.totals);
      return `${formatNumber(t.requests as number)} requests, ${formatNumber(t.rps as number)} req/s, p95 ${formatNumber(obj(r.latency).p95 as number)} ms, errors ${formatNumber(r.errorRatePct as number)} %`;
    }
    case 'api': {
      const t = obj(r.totals);
      return `${formatNumber(t.passed as number)}/${formatNumber(t.steps as number)} steps passed, ${formatNumber(t.assertionsFailed as number)} of ${formatNumber(t.assertions as number)} assertions failed`;
    }
    case 'seo':
    case 'security':
      return `score ${formatNumber(r.score as number)}`;
    case 'browser': {
      const v = obj(r.vitals);
      return `performance ${formatNumber(obj(r.scores).performance as number)}, LCP ${formatNumber(v.lcp as number)} ms, CLS ${formatNumber(v.cls as number)}, TBT ${formatNumber(v.tbt as number)} ms (run ${formatNumber(r.medianRun as number)} of ${list(r.runs).length})`;
    }
  }
}

/**
 * Failed api assertions, seo checks that failed or warned, security findings, a browser test's
 * refused requests and failing audits: at most `max`.
 */
function findings(test: TestDetail, c: Colors, max = 10): string[] {
  const r = obj(test.result);
  const lines: string[] = [];
  if (test.testType === 'api') {
    for (const step of list(r.steps)) {
      if (step.error) lines.push(`${c.red('✗')} ${step.name}: ${step.error}`);
      for (const a of list(step.assertions).filter((x) => x.passed === false)) {
        lines.push(
          `${c.red('✗')} ${step.name}: ${a.check} expected ${JSON.stringify(a.expected)}, got ${JSON.stringify(a.actual)}`,
        );
      }
    }
  } else if (test.testType === 'seo') {
    for (const check of list(r.checks).filter((x) => x.status !== 'pass')) {
      const mark = check.status === 'fail' ? c.red('fail') : c.yellow('warn');
      lines.push(`${mark} ${check.message}${check.recommendation ? ` — ${check.recommendation}` : ''}`);
    }
  } else if (test.testType === 'security') {
    for (const f of list(r.findings)) {
      const sev = String(f.severity);
      const mark = sev === 'high' || sev === 'critical' ? c.red(sev) : sev === 'medium' ? c.yellow(sev) : sev;
      lines.push(`${mark} ${f.title} — ${f.fix}`);
    }
  } else if (test.testType === 'browser') {
    for (const refused of list(r.refusedRequests))
      lines.push(`${c.red('refused')} ${refused.target}: ${refused.reason}`);
    for (const audit of list(r.failingAudits)) {
      const mark = (audit.score as number) < 0.5 ? c.red('fail') : c.yellow('warn');
      lines.push(`${mark} ${audit.title}${audit.displayValue ? ` (${audit.displayValue})` : ''}`);
    }
  }
  if (lines.length > max)
    return [...lines.slice(0, max), `… and ${lines.length - max} more (see the test page)`];
  return lines;
}

/** With several runs: how far apart they were, beside the median the table shows. */
function spread(runs: RunsSpread | undefined): string {
  if (!runs) return '';
  return `median of ${runs.samples.length} runs, min ${formatNumber(runs.min)}, max ${formatNumber(runs.max)}`;
}

const STATUS_MARK = {
  completed: '✔',
  failed: '✗',
  cancelled: '■',
  'timed-out': '⧗',
  'not-submitted': '✗',
} as const;

/** What a person reads at the end: verdict, figures, thresholds, comparison, findings, the page. */
export function formatSummary(report: CheckReport, test: TestDetail | undefined, c: Colors): string {
  const verdict =
    report.status !== 'completed'
      ? c.red(report.status)
      : report.verdict === 'failed'
        ? c.red('failed')
        : report.verdict === 'passed'
          ? c.green('passed')
          : c.dim('no verdict');
  const took = report.durationMs === null ? '' : ` in ${formatNumber(report.durationMs / 1000)} s`;
  const lines = [
    `${report.verdict === 'failed' ? '✗' : STATUS_MARK[report.status]} ${c.bold(report.name)}: ${verdict} (${report.type} ${report.target}${took})`,
  ];
  if (report.error) lines.push(`  ${c.red(report.error)}`);
  if (report.aborted) {
    const { threshold, atSec, actual } = report.aborted;
    lines.push(
      `  ${c.red(`stopped early: threshold "${threshold}" failed ${formatNumber(atSec)} s into the load (actual ${formatNumber(actual)})`)}`,
    );
  }
  const head = test && test.status === 'completed' ? headline(test) : undefined;
  if (head) lines.push(`  ${head}`);
  const metrics = Object.entries(report.metrics);
  if (metrics.length > 0) {
    lines.push('', c.bold('  metrics'));
    lines.push(
      ...table(
        metrics.map(([name, m]) => [name, formatNumber(m.value), m.unit, spread(m.runs)]),
        '    ',
      ),
    );
  }
  if (report.thresholds.length > 0) {
    lines.push('', c.bold('  thresholds'));
    lines.push(
      ...table(
        report.thresholds.map((t) => [
          t.passed ? c.green('✔') : c.red('✗'),
          t.expression,
          `actual ${formatNumber(t.actual)}`,
        ]),
        '    ',
      ),
    );
  }
  if (report.comparison.length > 0) {
    lines.push('', c.bold('  compared with the baseline'));
    lines.push(
      ...table(
        report.comparison.map((x) => [
          x.metric,
          `${formatNumber(x.baseline)} → ${formatNumber(x.current)}`,
          x.changePct === null ? '' : `${x.changePct > 0 ? '+' : ''}${formatNumber(x.changePct)} %`,
          x.verdict === 'regressed'
            ? c.red(x.verdict)
            : x.verdict === 'improved'
              ? c.green(x.verdict)
              : x.verdict,
          x.confidence === null ? '' : `confidence ${formatNumber(x.confidence)}`,
        ]),
        '    ',
      ),
    );
  }
  const found = test ? findings(test, c) : [];
  if (found.length > 0) lines.push('', c.bold('  findings'), ...found.map((l) => `    ${l}`));
  if (report.url) lines.push('', `  ${c.dim(report.url)}`);
  return `${lines.join('\n')}\n`;
}

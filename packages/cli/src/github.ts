import { appendFileSync } from 'node:fs';
import type { CheckReport } from './report-schema.js';
import { formatNumber } from './summary.js';

/** A workflow command's message: %, CR and LF escaped (GitHub's own toolkit rules). */
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
/** A workflow command's property: also `:` and `,`. */
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** `::error title=…::…` lines for each failed threshold, regression or missing result. */
export function githubAnnotations(checks: CheckReport[]): string[] {
  const lines: string[] = [];
  const error = (title: string, message: string) =>
    lines.push(`::error title=${escapeProperty(title)}::${escapeData(message)}`);
  for (const check of checks) {
    if (check.status !== 'completed')
      error(`Crucible: ${check.name}`, `no result (${check.status}): ${check.error ?? ''}`);
    for (const t of check.thresholds.filter((x) => !x.passed)) {
      error(`Crucible: ${check.name} threshold failed`, `${t.expression} (actual ${formatNumber(t.actual)})`);
    }
    for (const c of check.comparison.filter((x) => x.verdict === 'regressed')) {
      error(
        `Crucible: ${check.name} regressed`,
        `${c.metric}: ${formatNumber(c.baseline)} → ${formatNumber(c.current)} (${formatNumber(c.changePct)} %)`,
      );
    }
    if (
      check.status === 'completed' &&
      check.verdict === 'failed' &&
      check.thresholds.every((t) => t.passed)
    ) {
      error(`Crucible: ${check.name} failed`, `the test's own checks failed: ${check.url ?? ''}`);
    }
  }
  return lines;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown appended to `$GITHUB_STEP_SUMMARY`. */
export function stepSummary(checks: CheckReport[]): string {
  const lines = [
    '### Crucible',
    '',
    '| check | type | result | thresholds | test |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const c of checks) {
    const result =
      c.status !== 'completed'
        ? `❌ ${c.status}`
        : c.verdict === 'failed'
          ? '❌ failed'
          : c.verdict === 'passed'
            ? '✅ passed'
            : '➖ no verdict';
    const held = c.thresholds.filter((t) => t.passed).length;
    lines.push(
      `| ${cell(c.name)} | ${c.type} | ${result} | ${c.thresholds.length ? `${held}/${c.thresholds.length} held` : '–'} | ${c.url ? `[${c.id}](${c.url})` : '–'} |`,
    );
  }
  const failed = checks.flatMap((c) => c.thresholds.filter((t) => !t.passed).map((t) => ({ c, t })));
  if (failed.length > 0) {
    lines.push('', '| failed threshold | actual |', '| --- | --- |');
    for (const { c, t } of failed)
      lines.push(`| ${cell(`${c.name}: ${t.expression}`)} | ${formatNumber(t.actual)} |`);
  }
  return `${lines.join('\n')}\n\n`;
}

/** Both, when running under GitHub Actions. */
export function reportToGithub(
  checks: CheckReport[],
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): void {
  if (env.GITHUB_ACTIONS !== 'true') return;
  for (const line of githubAnnotations(checks)) out.write(`${line}\n`);
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, stepSummary(checks));
}

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchmarkResult, Report, Stats } from './harness.js';

/** Three significant figures, thousands grouped: 58,012 · 412 · 3.27 · 0.481. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

function cell(stats: Stats): string {
  return `${formatNumber(stats.median)} (${formatNumber(stats.min)}–${formatNumber(stats.max)})`;
}

/** One benchmark as Markdown: a heading, a table per comparison, its notes (readable in a terminal too). */
export function formatBenchmark(result: BenchmarkResult): string {
  const lines = [`### ${result.name} — ${result.description}`, ''];
  if (result.skipped) lines.push(`Skipped: ${result.skipped}`, '');
  for (const comparison of result.comparisons) {
    lines.push(`**${comparison.title}**`, '');
    lines.push('| metric | Crucible | median (min–max) | anchor | median (min–max) | ratio | target |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const row of comparison.rows) {
      const target = row.target ? `${row.target.text}: ${row.target.met ? 'met' : '**missed**'}` : '';
      lines.push(
        `| ${row.metric} | ${row.crucible.label} | ${cell(row.crucible)} | ${row.anchor.label} | ${cell(row.anchor)} | ${Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : '—'} | ${target} |`,
      );
    }
    lines.push('');
  }
  for (const note of result.notes) lines.push(`- ${note}`);
  if (result.notes.length) lines.push('');
  if (result.error) lines.push('FAILED:', '```', result.error, '```', '');
  return lines.join('\n');
}

export function formatHeader(report: Pick<Report, 'command' | 'machine' | 'smoke'>): string {
  const m = report.machine;
  return [
    `Command: \`${report.command}\`${report.smoke ? ' (smoke mode: tiny sizes, figures mean nothing)' : ''}`,
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node.js ${m.node}, ${m.platform}; ` +
      `load average at start ${m.loadavgAtStart.map((l) => l.toFixed(2)).join(' / ')}`,
    'Each cell: median of the rounds (min–max). Ratio: Crucible median / anchor median.',
    '',
  ].join('\n');
}

/** Writes the report as `<dir>/<timestamp>.json` and returns the path. */
export async function writeReport(report: Report, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}${report.smoke ? '-smoke' : ''}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

import type { TestView } from '@crucible/contracts/api';
import type { StressPoint } from '../lib/stress-series';
import { toStressPoint } from '../lib/stress-series';
import { BrowserResult } from './browser-result';
import { Comparison, Metrics, Thresholds } from './judgement';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const ms = (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)} ms` : '—');

const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'download'] as const;

const kib = (v: unknown) => (typeof v === 'number' ? `${(v / 1024).toFixed(1)} KiB` : '—');

/** The 0–100 score and each factor's points, with what earned or lost them. */
function PerformanceScore({ result }: { result: Obj }) {
  if (typeof result.score !== 'number') return null;
  const factors = arr(result.scoreFactors).filter(isObj);
  return (
    <section aria-labelledby="perf-score-heading">
      <h2 id="perf-score-heading">Score {result.score}/100</h2>
      <ul class="score-factors">
        {factors.map((f) => (
          <li key={String(f.name)} data-factor={String(f.name)}>
            <strong>
              {String(f.name)} {String(f.points)}/{String(f.max)}
            </strong>{' '}
            <span class="muted">{String(f.detail ?? '')}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The scripts, stylesheets, images and fonts the page references, each as it was fetched. */
function PerformanceResources({ result }: { result: Obj }) {
  const resources = isObj(result.resources) ? result.resources : null;
  const items = arr(resources?.items).filter(isObj);
  const total = isObj(resources?.total) ? resources.total : null;
  return (
    <section aria-labelledby="perf-resources-heading">
      <h2 id="perf-resources-heading">Sub-resources ({items.length})</h2>
      {items.length === 0 ? (
        <p class="muted">The page references no scripts, stylesheets, images or fonts.</p>
      ) : (
        <>
          {total && (
            <p class="muted">
              {String(total.fetched)} of {String(total.count)} fetched, {kib(total.bytes)} on the wire,{' '}
              {String(total.failed)} failed
            </p>
          )}
          <div class="table-wrap">
            <table class="resources">
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">kind</th>
                  <th scope="col">status</th>
                  <th scope="col">size</th>
                  <th scope="col">time</th>
                </tr>
              </thead>
              <tbody>
                {items.map((r, i) => {
                  const failed =
                    typeof r.error === 'string' || (typeof r.status === 'number' && r.status >= 400);
                  return (
                    <tr key={i} class={failed ? 'fail' : undefined}>
                      <td class="break">{String(r.url)}</td>
                      <td>{String(r.kind)}</td>
                      <td>{typeof r.status === 'number' ? r.status : String(r.error ?? '—')}</td>
                      <td>{kib(r.bytes)}</td>
                      <td>{ms(r.durationMs)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

/** Each iteration's phases as consecutive bars on one time axis, and the medians per phase. */
export function PerformanceResult({ result }: { result: Obj }) {
  const iterations = arr(result.iterations).filter(isObj);
  const totals = iterations.map((it) => (isObj(it.timings) ? Number(it.timings.total) || 0 : 0));
  const scale = Math.max(1, ...totals);
  const summary = isObj(result.summary) ? result.summary : {};
  return (
    <>
      <PerformanceScore result={result} />
      <section aria-labelledby="perf-heading">
        <h2 id="perf-heading">Timings</h2>
        <ol class="waterfall" aria-label="Waterfall per iteration">
          {iterations.map((it) => {
            const timings = isObj(it.timings) ? it.timings : null;
            let offset = 0;
            return (
              <li key={String(it.iteration)}>
                <span class="wf-label">#{String(it.iteration)}</span>
                {timings ? (
                  <span class="wf-track" title={`total ${ms(timings.total)}`}>
                    {PHASES.map((phase) => {
                      const value = Number(timings[phase]) || 0;
                      const left = (offset / scale) * 100;
                      offset += value;
                      return (
                        <span
                          key={phase}
                          class={`wf-bar wf-${phase}`}
                          style={{ left: `${left}%`, width: `${(value / scale) * 100}%` }}
                          title={`${phase} ${ms(value)}`}
                        />
                      );
                    })}
                  </span>
                ) : (
                  <span class="wf-error">{String(it.error ?? 'failed')}</span>
                )}
                <span class="wf-total">{timings ? `${ms(timings.total)} · ${String(it.status)}` : ''}</span>
              </li>
            );
          })}
        </ol>
        <p class="legend" aria-hidden="true">
          {PHASES.map((p) => (
            <span key={p}>
              <i class={`wf-${p}`} /> {p}
            </span>
          ))}
        </p>
        <div class="table-wrap">
          <table>
            <caption>Per phase over the successful requests</caption>
            <thead>
              <tr>
                <th scope="col">phase</th>
                <th scope="col">median</th>
                <th scope="col">p95</th>
                <th scope="col">min</th>
                <th scope="col">max</th>
              </tr>
            </thead>
            <tbody>
              {[...PHASES, 'total'].map((phase) => {
                const s = isObj(summary[phase]) ? (summary[phase] as Obj) : {};
                return (
                  <tr key={phase}>
                    <th scope="row">{phase}</th>
                    <td>{ms(s.median)}</td>
                    <td>{ms(s.p95)}</td>
                    <td>{ms(s.min)}</td>
                    <td>{ms(s.max)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <PerformanceResources result={result} />
    </>
  );
}

/** Most severe first: security severities, and seo check outcomes (fail, warn, pass). */
const SEVERITIES = ['critical', 'high', 'fail', 'medium', 'warn', 'low', 'info', 'pass'] as const;

interface Finding {
  title: string;
  severity: string;
  detail: string;
  fix: string;
}

const text = (v: Obj, ...keys: string[]) => {
  for (const key of keys) if (typeof v[key] === 'string') return v[key] as string;
  return '';
};

/** A security finding (`severity, title, detail, fix`) or an seo check (`status, id, message, recommendation`). */
function toFinding(v: unknown): Finding | null {
  if (!isObj(v)) return null;
  return {
    title: text(v, 'title', 'id', 'check'),
    severity: (text(v, 'severity', 'status') || 'info').toLowerCase(),
    detail: text(v, 'detail', 'message'),
    fix: text(v, 'fix', 'recommendation'),
  };
}

/** seo: each link that was checked and is broken, with its status or error. */
function BrokenLinks({ result }: { result: Obj }) {
  const links = isObj(result.links) ? result.links : null;
  if (!links) return null;
  const broken = arr(links.broken).filter(isObj);
  return (
    <section aria-labelledby="broken-links-heading">
      <h3 id="broken-links-heading">
        Broken links ({broken.length} of {String(links.checked ?? 0)} checked)
      </h3>
      {broken.length > 0 && (
        <ul class="broken-links">
          {broken.map((l, i) => (
            <li key={i}>
              <span class="break">{String(l.url)}</span> →{' '}
              <strong>{typeof l.status === 'number' ? l.status : String(l.error ?? 'no answer')}</strong>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** seo checks and security findings, grouped by severity (most severe first), each with its fix. */
export function Findings({ result }: { result: Obj }) {
  const findings = arr(result.findings ?? result.checks)
    .map(toFinding)
    .filter((f): f is Finding => f !== null);
  const severities: string[] = [...SEVERITIES];
  for (const f of findings) if (!severities.includes(f.severity)) severities.push(f.severity);
  const groups = severities
    .map((severity) => ({ severity, items: findings.filter((f) => f.severity === severity) }))
    .filter((g) => g.items.length > 0);
  return (
    <section aria-labelledby="findings-heading">
      <h2 id="findings-heading">
        {Array.isArray(result.checks) ? 'Checks' : 'Findings'}
        {typeof result.score === 'number' ? ` · score ${result.score}/100` : ''}
      </h2>
      {groups.length === 0 && <p>No findings.</p>}
      <BrokenLinks result={result} />
      {groups.map((group) => (
        <section
          key={group.severity}
          class="finding-group"
          aria-label={`${group.severity} (${group.items.length})`}
        >
          <h3>
            <span class={`sev sev-${group.severity}`}>{group.severity}</span> ({group.items.length})
          </h3>
          <ul>
            {group.items.map((f, i) => (
              <li key={i}>
                <strong>{f.title}</strong>
                {f.detail && <p>{f.detail}</p>}
                {f.fix && (
                  <p class="fix">
                    <span class="fix-label">Fix:</span> {f.fix}
                  </p>
                )}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </section>
  );
}

/** api steps in order, each with its request, status and every assertion's outcome. */
export function ApiSteps({ result }: { result: Obj }) {
  const steps = arr(result.steps).filter(isObj);
  return (
    <section aria-labelledby="steps-heading">
      <h2 id="steps-heading">Steps</h2>
      <ol class="steps">
        {steps.map((step, i) => {
          const passed = step.passed ?? step.ok;
          return (
            <li key={i} class={passed === false ? 'step-failed' : 'step-passed'}>
              <strong>{String(step.name ?? `step ${i + 1}`)}</strong>{' '}
              <span class="muted">
                {String(step.method ?? '')} {String(step.url ?? '')} → {String(step.status ?? '—')} ·{' '}
                {ms(step.durationMs ?? step.timeMs)}
              </span>
              {typeof step.error === 'string' && <p class="error-text">{step.error}</p>}
              <ul>
                {arr(step.assertions)
                  .filter(isObj)
                  .map((a, j) => (
                    <li key={j} class={a.passed === false ? 'fail' : 'pass'}>
                      {a.passed === false ? '✗' : '✓'} {String(a.check ?? a.name ?? 'assertion')}
                      {a.passed === false &&
                        ` — expected ${JSON.stringify(a.expected)}, got ${JSON.stringify(a.actual)}`}
                    </li>
                  ))}
              </ul>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

/** A finished stress test: totals and the latency distribution (its thresholds: `Thresholds`). */
export function StressSummary({ result }: { result: Obj }) {
  const totals = isObj(result.totals) ? result.totals : {};
  const latency = isObj(result.latency) ? result.latency : null;
  const codes = isObj(result.statusCodes) ? result.statusCodes : {};
  const errors = isObj(result.errors) ? result.errors : {};
  return (
    <section aria-labelledby="stress-summary-heading">
      <h2 id="stress-summary-heading">Summary</h2>
      <dl class="counts">
        {(
          [
            ['requests', totals.requests],
            ['req/s', typeof totals.rps === 'number' ? totals.rps.toFixed(1) : '—'],
            ['failed', totals.failed],
            ['error rate', typeof result.errorRatePct === 'number' ? `${result.errorRatePct}%` : '—'],
            ['p95', ms(latency?.p95)],
            ['p99', ms(latency?.p99)],
          ] as const
        ).map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{String(value ?? '—')}</dd>
          </div>
        ))}
      </dl>
      {latency && (
        <p class="muted">
          latency min {ms(latency.min)} · p50 {ms(latency.p50)} · p90 {ms(latency.p90)} · p99.9{' '}
          {ms(latency.p999)} · max {ms(latency.max)}
        </p>
      )}
      <p class="muted">
        status codes:{' '}
        {Object.entries(codes)
          .map(([code, n]) => `${code} × ${String(n)}`)
          .join(', ') || 'none'}
        {Object.keys(errors).length > 0 &&
          ` · errors: ${Object.entries(errors)
            .map(([kind, n]) => `${kind} × ${String(n)}`)
            .join(', ')}`}
      </p>
    </section>
  );
}

/** The stress timeline stored in a finished result, when the engine keeps one. */
export function storedStressPoints(result: unknown): StressPoint[] {
  if (!isObj(result)) return [];
  return arr(result.series)
    .map(toStressPoint)
    .filter((p): p is StressPoint => p !== null);
}

/**
 * What a result view needs of a test: a shared test has no ids (`testId`, `baseline` null), so it
 * links to no baseline and shows no artifact.
 */
export interface ResultOf {
  testType: TestView['testType'];
  result: unknown;
  testId: string | null;
  baseline: string | null;
}

/** The result of a finished test, drawn for its type; anything else as JSON. */
export function TestResult({ test }: { test: ResultOf }) {
  const result = test.result;
  if (!isObj(result)) return null;
  return (
    <>
      <Thresholds result={result} />
      <Comparison result={result} baseline={test.baseline} />
      <Metrics result={result} />
      <TypeResult testType={test.testType} testId={test.testId} result={result} />
    </>
  );
}

function TypeResult({
  testType,
  testId,
  result,
}: {
  testType: TestView['testType'];
  testId: string | null;
  result: Obj;
}) {
  switch (testType) {
    case 'performance':
      return <PerformanceResult result={result} />;
    case 'seo':
    case 'security':
      return <Findings result={result} />;
    case 'api':
      return <ApiSteps result={result} />;
    case 'stress':
      return <StressSummary result={result} />;
    case 'browser':
      return <BrowserResult testId={testId} result={result} />;
  }
}

import { useEffect, useState } from 'preact/hooks';
import { session } from '../session';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export type Band = 'good' | 'needs-improvement' | 'poor';

/** Google's Web Vitals thresholds (good up to the first, poor above the second). */
export const VITAL_BANDS = {
  lcp: { label: 'Largest Contentful Paint', unit: 'ms', good: 2500, poor: 4000 },
  fcp: { label: 'First Contentful Paint', unit: 'ms', good: 1800, poor: 3000 },
  cls: { label: 'Cumulative Layout Shift', unit: '', good: 0.1, poor: 0.25 },
  tbt: { label: 'Total Blocking Time', unit: 'ms', good: 200, poor: 600 },
  ttfb: { label: 'Time to First Byte', unit: 'ms', good: 800, poor: 1800 },
  speedIndex: { label: 'Speed Index', unit: 'ms', good: 3400, poor: 5800 },
} as const;

export function bandOf(vital: keyof typeof VITAL_BANDS, value: number): Band {
  const { good, poor } = VITAL_BANDS[vital];
  return value <= good ? 'good' : value <= poor ? 'needs-improvement' : 'poor';
}

const SCORES = [
  ['performance', 'Performance'],
  ['accessibility', 'Accessibility'],
  ['bestPractices', 'Best practices'],
  ['seo', 'SEO'],
] as const;

const format = (vital: keyof typeof VITAL_BANDS, v: number) =>
  VITAL_BANDS[vital].unit === 'ms' ? `${Math.round(v)} ms` : v.toFixed(3);

/** An artifact as a data: URL (the dashboard's CSP allows data: images, and the API wants the bearer token). */
function useArtifact(testId: string | null, name: string): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!name || !testId) return;
    let live = true;
    const token = session.get()?.token;
    void fetch(`/api/test/${testId}/artifacts/${name}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
      .then(async (res) => {
        if (!res.ok) return;
        const bytes = new Uint8Array(await res.arrayBuffer());
        let binary = '';
        for (const b of bytes) binary += String.fromCharCode(b);
        if (live) setUrl(`data:${res.headers.get('content-type') ?? 'image/jpeg'};base64,${btoa(binary)}`);
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [testId, name]);
  return url;
}

/** `filmstrip-3-1200ms` → its place and time; null for any other artifact. */
export function filmstripFrame(name: string): { index: number; ms: number } | null {
  const m = /^filmstrip-(\d+)-(\d+)ms$/.exec(name);
  return m ? { index: Number(m[1]), ms: Number(m[2]) } : null;
}

function Frame({ testId, name, ms }: { testId: string; name: string; ms: number }) {
  const src = useArtifact(testId, name);
  return (
    <figure>
      {src ? <img src={src} alt={`The page at ${ms} ms`} width={96} /> : <div class="frame-empty" />}
      <figcaption>{ms} ms</figcaption>
    </figure>
  );
}

/** The load as Lighthouse's filmstrip saw it, frame by frame with its time. */
function Filmstrip({ testId, names }: { testId: string; names: string[] }) {
  const frames = names
    .map((name) => ({ name, frame: filmstripFrame(name) }))
    .filter((f): f is { name: string; frame: { index: number; ms: number } } => f.frame !== null)
    .sort((a, b) => a.frame.index - b.frame.index);
  if (frames.length === 0) return null;
  return (
    <>
      <h3>Filmstrip</h3>
      <div class="filmstrip" role="list">
        {frames.map(({ name, frame }) => (
          <div role="listitem" key={name}>
            <Frame testId={testId} name={name} ms={frame.ms} />
          </div>
        ))}
      </div>
    </>
  );
}

function Scores({ scores }: { scores: Obj }) {
  return (
    <div class="browser-scores">
      {SCORES.map(([key, label]) => {
        const value = num(scores[key]);
        return (
          <label key={key}>
            {label}{' '}
            {value === null ? (
              '—'
            ) : (
              <>
                <meter min={0} max={100} low={50} high={90} optimum={100} value={value} /> {value}
              </>
            )}
          </label>
        );
      })}
    </div>
  );
}

function Vitals({ vitals }: { vitals: Obj }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Web Vital</th>
          <th>value</th>
          <th>band</th>
        </tr>
      </thead>
      <tbody>
        {(Object.keys(VITAL_BANDS) as (keyof typeof VITAL_BANDS)[]).map((key) => {
          const value = num(vitals[key]);
          const band = value === null ? null : bandOf(key, value);
          return (
            <tr key={key} data-band={band ?? undefined}>
              <td>{VITAL_BANDS[key].label}</td>
              <td>{value === null ? '—' : format(key, value)}</td>
              <td>{band ?? '—'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Runs({ runs, median }: { runs: Obj[]; median: number | null }) {
  if (runs.length < 2) return null;
  return (
    <table>
      <caption>Runs (the median one is the result)</caption>
      <thead>
        <tr>
          <th>run</th>
          <th>performance</th>
          <th>LCP</th>
          <th>CLS</th>
          <th>TBT</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => {
          const v = isObj(r.vitals) ? r.vitals : {};
          const s = isObj(r.scores) ? r.scores : {};
          return (
            <tr key={String(r.run)}>
              <td>
                {String(r.run)}
                {r.run === median ? ' (median)' : ''}
              </td>
              <td>{num(s.performance) ?? '—'}</td>
              <td>{num(v.lcp) === null ? '—' : format('lcp', num(v.lcp)!)}</td>
              <td>{num(v.cls) === null ? '—' : format('cls', num(v.cls)!)}</td>
              <td>{num(v.tbt) === null ? '—' : format('tbt', num(v.tbt)!)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * A browser test: Lighthouse's scores as gauges, the Web Vitals in their bands, the screenshot and
 * the filmstrip (not of a shared test, `testId` null: artifacts are not shared), what failed.
 */
export function BrowserResult({ testId, result }: { testId: string | null; result: Obj }) {
  const hasScreenshot = arr(result.artifacts).some((a) => a.name === 'screenshot');
  const screenshot = useArtifact(testId, hasScreenshot ? 'screenshot' : '');
  const audits = arr(result.failingAudits);
  const refused = arr(result.refusedRequests);
  return (
    <section aria-label="Browser result">
      <Scores scores={isObj(result.scores) ? result.scores : {}} />
      <Vitals vitals={isObj(result.vitals) ? result.vitals : {}} />
      {hasScreenshot && screenshot && (
        <img src={screenshot} alt="The page at the end of the load" width={320} />
      )}
      {testId && <Filmstrip testId={testId} names={arr(result.artifacts).map((a) => String(a.name))} />}
      <Runs runs={arr(result.runs)} median={num(result.medianRun)} />
      {refused.length > 0 && (
        <>
          <h3>Refused by the egress guard</h3>
          <ul>
            {refused.map((r) => (
              <li key={String(r.target)}>
                {String(r.target)}: {String(r.reason)}
              </li>
            ))}
          </ul>
        </>
      )}
      {audits.length > 0 && (
        <>
          <h3>Failing audits</h3>
          <ul>
            {audits.map((a) => (
              <li key={String(a.id)}>
                <strong>{String(a.title)}</strong>
                {a.displayValue ? ` — ${String(a.displayValue)}` : ''}
                <p>{String(a.description)}</p>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

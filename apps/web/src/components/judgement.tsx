type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown) => (typeof v === 'number' ? String(Number(v.toFixed(3))) : '—');

/**
 * Each threshold the test was judged by, in the order given: the expression, the value it was
 * compared with and whether it held. (Results stored before issue 21 name stress thresholds by
 * their config key instead of an expression.)
 */
export function Thresholds({ result }: { result: Obj }) {
  const thresholds = arr(result.thresholds).filter(isObj);
  if (thresholds.length === 0) return null;
  return (
    <section aria-labelledby="thresholds-heading">
      <h2 id="thresholds-heading">Thresholds</h2>
      <table class="thresholds">
        <thead>
          <tr>
            <th>threshold</th>
            <th>actual</th>
            <th>result</th>
          </tr>
        </thead>
        <tbody>
          {thresholds.map((t, i) => (
            <tr key={i} class={t.passed ? 'pass' : 'fail'} data-threshold={String(t.expression ?? t.name)}>
              <td>
                <code>{String(t.expression ?? `${String(t.name)} (limit ${String(t.limit)})`)}</code>
              </td>
              <td>{num(t.actual)}</td>
              <td>{t.passed ? '✓ pass' : '✗ fail'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const ARROWS: Record<string, string> = {
  regressed: '▼ regressed',
  improved: '▲ improved',
  unchanged: '= unchanged',
};
const pct = (v: unknown) => (typeof v === 'number' ? `${v > 0 ? '+' : ''}${v.toFixed(1)} %` : '—');

/** Each metric against the baseline: the change, its direction and how sure the rank test is. */
export function Comparison({ result, baseline }: { result: Obj; baseline: string | null }) {
  const entries = arr(result.comparison).filter(isObj);
  if (entries.length === 0) return null;
  return (
    <section aria-labelledby="comparison-heading">
      <h2 id="comparison-heading">
        Compared with {baseline ? <a href={`/tests/${baseline}`}>the baseline</a> : 'the baseline'}
      </h2>
      <table class="comparison">
        <thead>
          <tr>
            <th>metric</th>
            <th>baseline</th>
            <th>now</th>
            <th>change</th>
            <th>verdict</th>
            <th>confidence</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((c) => (
            <tr key={String(c.metric)} class={`cmp-${String(c.verdict)}`} data-metric={String(c.metric)}>
              <td>{String(c.metric)}</td>
              <td>{num(c.baseline)}</td>
              <td>{num(c.current)}</td>
              <td>{pct(c.changePct)}</td>
              <td>{ARROWS[String(c.verdict)] ?? String(c.verdict)}</td>
              <td>
                {typeof c.confidence === 'number' ? `${(c.confidence * 100).toFixed(1)} %` : 'tolerance'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The samples of a metric over the runs as dots on one line, the quartiles as a box. */
function DotPlot({ runs }: { runs: Obj }) {
  const samples = arr(runs.samples).filter((v): v is number => typeof v === 'number');
  const [min, max] = [Number(runs.min), Number(runs.max)];
  const x = (v: number) => (max === min ? 50 : 4 + ((v - min) / (max - min)) * 92);
  return (
    <svg class="dot-plot" viewBox="0 0 100 12" width="120" height="14" aria-hidden="true">
      <rect
        x={x(Number(runs.p25))}
        y="3"
        width={Math.max(0.5, x(Number(runs.p75)) - x(Number(runs.p25)))}
        height="6"
      />
      {samples.map((v, i) => (
        <circle key={i} cx={x(v)} cy="6" r="1.8" />
      ))}
    </svg>
  );
}

/** Every metric of the type; with several runs, the median, the range and the runs as dots. */
export function Metrics({ result }: { result: Obj }) {
  const metrics = isObj(result.metrics) ? Object.entries(result.metrics).filter(([, m]) => isObj(m)) : [];
  if (metrics.length === 0) return null;
  return (
    <section aria-labelledby="metrics-heading">
      <h2 id="metrics-heading">Metrics</h2>
      <table class="metrics">
        <tbody>
          {metrics.map(([name, m]) => {
            const metric = m as Obj;
            const runs = isObj(metric.runs) ? metric.runs : null;
            return (
              <tr key={name} data-metric={name}>
                <td>{name}</td>
                <td>
                  {num(metric.value)} {String(metric.unit ?? '')}
                </td>
                <td class="muted">
                  {runs ? `${num(runs.min)}–${num(runs.max)} over ${arr(runs.samples).length} runs` : ''}
                </td>
                <td>{runs && <DotPlot runs={runs} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

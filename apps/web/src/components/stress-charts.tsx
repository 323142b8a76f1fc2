import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { secondRange, secondTicks, tickLabel, valueScale, yAxisSize } from '../lib/chart-axes';
import type { StressPoint } from '../lib/stress-series';

interface ChartSpec {
  title: string;
  unit: string;
  /** The values are counts: whole-number ticks. */
  integer?: boolean;
  series: { label: string; key: keyof StressPoint; stroke: string }[];
}

const CHARTS: ChartSpec[] = [
  { title: 'Requests per second', unit: 'req/s', series: [{ label: 'rps', key: 'rps', stroke: '#1d4ed8' }] },
  {
    title: 'Latency',
    unit: 'ms',
    series: [
      { label: 'p50', key: 'p50', stroke: '#15803d' },
      { label: 'p95', key: 'p95', stroke: '#b45309' },
      { label: 'p99', key: 'p99', stroke: '#b91c1c' },
    ],
  },
  {
    title: 'Errors per second',
    unit: 'errors',
    integer: true,
    series: [{ label: 'errors', key: 'errors', stroke: '#b91c1c' }],
  },
];

function toData(points: readonly StressPoint[], spec: ChartSpec): uPlot.AlignedData {
  return [points.map((p) => p.t), ...spec.series.map((s) => points.map((p) => p[s.key] as number))];
}

function Chart({ points, spec }: { points: readonly StressPoint[]; spec: ChartSpec }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = host.current!;
    const width = () => Math.max(240, el.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 180,
        scales: {
          x: { time: false, range: (_u, min, max) => secondRange(min, max) },
          y: { range: (_u, _min, max) => [0, valueScale(max, 4, spec.integer).max] },
        },
        // The figures are in the text above the charts: the legend only names the lines.
        legend: { live: false },
        axes: [
          {
            label: 'second',
            // About one label per 60 px of width.
            splits: (u, _axis, min, max) => secondTicks(min, max, Math.floor(u.width / 60)),
            values: (_u, splits) => splits.map(String),
          },
          {
            label: spec.unit,
            splits: (_u, _axis, _min, max) => valueScale(max, 4, spec.integer).ticks,
            values: (_u, splits) => splits.map((v) => tickLabel(v, splits[1]! - splits[0]!)),
            size: (_u, values) => yAxisSize(values),
          },
        ],
        series: [
          { label: 'second' },
          ...spec.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 })),
        ],
      },
      toData(points, spec),
      el,
    );
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is built once; new points go through setData below.
  }, [spec]);

  useEffect(() => {
    plot.current?.setData(toData(points, spec));
  }, [points, spec]);

  return (
    <figure class="chart">
      <figcaption>{spec.title}</figcaption>
      <div ref={host} aria-hidden="true" />
    </figure>
  );
}

/** Live charts of a stress test, one point per second, with the same figures as a table for screen readers. */
export function StressCharts({ points }: { points: readonly StressPoint[] }) {
  const last = points.at(-1);
  return (
    <section aria-labelledby="stress-heading" data-testid="stress-charts" data-points={points.length}>
      <h2 id="stress-heading">Load</h2>
      {last ? (
        <p class="figures" aria-live="polite">
          second {last.t}: {last.rps.toFixed(0)} req/s, p50 {last.p50.toFixed(1)} ms, p95{' '}
          {last.p95.toFixed(1)} ms, p99 {last.p99.toFixed(1)} ms, {last.errors} errors
          {last.connections === null ? '' : `, ${last.connections} connections`}
        </p>
      ) : (
        <p class="muted">Waiting for the first second of load…</p>
      )}
      <div class="charts">
        {CHARTS.map((spec) => (
          <Chart key={spec.title} points={points} spec={spec} />
        ))}
      </div>
      <details>
        <summary>Every second as a table ({points.length})</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">second</th>
                <th scope="col">req/s</th>
                <th scope="col">p50 ms</th>
                <th scope="col">p95 ms</th>
                <th scope="col">p99 ms</th>
                <th scope="col">errors</th>
              </tr>
            </thead>
            <tbody>
              {points.map((p) => (
                <tr key={p.t}>
                  <td>{p.t}</td>
                  <td>{p.rps.toFixed(0)}</td>
                  <td>{p.p50.toFixed(1)}</td>
                  <td>{p.p95.toFixed(1)}</td>
                  <td>{p.p99.toFixed(1)}</td>
                  <td>{p.errors}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { tickLabel, valueScale, yAxisSize } from '../lib/chart-axes';
import type { IncidentSpan } from '../lib/incidents';
import type { Band, BandKind, RunChart } from '../lib/monitors';

/** Each band's fill: the state colours of the Monitors page, light enough for the line to read. */
const BAND_FILL: Record<BandKind, string> = {
  up: 'rgba(21, 128, 61, 0.12)',
  degraded: 'rgba(180, 83, 9, 0.22)',
  down: 'rgba(185, 28, 28, 0.28)',
  maintenance: 'rgba(107, 114, 128, 0.35)',
  missed: 'rgba(107, 114, 128, 0.12)',
  skipped: 'rgba(107, 114, 128, 0.2)',
};
const BAND_LABEL: Record<BandKind, string> = {
  up: 'up',
  degraded: 'degraded',
  down: 'down',
  maintenance: 'maintenance (skipped)',
  missed: 'missed',
  skipped: 'skipped',
};
const HEIGHT = 220;
/** Incidents: a strip along the plot's top, so the state bands under it still read. */
const INCIDENT_FILL = 'rgba(185, 28, 28, 0.85)';
const INCIDENT_STRIP = 6;

/** Paints each incident's span as a strip along the plot's top edge. */
function drawIncidents(u: uPlot, spans: readonly IncidentSpan[]) {
  const { ctx, bbox } = u;
  const strip = INCIDENT_STRIP * devicePixelRatio;
  ctx.save();
  ctx.fillStyle = INCIDENT_FILL;
  for (const span of spans) {
    const x0 = Math.max(bbox.left, u.valToPos(span.from, 'x', true));
    const x1 = Math.min(bbox.left + bbox.width, u.valToPos(span.to, 'x', true));
    if (x1 > x0) ctx.fillRect(x0, bbox.top, Math.max(x1 - x0, 2), strip);
  }
  ctx.restore();
}

/** Paints the bands behind the series, between the plot's top and bottom. */
function drawBands(u: uPlot, bands: readonly Band[]) {
  const { ctx, bbox } = u;
  ctx.save();
  for (const band of bands) {
    const x0 = Math.max(bbox.left, u.valToPos(band.from, 'x', true));
    const x1 = Math.min(bbox.left + bbox.width, u.valToPos(band.to, 'x', true));
    if (x1 <= x0) continue;
    ctx.fillStyle = BAND_FILL[band.kind];
    ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
  }
  ctx.restore();
}

/**
 * The key metric of each run over time, on bands that say what each slot was: up, degraded, down,
 * maintenance (slots skipped for a maintenance window), missed. The run list below it is the same
 * figures as text. `incidents` (the monitor's, clipped to the chart) show as a strip along the top.
 */
export function MonitorChart({
  chart,
  metric,
  incidents = [],
}: {
  chart: RunChart;
  metric: string;
  incidents?: readonly IncidentSpan[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const bands = useRef(chart.bands);
  bands.current = chart.bands;
  const spans = useRef(incidents);
  spans.current = incidents;
  const data = (): uPlot.AlignedData => [chart.t, chart.v];

  useEffect(() => {
    const el = host.current!;
    const width = () => Math.max(240, el.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: HEIGHT,
        scales: {
          x: {
            time: true,
            // The bands reach past the last slot: the scale covers them too.
            range: (_u, min, max) => {
              const end = Math.max(max, ...bands.current.map((b) => b.to));
              const start = Math.min(min, ...bands.current.map((b) => b.from));
              return start === end ? [start - 30, end + 30] : [start, end];
            },
          },
          y: { range: (_u, _min, max) => [0, valueScale(max, 4).max] },
        },
        // The caption names the line and the list under the bands names their colours.
        legend: { show: false },
        axes: [
          {},
          {
            label: chart.unit ? `${metric} (${chart.unit})` : metric,
            splits: (_u, _axis, _min, max) => valueScale(max, 4).ticks,
            values: (_u, splits) => splits.map((v) => tickLabel(v, splits[1]! - splits[0]!)),
            size: (_u, values) => yAxisSize(values),
          },
        ],
        series: [{}, { label: metric, stroke: '#1d4ed8', width: 2, points: { show: true, size: 5 } }],
        hooks: {
          drawClear: [(u) => drawBands(u, bands.current)],
          draw: [(u) => drawIncidents(u, spans.current)],
        },
      },
      data(),
      el,
    );
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Built once per metric; new runs go through setData below.
  }, [metric, chart.unit]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [chart]);
  useEffect(() => plot.current?.redraw(false), [incidents]);

  const kinds = [...new Set(chart.bands.map((b) => b.kind))];
  return (
    <figure
      class="chart"
      data-testid="monitor-chart"
      data-bands={chart.bands.map((b) => b.kind).join(' ')}
      data-incidents={incidents.map((i) => i.status).join(' ')}
    >
      <figcaption>{metric} per run</figcaption>
      <div ref={host} aria-hidden="true" />
      <ul class="band-legend">
        {kinds.map((k) => (
          <li key={k}>
            <span class={`swatch swatch-${k}`} />
            {BAND_LABEL[k]}
          </li>
        ))}
        {incidents.length > 0 && (
          <li>
            <span class="swatch swatch-incident" />
            incident (top strip)
          </li>
        )}
      </ul>
    </figure>
  );
}

import type { PublicStatusPage } from '@crucible/contracts/api';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const LABEL: Record<string, string> = {
  up: 'Operational',
  degraded: 'Degraded',
  down: 'Down',
  maintenance: 'Under maintenance',
  paused: 'Paused',
  pending: 'No data yet',
  unknown: 'No data yet',
};
const COLOUR: Record<string, string> = {
  up: '#1a7f37',
  degraded: '#bf8700',
  down: '#cf222e',
  maintenance: '#0969da',
  paused: '#6e7781',
  pending: '#6e7781',
  unknown: '#6e7781',
};

/** A day's bar colour: green at 100 %, amber from 95 %, red below; grey without runs. */
function barColour(uptime: number | null): string {
  if (uptime === null) return '#d0d7de';
  if (uptime >= 100) return COLOUR.up!;
  return uptime >= 95 ? COLOUR.degraded! : COLOUR.down!;
}

/** The CSP the page is served with: no script, no outside resource, styles inline only. */
export const STATUS_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/** A public status page as a self-contained HTML document (no script): every value escaped. */
export function renderStatusPage(page: PublicStatusPage): string {
  const monitors = page.monitors
    .map((m) => {
      const bars = m.days
        .map((d) => {
          const tip = `${d.date}: ${d.uptime === null ? 'no runs' : `${d.uptime}%`}`;
          return `<span class="bar" style="background:${barColour(d.uptime)}" title="${escape(tip)}"></span>`;
        })
        .join('');
      return `<section class="monitor">
<h2>${escape(m.name)} <span class="state" style="color:${COLOUR[m.status] ?? '#6e7781'}">${escape(LABEL[m.status] ?? m.status)}</span></h2>
${m.url ? `<p class="url">${escape(m.url)}</p>` : ''}
<div class="bars" aria-label="uptime per day over 90 days">${bars}</div>
<p class="uptime">${m.uptime90d === null ? 'No runs in 90 days' : `${m.uptime90d}% uptime over 90 days`}</p>
</section>`;
    })
    .join('\n');
  const incidents =
    page.incidents.length === 0
      ? '<p>No open incidents.</p>'
      : `<ul>${page.incidents.map((i) => `<li>${escape(i.monitor)}: ${escape(i.title)} (since ${escape(i.since)})</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(page.title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
.overall{padding:1rem;border-radius:6px;color:#fff;font-weight:600}
.monitor{border-bottom:1px solid #d0d7de;padding:1rem 0}
.monitor h2{font-size:1.05rem;display:flex;justify-content:space-between;margin:0 0 .5rem}
.bars{display:flex;gap:2px;height:2rem}.bar{flex:1;border-radius:2px}
.url,.uptime,footer{color:#656d76;font-size:.85rem;margin:.4rem 0}
</style>
</head>
<body>
<h1>${escape(page.title)}</h1>
<p class="overall" style="background:${COLOUR[page.overall] ?? '#6e7781'}">${escape(LABEL[page.overall] ?? page.overall)}</p>
${monitors}
<h2>Incidents</h2>
${incidents}
<footer>Updated ${escape(page.generatedAt)}</footer>
</body>
</html>
`;
}

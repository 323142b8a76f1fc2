import { cleanup, render, screen, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { MonitorsPage } from './monitors';

afterEach(cleanup);

const minuteFromNow = () => new Date(Date.now() + 60_000).toISOString();

describe('the Monitors page', () => {
  it('shows each monitor’s state, uptime, key metric and next run, as the API lists them', async () => {
    const items = [
      {
        id: 'a',
        name: 'home page',
        test: { testType: 'api' },
        schedule: { everySeconds: 60 },
        enabled: true,
        status: 'down',
        nextRunAt: minuteFromNow(),
        codeKey: null,
        createdAt: '2026-12-06T00:00:00.000Z',
        updatedAt: '2026-12-06T00:00:00.000Z',
        lastRun: null,
        uptime24h: 99.5,
        uptime30d: 100,
        keyMetric: {
          name: 'duration.total',
          last: 12.5,
          series: [
            { t: '2026-12-06T00:00:00.000Z', v: 10 },
            { t: '2026-12-06T00:01:00.000Z', v: 12.5 },
          ],
        },
      },
      {
        id: 'b',
        name: 'nightly',
        test: { testType: 'seo' },
        schedule: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
        enabled: false,
        status: 'paused',
        nextRunAt: null,
        codeKey: null,
        createdAt: '2026-12-06T00:00:00.000Z',
        updatedAt: '2026-12-06T00:00:00.000Z',
        lastRun: null,
        uptime24h: null,
        uptime30d: null,
        keyMetric: { name: 'score', last: null, series: [] },
      },
    ];
    const requests: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (url: string) => {
      requests.push(url);
      const body = url.endsWith('/api/monitors') ? { items } : { items: [] };
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as unknown as typeof fetch;
    try {
      render(<MonitorsPage />);
      const table = await screen.findByTestId('monitors');
      const rows = within(table).getAllByRole('row').slice(1);
      expect(rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))).toEqual([
        [
          'down',
          'home pageapi every 1 min',
          '99.5 %',
          '100 %',
          'duration.total 12.5',
          expect.stringMatching(/^in (59|60) s$/),
        ],
        ['paused', 'nightlyseo 0 3 * * * (Europe/Paris)', '—', '—', '—', 'paused'],
      ]);
      expect(within(rows[0]!).getByRole('link', { name: 'home page' }).getAttribute('href')).toBe(
        '/monitors/a',
      );
      expect(within(rows[0]!).getByRole('img').getAttribute('aria-label')).toBe(
        'duration.total over 24 h: 2 runs',
      );
      expect(requests).toContain('/api/monitors');
      expect(screen.getByRole('link', { name: 'New monitor' }).getAttribute('href')).toBe('/monitors/new');
    } finally {
      globalThis.fetch = original;
    }
  });

  it('offers a viewer of the workspace nothing the API would refuse', async () => {
    const original = globalThis.fetch;
    const workspaces = {
      items: [
        { id: 'w1', name: 'Personal', personal: true, role: 'viewer', createdAt: '2026-12-06T00:00:00.000Z' },
      ],
    };
    globalThis.fetch = (async (url: string) => {
      const body = url.endsWith('/api/workspaces') ? workspaces : { items: [] };
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as unknown as typeof fetch;
    try {
      render(<MonitorsPage />);
      await screen.findByText(
        /^No monitors yet\. A monitor runs a test on a schedule and keeps its uptime\.$/,
      );
      expect(screen.queryByRole('link', { name: 'New monitor' })).toBeNull();
      expect(screen.queryByRole('link', { name: 'make one' })).toBeNull();
    } finally {
      globalThis.fetch = original;
    }
  });
});

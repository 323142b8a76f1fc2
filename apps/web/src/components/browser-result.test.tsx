import { cleanup, render, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BrowserResult, bandOf, filmstripFrame } from './browser-result';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('browser result', () => {
  it('bands each Web Vital by the published thresholds', () => {
    expect([bandOf('lcp', 2500), bandOf('lcp', 2501), bandOf('lcp', 4001)]).toEqual([
      'good',
      'needs-improvement',
      'poor',
    ]);
    expect([bandOf('cls', 0.05), bandOf('cls', 0.2), bandOf('cls', 0.3)]).toEqual([
      'good',
      'needs-improvement',
      'poor',
    ]);
  });

  it('shows the scores as gauges, the vitals in their bands, the runs, refusals and failing audits', () => {
    const { container } = render(
      <BrowserResult
        testId="00000000-0000-0000-0000-000000000000"
        result={{
          scores: { performance: 88, accessibility: 100, bestPractices: null, seo: 92 },
          vitals: { lcp: 1345.7, fcp: 82.5, cls: 0.2487, tbt: 0, ttfb: 12.3, speedIndex: 664 },
          runs: [
            { run: 1, vitals: { lcp: 1400, cls: 0.25, tbt: 0 }, scores: { performance: 87 } },
            { run: 2, vitals: { lcp: 1345.7, cls: 0.2487, tbt: 0 }, scores: { performance: 88 } },
          ],
          medianRun: 2,
          failingAudits: [
            {
              id: 'cumulative-layout-shift',
              title: 'Cumulative Layout Shift',
              description: 'Keep it still.',
              score: 0.5,
              displayValue: '0.249',
            },
          ],
          refusedRequests: [
            {
              target: 'http://127.0.0.2:9/img',
              reason: 'target refused: 127.0.0.2 is a loopback address',
              count: 1,
            },
          ],
          artifacts: [],
        }}
      />,
    );
    const gauges = [...container.querySelectorAll('meter')];
    expect(gauges.map((g) => g.getAttribute('value'))).toEqual(['88', '100', '92']);
    const rows = screen.getAllByRole('row').map((r) => r.textContent);
    expect(rows).toContain('Largest Contentful Paint1346 msgood');
    expect(rows).toContain('Cumulative Layout Shift0.249needs-improvement');
    expect(rows).toContain('2 (median)881346 ms0.2490 ms');
    expect(screen.getByText(/127\.0\.0\.2:9\/img/)).toBeTruthy();
    expect(screen.getByText('Cumulative Layout Shift', { selector: 'strong' })).toBeTruthy();
    expect(screen.queryByRole('img')).toBeNull();
  });

  it('reads a filmstrip frame’s place and time from its artifact name', () => {
    expect(filmstripFrame('filmstrip-3-1200ms')).toEqual({ index: 3, ms: 1200 });
    expect(filmstripFrame('screenshot')).toBeNull();
    expect(filmstripFrame('filmstrip-x-1ms')).toBeNull();
  });

  it('lays the filmstrip out in frame order, each with its time', () => {
    const asked: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      asked.push(url);
      return new Response(null, { status: 404 });
    });
    render(
      <BrowserResult
        testId="00000000-0000-0000-0000-000000000000"
        result={{
          scores: {},
          vitals: {},
          runs: [],
          failingAudits: [],
          refusedRequests: [],
          artifacts: [
            { name: 'screenshot', contentType: 'image/jpeg', bytes: 10 },
            { name: 'filmstrip-10-3000ms', contentType: 'image/jpeg', bytes: 10 },
            { name: 'filmstrip-2-600ms', contentType: 'image/jpeg', bytes: 10 },
            { name: 'lighthouse.json', contentType: 'application/json', bytes: 10 },
          ],
        }}
      />,
    );
    const frames = screen.getAllByRole('listitem').map((f) => f.textContent);
    expect(frames).toEqual(['600 ms', '3000 ms']);
    expect(asked).toEqual(
      expect.arrayContaining([
        '/api/test/00000000-0000-0000-0000-000000000000/artifacts/filmstrip-2-600ms',
        '/api/test/00000000-0000-0000-0000-000000000000/artifacts/filmstrip-10-3000ms',
      ]),
    );
  });

  it('shows no filmstrip for a shared test (artifacts are not shared)', () => {
    render(
      <BrowserResult
        testId={null}
        result={{ artifacts: [{ name: 'filmstrip-1-100ms', contentType: 'image/jpeg', bytes: 1 }] }}
      />,
    );
    expect(screen.queryByText('Filmstrip')).toBeNull();
  });
});

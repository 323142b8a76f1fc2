import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { LocationProvider } from 'preact-iso';
import { afterEach, describe, expect, it } from 'vitest';
import { TestsListPage } from './tests-list';

afterEach(cleanup);

const row = (testId: string, name: string, status: string) => ({
  testId,
  name,
  url: `http://127.0.0.1:9/${name}`,
  testType: 'performance',
  status,
  progress: status === 'running' ? 40 : 100,
  verdict: null,
  createdAt: '2026-12-06T00:00:00.000Z',
  owner: null,
});

describe('the tests list', () => {
  it('shows the filter chosen while a cancel was on its way, not the page the cancel was clicked on', async () => {
    const all = [row('s', 'slow', 'running'), row('a', 'one', 'completed'), row('b', 'two', 'completed')];
    let releaseCancel = () => {};
    const cancelAnswered = new Promise<void>((resolve) => (releaseCancel = resolve));
    const original = globalThis.fetch;
    globalThis.fetch = (async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://localhost');
      const json = (body: unknown) =>
        new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
      if (init?.method === 'POST' && url.pathname === '/api/test/s/cancel') {
        await cancelAnswered;
        return json({ testId: 's', status: 'cancelled' });
      }
      if (url.pathname === '/api/test/queue/jobs') {
        const status = url.searchParams.get('status');
        return json({ items: all.filter((i) => !status || i.status === status), nextCursor: null });
      }
      return new Response('{}', { status: 404 });
    }) as unknown as typeof fetch;
    history.replaceState(null, '', '/tests');
    try {
      render(
        <LocationProvider>
          <TestsListPage />
        </LocationProvider>,
      );
      await waitFor(() => expect(screen.getAllByRole('row')).toHaveLength(4));
      fireEvent.click(screen.getByRole('button', { name: /^Cancel/ }));
      all[0]!.status = 'cancelled';
      fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'completed' } });
      await waitFor(() => expect(location.search).toBe('?status=completed'));
      await waitFor(() => expect(screen.getAllByRole('row')).toHaveLength(3));

      // The cancel's answer comes after the filter changed: its reload reads the filtered page.
      releaseCancel();
      await screen.findByText(/^Cancelled: slow/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(screen.getAllByRole('row').map((r) => r.querySelector('a')?.textContent ?? 'head')).toEqual([
        'head',
        'one',
        'two',
      ]);
    } finally {
      globalThis.fetch = original;
    }
  });
});

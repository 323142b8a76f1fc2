import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { LocationProvider } from 'preact-iso';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventMessage } from '@crucible/contracts/envelope';
import type { ChannelHandlers, Live } from '../lib/live';
import { live } from '../live-connection';
import { TestsListPage } from './tests-list';

afterEach(() => {
  cleanup();
  live.set(null);
});

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A signed-in page's socket, in memory: the test delivers each channel's messages itself. */
function fakeLive() {
  const channels = new Map<string, ChannelHandlers>();
  const connection: Live = {
    state: 'open',
    onState: () => () => {},
    subscribe(channel, handlers) {
      channels.set(channel, handlers);
      return () => channels.delete(channel);
    },
    close() {},
  };
  live.set(connection);
  return {
    deliver(channel: string, message: { event: string; data: unknown }) {
      channels.get(channel)?.message(message as EventMessage);
    },
  };
}

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

  it('keeps a retried row queued while the retry is on its way, whatever a reload of the page reads meanwhile', async () => {
    const all = [row('c', 'stopped', 'cancelled')];
    let releaseRetry = () => {};
    const retryAnswered = new Promise<void>((resolve) => (releaseRetry = resolve));
    let reloads = 0;
    const original = globalThis.fetch;
    globalThis.fetch = (async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://localhost');
      if (init?.method === 'POST' && url.pathname === '/api/test/queue/jobs/c/retry') {
        await retryAnswered;
        all[0]!.status = 'queued';
        return json({ testId: 'c', status: 'queued', queuePosition: 1 }, 202);
      }
      if (url.pathname === '/api/test/queue/jobs') {
        reloads++;
        return json({ items: all.map((i) => ({ ...i })), nextCursor: null });
      }
      return new Response('{}', { status: 404 });
    }) as unknown as typeof fetch;
    history.replaceState(null, '', '/tests');
    const socket = fakeLive();
    const chip = () => screen.getAllByRole('row')[1]!.querySelector('.chip')!.textContent;
    try {
      render(
        <LocationProvider>
          <TestsListPage />
        </LocationProvider>,
      );
      await waitFor(() => expect(chip()).toBe('cancelled'));
      fireEvent.click(screen.getByRole('button', { name: /^Retry/ }));
      expect(chip()).toBe('queued');

      // The queue moved (someone else's test): the page reloads before the retry is accepted.
      const before = reloads;
      socket.deliver('queue-updates', {
        event: 'queue:status:updated',
        data: { waiting: 1, active: 0, delayed: 0, workers: 1 },
      });
      await waitFor(() => expect(reloads).toBe(before + 1));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(chip()).toBe('queued');

      releaseRetry();
      await screen.findByText(/^Queued again: stopped/);
      expect(chip()).toBe('queued');
    } finally {
      globalThis.fetch = original;
    }
  });
});

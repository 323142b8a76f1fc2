import { cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { LocationProvider } from 'preact-iso';
import { afterEach, describe, expect, it } from 'vitest';
import { NewTestPage } from './new-test';

afterEach(cleanup);

describe('the new test form', () => {
  it('shows the chosen type’s options and the catalogue’s message for a bad value, without submitting', async () => {
    const requests: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (url: string) => {
      requests.push(url);
      return new Response('{}', { status: 500 });
    }) as unknown as typeof fetch;
    try {
      render(
        <LocationProvider>
          <NewTestPage />
        </LocationProvider>,
      );
      expect(screen.getByLabelText('Iterations')).toBeTruthy();
      expect(screen.queryByLabelText('Connections')).toBeNull();

      fireEvent.click(screen.getByLabelText(/^stress/));
      const connections = screen.getByLabelText('Connections') as HTMLInputElement;
      expect(connections.placeholder).toBe('10');
      expect(document.getElementById(connections.getAttribute('aria-describedby')!)!.textContent).toBe(
        '1–1000, default 10',
      );
      expect(screen.getByRole('group', { name: 'Thresholds' })).toBeTruthy();

      fireEvent.input(screen.getByLabelText('URL to test'), { target: { value: 'https://example.com/' } });
      fireEvent.input(connections, { target: { value: '5000' } });
      fireEvent.click(screen.getByRole('button', { name: 'Run stress test' }));

      const message = await screen.findByText('Expected integer to be less or equal to 1000');
      expect(connections.getAttribute('aria-invalid')).toBe('true');
      expect(connections.getAttribute('aria-describedby')).toBe(message.id);
      expect(requests).toEqual([]);
    } finally {
      globalThis.fetch = original;
    }
  });

  it('checks thresholds against the type’s metrics before sending anything', async () => {
    const requests: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (url: string) => {
      requests.push(url);
      return new Response('{}', { status: 500 });
    }) as unknown as typeof fetch;
    try {
      render(
        <LocationProvider>
          <NewTestPage />
        </LocationProvider>,
      );
      fireEvent.input(screen.getByLabelText('URL to test'), { target: { value: 'https://example.com/' } });
      const thresholds = screen.getByLabelText('Thresholds (one per line)') as HTMLTextAreaElement;
      fireEvent.input(thresholds, { target: { value: 'ttfb.median < 200\nlatency.p95 < 300' } });
      fireEvent.click(screen.getByRole('button', { name: 'Run performance test' }));
      await screen.findByText(
        'threshold "latency.p95 < 300": performance tests have no metric "latency.p95"',
      );
      expect(thresholds.getAttribute('aria-invalid')).toBe('true');
      expect(requests).toEqual([]);
    } finally {
      globalThis.fetch = original;
    }
  });
});

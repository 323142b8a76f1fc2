import { cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { LocationProvider } from 'preact-iso';
import { afterEach, describe, expect, it } from 'vitest';
import { MonitorFormPage } from './monitor-form';

afterEach(cleanup);

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' },
  });
const problem = (code: string, detail: string) =>
  json(400, { type: 'about:blank', title: 'Bad Request', status: 400, code, detail });

/** Renders the form with `answer` as the API; returns the bodies it was sent. */
function withApi(answer: (url: string, body: unknown) => Response, id?: string) {
  const sent: { url: string; method: string; body: unknown }[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = (async (url: string, init?: RequestInit) => {
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    sent.push({ url, method: init?.method ?? 'GET', body });
    return answer(url, body);
  }) as unknown as typeof fetch;
  render(
    <LocationProvider>
      <MonitorFormPage id={id} />
    </LocationProvider>,
  );
  return { sent, restore: () => (globalThis.fetch = original) };
}

describe('the monitor form', () => {
  it('puts each refusal of the API under the field it is about', async () => {
    let refusal = problem('INVALID_SCHEDULE', 'schedule.timezone: Mars/Olympus is not an IANA time zone');
    const api = withApi(() => refusal);
    try {
      fireEvent.input(screen.getByLabelText('Monitor name'), { target: { value: 'home' } });
      fireEvent.input(screen.getByLabelText('URL to test'), { target: { value: 'https://example.com/' } });
      fireEvent.click(screen.getByLabelText('Cron'));
      fireEvent.input(screen.getByLabelText('Cron (5 fields)'), { target: { value: '0 9 * * 1-5' } });
      fireEvent.input(screen.getByLabelText('Time zone'), { target: { value: 'Mars/Olympus' } });
      fireEvent.click(screen.getByRole('button', { name: 'Create monitor' }));
      const message = await screen.findByText('schedule.timezone: Mars/Olympus is not an IANA time zone');
      expect(message.id).toBe('f-timezone-error');
      expect(screen.getByLabelText('Time zone').getAttribute('aria-invalid')).toBe('true');
      expect(api.sent.at(-1)).toMatchObject({
        url: '/api/monitors',
        method: 'POST',
        body: {
          name: 'home',
          test: {
            testType: 'api',
            url: 'https://example.com/',
            config: { steps: [{ name: 'home', url: '/' }] },
          },
          schedule: { cron: '0 9 * * 1-5', timezone: 'Mars/Olympus' },
        },
      });

      refusal = problem('INVALID_CONFIG', 'body.test.config.steps.0.url must match format "uri-reference"');
      fireEvent.click(screen.getByRole('button', { name: 'Create monitor' }));
      expect(
        (await screen.findByText('body.test.config.steps.0.url must match format "uri-reference"')).id,
      ).toBe('step-0-url-error');

      // A refusal no field is about shows above the button, with its code.
      refusal = problem('QUOTA_EXCEEDED', 'too many monitors');
      fireEvent.click(screen.getByRole('button', { name: 'Create monitor' }));
      expect((await screen.findByRole('alert')).textContent).toBe('too many monitors (QUOTA_EXCEEDED)');
    } finally {
      api.restore();
    }
  });

  it('edits a monitor from what it is, and says when a deploy keeps it', async () => {
    const monitor = {
      id: 'm1',
      name: 'load',
      test: {
        testType: 'stress',
        url: 'https://example.com/',
        config: { connections: 5, durationSec: 10 },
        thresholds: ['latency.p95 < 300'],
      },
      schedule: { cron: '*/5 * * * *', timezone: 'Europe/Paris' },
      enabled: true,
      status: 'up',
      nextRunAt: null,
      codeKey: 'load-check',
      createdAt: '2026-12-06T00:00:00.000Z',
      updatedAt: '2026-12-06T00:00:00.000Z',
      lastRun: null,
      uptime24h: null,
      uptime30d: null,
      keyMetric: null,
    };
    const api = withApi(
      (url) => (url.endsWith('/api/monitors/m1') ? json(200, monitor) : json(200, { items: [] })),
      'm1',
    );
    try {
      expect(((await screen.findByLabelText('Monitor name')) as HTMLInputElement).value).toBe('load');
      expect((screen.getByLabelText('Connections') as HTMLInputElement).value).toBe('5');
      expect((screen.getByLabelText('Thresholds (one per line)') as HTMLTextAreaElement).value).toBe(
        'latency.p95 < 300',
      );
      expect((screen.getByLabelText('Cron (5 fields)') as HTMLInputElement).value).toBe('*/5 * * * *');
      expect((screen.getByLabelText('Time zone') as HTMLInputElement).value).toBe('Europe/Paris');
      expect(screen.getByTestId('code-key').textContent).toContain('load-check');
      fireEvent.input(screen.getByLabelText('Connections'), { target: { value: '8' } });
      fireEvent.click(screen.getByRole('button', { name: 'Save monitor' }));
      await expect
        .poll(() => api.sent.find((s) => s.method === 'PATCH')?.body)
        .toEqual({
          name: 'load',
          test: {
            testType: 'stress',
            url: 'https://example.com/',
            thresholds: ['latency.p95 < 300'],
            config: { connections: 8, durationSec: 10 },
          },
          schedule: { cron: '*/5 * * * *', timezone: 'Europe/Paris' },
        });
    } finally {
      api.restore();
    }
  });
});

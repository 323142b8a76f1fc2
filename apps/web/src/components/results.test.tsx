import { cleanup, render, screen, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { Comparison, Thresholds } from './judgement';
import { ApiSteps, Findings } from './results';

afterEach(cleanup);

describe('results', () => {
  it('groups security findings by severity, most severe first, each with its fix', () => {
    render(
      <Findings
        result={{
          score: 62,
          findings: [
            {
              id: 'x-frame',
              severity: 'medium',
              title: 'No X-Frame-Options',
              detail: 'absent',
              fix: 'Send DENY',
            },
            {
              id: 'hsts',
              severity: 'high',
              title: 'No HSTS',
              detail: 'absent',
              fix: 'Send Strict-Transport-Security',
            },
            { id: 'server', severity: 'info', title: 'Server header', detail: 'nginx', fix: 'Hide it' },
          ],
        }}
      />,
    );
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Findings · score 62/100');
    const groups = screen.getAllByRole('region').filter((r) => r.classList.contains('finding-group'));
    expect(groups.map((g) => g.getAttribute('aria-label'))).toEqual(['high (1)', 'medium (1)', 'info (1)']);
    expect(within(groups[0]!).getByText('No HSTS')).toBeTruthy();
    expect(within(groups[0]!).getByText('Send Strict-Transport-Security')).toBeTruthy();
  });

  it('groups seo checks by outcome with their recommendations', () => {
    render(
      <Findings
        result={{
          score: 75,
          checks: [
            { id: 'title', group: 'content', status: 'pass', message: 'Title is 24 characters' },
            {
              id: 'meta-description',
              group: 'content',
              status: 'fail',
              message: 'No meta description',
              recommendation: 'Add a meta description of 50–160 characters',
            },
            {
              id: 'lang',
              group: 'technical',
              status: 'warn',
              message: 'No lang',
              recommendation: 'Set <html lang>',
            },
          ],
        }}
      />,
    );
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Checks · score 75/100');
    const groups = screen.getAllByRole('region').filter((r) => r.classList.contains('finding-group'));
    expect(groups.map((g) => g.getAttribute('aria-label'))).toEqual(['fail (1)', 'warn (1)', 'pass (1)']);
    expect(within(groups[0]!).getByText('Add a meta description of 50–160 characters')).toBeTruthy();
  });

  it('lists api steps with each assertion and what a failed one got', () => {
    render(
      <ApiSteps
        result={{
          steps: [
            {
              name: 'login',
              method: 'POST',
              url: 'http://127.0.0.1/login',
              status: 200,
              durationMs: 12.5,
              passed: true,
              assertions: [{ check: 'status', expected: 200, actual: 200, passed: true }],
            },
            {
              name: 'profile',
              method: 'GET',
              url: 'http://127.0.0.1/me',
              status: 200,
              durationMs: 3,
              passed: false,
              assertions: [{ check: 'json:$.name', expected: 'ada', actual: 'bob', passed: false }],
            },
          ],
        }}
      />,
    );
    const steps = screen
      .getAllByRole('listitem')
      .filter((li) => li.parentElement?.classList.contains('steps'));
    expect(steps.map((s) => s.className)).toEqual(['step-passed', 'step-failed']);
    expect(within(steps[0]!).getByText('✓ status')).toBeTruthy();
    expect(within(steps[1]!).getByText('✗ json:$.name — expected "ada", got "bob"')).toBeTruthy();
  });

  it('shows each threshold with its actual value, and the comparison with arrows and confidence', () => {
    render(
      <>
        <Thresholds
          result={{
            thresholds: [
              {
                expression: 'ttfb.median < 200',
                metric: 'ttfb.median',
                op: '<',
                limit: 200,
                actual: 41.7,
                passed: true,
              },
              {
                expression: 'errors.count == 0',
                metric: 'errors.count',
                op: '==',
                limit: 0,
                actual: 2,
                passed: false,
              },
            ],
          }}
        />
        <Comparison
          baseline="b-1"
          result={{
            comparison: [
              {
                metric: 'ttfb.median',
                baseline: 20,
                current: 60,
                changePct: 200,
                verdict: 'regressed',
                confidence: 0.992,
              },
              {
                metric: 'score',
                baseline: 90,
                current: 91,
                changePct: 1.1,
                verdict: 'unchanged',
                confidence: null,
              },
            ],
          }}
        />
      </>,
    );
    const rows = (selector: string) =>
      [...document.querySelectorAll(`${selector} tbody tr`)].map((r) =>
        [...r.querySelectorAll('td')].map((td) => td.textContent),
      );
    expect(rows('.thresholds')).toEqual([
      ['ttfb.median < 200', '41.7', '✓ pass'],
      ['errors.count == 0', '2', '✗ fail'],
    ]);
    expect(rows('.comparison')).toEqual([
      ['ttfb.median', '20', '60', '+200.0 %', '▼ regressed', '99.2 %'],
      ['score', '90', '91', '+1.1 %', '= unchanged', 'tolerance'],
    ]);
  });
});

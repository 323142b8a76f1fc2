import { describe, expect, it } from 'vitest';
import { TemplateError, checkTemplates, render, templateFor } from './templates.js';

const data = {
  severity: 'warning' as const,
  title: 'API slow',
  message: 'p95 <b>900</b> ms',
  monitor: { name: 'API & co' },
  metrics: { 'latency.p95': 900 },
};
const ctx = { eventType: 'incident.opened' as const, eventId: 'e1', channelName: 'ops' };

describe('templates', () => {
  it('renders the default of a state, text unescaped and HTML escaped', () => {
    const out = render(templateFor('email', 'incident.opened', undefined), data, ctx);
    expect(out.title).toBe('Incident opened: API slow');
    expect(out.body).toBe('p95 <b>900</b> ms');
    expect(out.html).toContain('<p>p95 &lt;b&gt;900&lt;&#x2F;b&gt; ms</p>');
  });

  it('uses a channel’s own template for the fields it overrides', () => {
    const own = { 'incident.opened': { title: '[{{severity}}] {{monitor.name}} on {{channel.name}}' } };
    const out = render(templateFor('webhook', 'incident.opened', own), data, ctx);
    expect(out.title).toBe('[warning] API & co on ops');
    expect(out.body).toBe('p95 <b>900</b> ms');
    const other = render(templateFor('webhook', 'incident.resolved', own), data, {
      ...ctx,
      eventType: 'incident.resolved',
    });
    expect(other.title).toBe('Resolved: API slow');
  });

  it('has no logic: a template cannot call anything, only read the values', () => {
    const own = { 'test.notification': { body: '{{metrics.latency.p95}}{{constructor}}{{toString}}' } };
    const out = render(templateFor('slack', 'test.notification', own), data, ctx);
    expect(out.body).toBe('900');
  });

  it('refuses a template the engine cannot parse, naming where', () => {
    expect(() => checkTemplates({ 'incident.opened': { body: '{{#open}} never closed' } })).toThrow(
      TemplateError,
    );
    expect(() => checkTemplates({ 'incident.opened': { body: '{{#open}} never closed' } })).toThrow(
      /^incident.opened.body: /,
    );
    expect(() => checkTemplates({ 'incident.opened': { body: '{{title}}' } })).not.toThrow();
  });
});

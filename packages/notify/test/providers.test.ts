import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { Egress, parseAllowlist } from '@crucible/egress';
import { Dispatcher } from '../src/dispatcher.js';
import { startDatabase, startReceiver, testSettings } from './helpers.js';
import type { Received, TestDatabase } from './helpers.js';

const incident = {
  id: '7b0c1d8e-0000-4000-8000-000000000001',
  key: 'rule-1:monitor-1',
  title: 'Shop is down',
  status: 'open' as const,
};
/** Where `PUBLIC_URL` puts the incident's page: every provider links to it. */
const PUBLIC_URL = 'https://crucible.example/app';
const incidentUrl = `${PUBLIC_URL}/incidents/${incident.id}`;
const data = {
  severity: 'critical' as const,
  title: 'Shop <b>is</b> down',
  message: 'Two runs failed: 503 & 503',
  incident,
  monitor: { name: 'Shop' },
};

/** Each provider's documented request, checked field by field as its API would. */
const shapes: Record<string, (r: Received) => void> = {
  slack: (r) => {
    expect(r.url).toBe('/slack/services/T0/B0/XYZ');
    const body = JSON.parse(r.body);
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toBe(
      `*Incident opened: Shop <b>is</b> down*\nTwo runs failed: 503 & 503\n<${incidentUrl}|Open in Crucible>`,
    );
  },
  discord: (r) => {
    const body = JSON.parse(r.body);
    expect(body.embeds).toHaveLength(1);
    const [embed] = body.embeds;
    expect(embed.title).toBe('Incident opened: Shop <b>is</b> down');
    expect(embed.title.length).toBeLessThanOrEqual(256);
    expect(embed.description).toBe(`Two runs failed: 503 & 503\nOpen in Crucible: ${incidentUrl}`);
    expect(embed.url).toBe(incidentUrl);
    expect(Number.isInteger(embed.color)).toBe(true);
  },
  teams: (r) => {
    const body = JSON.parse(r.body);
    expect(body.type).toBe('message');
    const [card] = body.attachments;
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.content.body[0]).toMatchObject({
      type: 'TextBlock',
      text: 'Incident opened: Shop <b>is</b> down',
    });
    expect(card.content.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open in Crucible', url: incidentUrl },
    ]);
  },
  telegram: (r) => {
    expect(r.url).toBe('/telegram/bot123:ABC/sendMessage');
    const body = JSON.parse(r.body);
    expect(body.chat_id).toBe(-100200);
    expect(body.text.startsWith('Incident opened: Shop <b>is</b> down\n\nTwo runs failed')).toBe(true);
    expect(body).not.toHaveProperty('parse_mode');
    expect(body.text.endsWith(`\nOpen in Crucible: ${incidentUrl}`)).toBe(true);
  },
  pagerduty: (r) => {
    expect(r.url).toBe('/pagerduty/v2/enqueue');
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({
      routing_key: 'R0123456789abcdef0123456789abcdef',
      event_action: 'trigger',
      dedup_key: incident.key,
    });
    expect(body.payload).toMatchObject({
      summary: 'Incident opened: Shop <b>is</b> down',
      source: 'crucible',
      severity: 'critical',
    });
    expect(['critical', 'error', 'warning', 'info']).toContain(body.payload.severity);
    expect(body.links).toEqual([{ href: incidentUrl, text: 'Open in Crucible' }]);
    expect(body).toMatchObject({ client: 'Crucible', client_url: incidentUrl });
    expect(body.payload.custom_details.message).toContain(incidentUrl);
  },
  opsgenie: (r) => {
    expect(r.url).toBe('/opsgenie/v2/alerts');
    expect(r.headers.authorization).toBe('GenieKey og-key');
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ alias: incident.key, priority: 'P1', source: 'crucible' });
    expect(body.message.length).toBeLessThanOrEqual(130);
    expect(body.details).toEqual({ url: incidentUrl });
    expect(body.description).toContain(`Open in Crucible: ${incidentUrl}`);
  },
};

describe('provider payloads', () => {
  let t: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const mails: { to: string[]; raw: string }[] = [];
  let smtp: SMTPServer;
  let smtpPort: number;

  beforeAll(async () => {
    t = await startDatabase('distributed');
    receiver = await startReceiver((_r, _n, res) => {
      res.statusCode = 202;
      res.end('{}');
    });
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({
            to: session.envelope.rcptTo.map((a) => a.address),
            raw: Buffer.concat(chunks).toString(),
          });
          callback();
        });
      },
    });
    smtp.listen(0, '127.0.0.1');
    await once(smtp.server, 'listening');
    smtpPort = (smtp.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await receiver.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    await t.close();
  });

  it('sends each provider its documented request, and email as HTML and text', async () => {
    const configs = {
      slack: { webhookUrl: `${receiver.base}/slack/services/T0/B0/XYZ` },
      discord: { webhookUrl: `${receiver.base}/discord/api/webhooks/1/abc` },
      teams: { webhookUrl: `${receiver.base}/teams/workflows/1` },
      telegram: { botToken: '123:ABC', chatId: -100200 },
      pagerduty: { routingKey: 'R0123456789abcdef0123456789abcdef' },
      opsgenie: { apiKey: 'og-key' },
    };
    const ids: Record<string, string> = {};
    for (const [type, config] of Object.entries(configs)) {
      ids[(await t.channel({ type: type as 'slack', config })).id] = type;
    }
    const email = await t.channel({ type: 'email', config: { to: ['ops@example.com', 'dev@example.com'] } });
    const { deliveries } = await t.deliveries.enqueue({
      workspaceId: t.workspaceId,
      type: 'incident.opened',
      data,
      channelIds: [...Object.keys(ids), email.id],
      retryForMs: 60_000,
    });
    const settings = testSettings({
      TELEGRAM_API_URL: `${receiver.base}/telegram`,
      PAGERDUTY_EVENTS_URL: `${receiver.base}/pagerduty/v2/enqueue`,
      OPSGENIE_API_URL: `${receiver.base}/opsgenie`,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      SMTP_FROM: 'Crucible <alerts@crucible.example>',
      PUBLIC_URL: `${PUBLIC_URL}/`,
    });
    const dispatcher = new Dispatcher({
      db: t.db.kysely,
      egress: new Egress({ allowlist: parseAllowlist('127.0.0.1') }),
      settings,
    });
    await dispatcher.runOnce();
    await dispatcher.close();
    for (const { deliveryId } of deliveries)
      expect((await t.deliveries.status(deliveryId))?.status).toBe('delivered');

    expect(receiver.received).toHaveLength(6);
    for (const r of receiver.received) {
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toBe('application/json');
      const type = r.url.split('/')[1]!;
      shapes[type]!(r);
    }

    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(['ops@example.com', 'dev@example.com']);
    const mail = await simpleParser(mails[0]!.raw);
    expect(mail.subject).toBe('Incident opened: Shop <b>is</b> down');
    expect(mail.from?.value).toEqual([{ name: 'Crucible', address: 'alerts@crucible.example' }]);
    expect(mail.text).toContain('Two runs failed: 503 & 503');
    // Values are HTML-escaped in the HTML part: the monitor's name cannot inject markup.
    expect(mail.html).toContain('<h2>Incident opened: Shop &lt;b&gt;is&lt;&#x2F;b&gt; down</h2>');
    expect(mail.html).toContain('503 &amp; 503');
    expect(mail.text).toContain(`Open in Crucible: ${incidentUrl}`);
    // The link's address HTML-escaped as every value is (`/` as `&#x2F;`), which a browser reads back.
    expect((mail.html as string).replaceAll('&#x2F;', '/')).toContain(
      `<a href="${incidentUrl}">Open in Crucible</a>`,
    );
  });

  it('acknowledges and resolves by the incident key on PagerDuty and Opsgenie', async () => {
    receiver.received.length = 0;
    const pd = await t.channel({
      type: 'pagerduty',
      config: { routingKey: 'R0123456789abcdef0123456789abcdef' },
    });
    const og = await t.channel({ type: 'opsgenie', config: { apiKey: 'og-key' } });
    for (const type of ['incident.acknowledged', 'incident.resolved'] as const) {
      await t.deliveries.enqueue({
        workspaceId: t.workspaceId,
        type,
        data,
        channelIds: [pd.id, og.id],
        retryForMs: 60_000,
      });
    }
    const settings = testSettings({
      PAGERDUTY_EVENTS_URL: `${receiver.base}/pagerduty/v2/enqueue`,
      OPSGENIE_API_URL: `${receiver.base}/opsgenie`,
    });
    const dispatcher = new Dispatcher({
      db: t.db.kysely,
      egress: new Egress({ allowlist: parseAllowlist('127.0.0.1') }),
      settings,
    });
    // One delivery of a channel at a time, in order: a look each.
    while ((await dispatcher.runOnce()) > 0);
    await dispatcher.close();
    const got = receiver.received.map((r) => `${r.url} ${r.body}`).sort();
    const alias = encodeURIComponent(incident.key);
    expect(got).toEqual(
      [
        `/opsgenie/v2/alerts/${alias}/acknowledge?identifierType=alias {"source":"crucible","note":"Acknowledged: Shop <b>is</b> down"}`,
        `/opsgenie/v2/alerts/${alias}/close?identifierType=alias {"source":"crucible","note":"Resolved: Shop <b>is</b> down"}`,
        `/pagerduty/v2/enqueue {"routing_key":"R0123456789abcdef0123456789abcdef","event_action":"acknowledge","dedup_key":"${incident.key}"}`,
        `/pagerduty/v2/enqueue {"routing_key":"R0123456789abcdef0123456789abcdef","event_action":"resolve","dedup_key":"${incident.key}"}`,
      ].sort(),
    );
  });
});

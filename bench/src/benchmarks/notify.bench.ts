import { createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Agent, request } from 'undici';
import {
  NotificationChannelsRepository,
  NotificationDeliveriesRepository,
  UsersRepository,
  WorkspacesRepository,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import type { Db } from '@crucible/db';
import pg from 'pg';
import { createTestDatabase } from '@crucible/db/testing';
import { Egress, parseAllowlist } from '@crucible/egress';
import {
  Dispatcher,
  generateWebhookSecret,
  loadNotifySettings,
  signWebhook,
  webhookIdOf,
} from '@crucible/notify';
import { defineBenchmark } from '../harness.js';
import type { BenchContext } from '../harness.js';
import { until } from '../lib/pace.js';
import { startCrucible } from '../lib/stack.js';

/**
 * A Standard Webhooks receiver that verifies every signature and counts each `webhook-id` once
 * (what a deduplicating receiver does): the figures count only valid, distinct deliveries.
 */
/** `secret`: read at each request, for a channel whose secret the API makes after the receiver started. */
async function startReceiver(secret: () => string) {
  const seen = new Set<string>();
  /** When each incident named in a valid body first arrived (epoch ms). */
  const incidents = new Map<string, number>();
  let invalid = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const id = String(req.headers['webhook-id']);
      const key = Buffer.from(secret().slice('whsec_'.length), 'base64');
      const expected = `v1,${createHmac('sha256', key)
        .update(`${id}.${String(req.headers['webhook-timestamp'])}.${body}`)
        .digest('base64')}`;
      if (req.headers['webhook-signature'] === expected) {
        seen.add(id);
        const data = (
          JSON.parse(body) as { data?: { incident?: { id: string }; incidents?: { id: string }[] } }
        ).data;
        for (const incident of [data?.incident, ...(data?.incidents ?? [])]) {
          if (incident && !incidents.has(incident.id)) incidents.set(incident.id, Date.now());
        }
      } else invalid++;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    get delivered() {
      return seen.size;
    },
    get invalid() {
      return invalid;
    },
    incidents,
    reset() {
      seen.clear();
      invalid = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * Outbox rows of `count` events, one webhook delivery each, written as a producer writes them, round
 * robin over `channelIds` (a channel's deliveries go one at a time, so the dispatchers' concurrency
 * is across channels).
 */
async function enqueue(db: Db, workspaceId: string, channelIds: readonly string[], count: number) {
  const deliveries = new NotificationDeliveriesRepository(db.kysely);
  const writers = 8;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = w; i < count; i += writers) {
        await deliveries.enqueue({
          workspaceId,
          type: 'incident.opened',
          data: { severity: 'critical', title: `bench ${i}`, message: 'target down' },
          channelIds: [channelIds[i % channelIds.length]!],
          retryForMs: 3_600_000,
        });
      }
    }),
  );
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * From a failing monitor run to the first delivery of its incident, through the whole stack: an
 * api, two worker processes (each running monitors, judging rules as runs settle, and dispatching),
 * `monitors` monitors on a local target that answers 503, one rule over all of them with
 * `failAfter: 1`, a webhook channel, and `ALERT_GROUP_WAIT_MS=0` (the default 30 s would be most of
 * the figure). Measured per incident: its first arrival at the receiver minus the completion of the
 * run that opened it, both on this machine's clock.
 */
async function failToDelivery(ctx: BenchContext, monitors: number): Promise<number[]> {
  const stack = await startCrucible(ctx, {
    workers: 2,
    env: { ALERT_GROUP_WAIT_MS: '0', MONITOR_MIN_INTERVAL_SECONDS: '1' },
  });
  const target = createServer((_req, res) => res.writeHead(503).end());
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  ctx.defer(
    () =>
      new Promise<void>((r) => {
        target.closeAllConnections();
        target.close(() => r());
      }),
  );
  const api = async (path: string, body: object) => {
    const res = await fetch(`${stack.apiUrls[0]}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status < 200 || res.status > 202)
      throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as { id: string; secret?: string };
  };
  let channelSecret = '';
  const receiver = await startReceiver(() => channelSecret);
  ctx.defer(() => receiver.close());
  const channel = await api('/api/notification-channels', {
    name: 'bench',
    type: 'webhook',
    config: { url: receiver.url },
  });
  channelSecret = channel.secret!;
  await api('/api/alert-rules', {
    name: 'down',
    target: { allMonitors: true },
    condition: { kind: 'down' },
    failAfter: 1,
    recoverAfter: 1,
    severity: 'critical',
    channelIds: [channel.id],
  });
  const url = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;
  for (let i = 0; i < monitors; i++) {
    const monitor = await api('/api/monitors', {
      name: `down ${i}`,
      test: { testType: 'api', url, config: { steps: [{ name: 'home', assert: { status: 200 } }] } },
      schedule: { everySeconds: 3600 },
    });
    // Its first slot is an interval away: one run now, as "Run now" asks for it.
    await api(`/api/monitors/${monitor.id}/run`, {});
  }
  await until(() => receiver.incidents.size >= monitors, {
    timeoutMs: 90_000,
    intervalMs: 50,
    describe: () => `${receiver.incidents.size} of ${monitors} incidents delivered`,
  });
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ id: string; completed_at: Date }>(
      `select i.id, max(q.completed_at) as completed_at
       from incidents i join test_queue q on q.test_id::text = any(i.opened_by_runs::text[])
       group by i.id`,
    );
    if (rows.length !== monitors) throw new Error(`${rows.length} incidents have their run, of ${monitors}`);
    return rows.map((r) => receiver.incidents.get(r.id)! - r.completed_at.getTime()).sort((a, b) => a - b);
  } finally {
    await db.end();
  }
}

export default defineBenchmark({
  name: 'notify',
  description:
    'signed webhook deliveries/s through the outbox and N dispatchers, beside bare signed POSTs at the same concurrency',
  order: 8,
  async run(ctx: BenchContext) {
    const events = ctx.size(2_000, 60);
    const dispatchers = ctx.size(2, 2);
    const batchSize = 20;
    const database = await createTestDatabase();
    ctx.defer(() => database.drop());
    const setup = createDb(database.url, { max: 8 });
    ctx.defer(() => setup.close());
    await migrateToLatest(setup.kysely);
    const secret = generateWebhookSecret();
    const receiver = await startReceiver(() => secret);
    ctx.defer(() => receiver.close());

    const user = (await new UsersRepository(setup.kysely).create(`bench-${randomUUID()}@example.com`, 'x'))!;
    const workspace = (await new WorkspacesRepository(setup.kysely).findPersonal(user.id))!;
    // As many channels as a claim takes deliveries: one of each channel is in flight at a time.
    const channels = new NotificationChannelsRepository(setup.kysely);
    const channelIds: string[] = [];
    for (let c = 0; c < batchSize; c++) {
      const channel = await channels.create({
        workspaceId: workspace.id,
        createdBy: user.id,
        name: `bench ${c}`,
        type: 'webhook',
        config: { url: receiver.url },
        secret,
        templates: {},
      });
      channelIds.push(channel.id);
    }

    // Each dispatcher as a worker process has it: its own pool, polling every second, 20 a claim.
    const egress = new Egress({ allowlist: parseAllowlist('127.0.0.1') });
    const settings = loadNotifySettings({});
    const pools = Array.from({ length: dispatchers }, () => createDb(database.url, { max: 10 }));
    ctx.defer(() => Promise.all(pools.map((p) => p.close())));

    const crucible = async () => {
      receiver.reset();
      await enqueue(setup, workspace.id, channelIds, events);
      const started = performance.now();
      const running = pools.map((p) =>
        new Dispatcher({ db: p.kysely, egress, settings, batchSize, pollMs: 50 }).start(),
      );
      try {
        await until(() => receiver.delivered >= events, {
          timeoutMs: 300_000,
          intervalMs: 10,
          describe: () => `${receiver.delivered} of ${events} delivered`,
        });
      } finally {
        await Promise.all(running.map((d) => d.close()));
      }
      const seconds = (performance.now() - started) / 1000;
      if (receiver.invalid > 0) throw new Error(`${receiver.invalid} deliveries failed verification`);
      return { rate: events / seconds };
    };

    // The wire's ceiling: the same signed bodies POSTed straight from one process, as many at once
    // as the dispatchers hold claimed (dispatchers × batch), with no database in the way.
    const agent = new Agent({ connections: dispatchers * batchSize });
    ctx.defer(() => agent.close());
    const bare = async () => {
      receiver.reset();
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: dispatchers * batchSize }, async () => {
          while (next < events) {
            const i = next++;
            const body = JSON.stringify({
              type: 'incident.opened',
              timestamp: new Date().toISOString(),
              data: { severity: 'critical', title: `bench ${i}`, message: 'target down' },
            });
            const headers = signWebhook(secret, webhookIdOf(randomUUID()), body);
            const res = await request(receiver.url, {
              method: 'POST',
              dispatcher: agent,
              headers: { ...headers, 'content-type': 'application/json' },
              body,
            });
            await res.body.dump();
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      if (receiver.delivered !== events) throw new Error(`bare: ${receiver.delivered} of ${events} arrived`);
      return { rate: events / seconds };
    };

    ctx.log(`  ${events} events, ${dispatchers} dispatchers`);
    await ctx.compare({
      title: `${events.toLocaleString('en-US')} signed webhook deliveries to ${batchSize} channels, ${dispatchers} dispatchers (each its own pool, 20 per claim)`,
      metrics: [{ key: 'rate', label: 'deliveries/s', better: 'higher' }],
      crucible: { label: 'outbox → dispatchers → receiver', run: crucible },
      anchors: [{ label: `bare signed POSTs, ${dispatchers * batchSize} at once`, run: bare }],
    });
    ctx.note(
      'Each delivery: claimed by lease (one in flight per channel, in the order written), rendered, signed, POSTed through the egress guard, ' +
        'its outcome and trail line written. The receiver verifies every signature and counts each webhook-id once; ' +
        'the time runs from the dispatchers starting on a full outbox to the last one arriving.',
    );

    const monitors = ctx.size(40, 3);
    ctx.log(`  ${monitors} monitors failing, through the whole stack`);
    const latencies = await failToDelivery(ctx, monitors);
    ctx.note(
      `Failing monitor run → first delivery of its incident (api + 2 workers, ${monitors} monitors on a target ` +
        `answering 503, a rule failAfter 1, ALERT_GROUP_WAIT_MS=0): p50 ${Math.round(percentile(latencies, 50))} ms, ` +
        `p99 ${Math.round(percentile(latencies, 99))} ms, max ${Math.round(latencies.at(-1)!)} ms over ${latencies.length} incidents. ` +
        "It is the dispatchers' poll (every second) plus one claim and send; with the default ALERT_GROUP_WAIT_MS " +
        'add its 30 s.',
    );
  },
});

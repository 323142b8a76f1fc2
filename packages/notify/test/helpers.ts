import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createTestDeployment } from '@crucible/backplane/testing';
import type { BackplaneMode } from '@crucible/backplane/testing';
import {
  NotificationChannelsRepository,
  NotificationDeliveriesRepository,
  UsersRepository,
  WorkspacesRepository,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import type { NewNotificationChannel } from '@crucible/db';
import { loadNotifySettings } from '../src/settings.js';
import type { NotifySettings } from '../src/settings.js';

/** One request a local receiver got. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A local HTTP receiver that records every request and answers with `respond` (default 200):
 * what a webhook's, or a provider's, endpoint is in these tests.
 */
export async function startReceiver(
  respond: (req: Received, n: number, res: ServerResponse) => void = (_r, _n, res) => res.end('ok'),
) {
  const received: Received[] = [];
  let connections = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(r);
      respond(r, received.length, res);
    });
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    url: `${base}/hook`,
    received,
    get connections() {
      return connections;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Settings of a test: providers' endpoints on a local receiver. */
export function testSettings(env: Record<string, string> = {}): NotifySettings {
  return loadNotifySettings(env);
}

/** A deployment's database with one user and their personal workspace, in the given mode. */
export async function startDatabase(mode: BackplaneMode) {
  const deployment = await createTestDeployment({ mode });
  const db = createDb(deployment.databaseUrl);
  await migrateToLatest(db.kysely);
  const user = (await new UsersRepository(db.kysely).create(`n-${randomUUID()}@example.com`, 'x'))!;
  const workspace = (await new WorkspacesRepository(db.kysely).findPersonal(user.id))!;
  const channels = new NotificationChannelsRepository(db.kysely);
  const deliveries = new NotificationDeliveriesRepository(db.kysely);
  return {
    db,
    user,
    workspaceId: workspace.id,
    channels,
    deliveries,
    async channel(fields: Partial<NewNotificationChannel> & Pick<NewNotificationChannel, 'type' | 'config'>) {
      return channels.create({
        workspaceId: workspace.id,
        createdBy: user.id,
        name: `${fields.type} channel`,
        secret: null,
        templates: {},
        ...fields,
      });
    },
    async close() {
      await db.close();
      await deployment.close();
    },
  };
}

export type TestDatabase = Awaited<ReturnType<typeof startDatabase>>;

/** Waits until `check` holds (polling every 20 ms), failing after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

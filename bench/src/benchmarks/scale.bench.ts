import { cpus } from 'node:os';
import { Channels } from '@crucible/contracts';
import pg from 'pg';
import { defineBenchmark } from '../harness.js';
import type { Subject } from '../harness.js';
import { CrucibleDispatch } from '../lib/dispatch.js';
import { load } from '../lib/load.js';
import { startCrucible } from '../lib/stack.js';
import { startTarget } from '../lib/target.js';
import { Clients, crucibleChannelPublisher, deliveries, makeUsers, startGateway } from './gateway/fanout.js';
import { ACCEPT_BODY } from './accept.bench.js';

export default defineBenchmark({
  name: 'scale',
  description:
    'accept, drain and gateway fan-out with two processes beside one: what adding a process gives on this machine',
  order: 6,
  async run(ctx) {
    const connections = 50;
    const durationSec = ctx.size(5, 1);
    const { url: targetUrl } = await startTarget(ctx);
    const stack = await startCrucible(ctx, { apis: 2 });
    const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 1 });
    ctx.defer(() => pool.end());

    // The same 50 connections, all on one API or split over two.
    const accept = (apis: string[]): Subject => ({
      label: apis.length === 1 ? '1 api process' : `${apis.length} api processes`,
      async run() {
        await pool.query('TRUNCATE test_queue CASCADE');
        const results = await Promise.all(
          apis.map((api) =>
            load({
              url: `${api}/api/test/run`,
              method: 'POST',
              headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
              body: ACCEPT_BODY,
              connections: connections / apis.length,
              durationSec,
            }),
          ),
        );
        return {
          rps: results.reduce((sum, r) => sum + r.rps, 0),
          p99: Math.max(...results.map((r) => r.p99)),
        };
      },
    });
    await ctx.compare({
      title: `accept: POST /api/test/run, ${connections} connections split over the api processes`,
      metrics: [
        { key: 'rps', label: 'req/s', better: 'higher' },
        { key: 'p99', label: 'p99 ms (worst process)', better: 'lower' },
      ],
      crucible: accept(stack.apiUrls),
      anchors: [accept(stack.apiUrls.slice(0, 1))],
    });

    // Drain: a second deployment (its own database and prefix) with one worker beside this one with
    // two, both kept running, so neither configuration pays a process start inside a round.
    await stack.startWorkers(2, 5);
    const single = await startCrucible(ctx, { workers: 1 });
    const two = await CrucibleDispatch.create(ctx, stack, targetUrl);
    const one = await CrucibleDispatch.create(ctx, single, targetUrl);
    const { rate: warmRate } = await one.drain(ctx.size(200, 10));
    await two.drain(ctx.size(200, 10));
    const backlog = ctx.smoke ? 20 : Math.min(10_000, Math.max(500, Math.round(warmRate * 5)));
    await ctx.compare({
      warmup: false,
      title: `drain a backlog of ${backlog.toLocaleString('en-US')} trivial tests, concurrency 5 per worker process`,
      metrics: [{ key: 'rate', label: 'tests/s', better: 'higher' }],
      crucible: { label: '2 worker processes', run: async () => ({ rate: (await two.drain(backlog)).rate }) },
      anchors: [{ label: '1 worker process', run: async () => ({ rate: (await one.drain(backlog)).rate }) }],
    });
    ctx.note(
      `This machine has ${cpus().length} cores shared by PostgreSQL, Redis, the load generator and every process ` +
        'measured: a second process can only use what the first leaves idle, so these ratios show the machine ' +
        'as much as Crucible. More processes pay off on more cores or machines.',
    );

    // Gateways: the same subscribers of one channel on one gateway process, or half on each of two
    // (other channels, so each configuration's sockets only receive its own messages).
    const subscribers = ctx.size(1_000, 10);
    const burst = ctx.size(300, 10);
    // Users of their own for each group of sockets (10 sockets per user, the default limit).
    const usersFor = (sockets: number) => Math.ceil(sockets / 10);
    const tokens = await makeUsers(ctx, stack, usersFor(subscribers) + 2 * usersFor(subscribers / 2));
    const oneTokens = tokens.slice(0, usersFor(subscribers));
    const halfTokens = [
      tokens.slice(usersFor(subscribers), usersFor(subscribers) + usersFor(subscribers / 2)),
      tokens.slice(usersFor(subscribers) + usersFor(subscribers / 2)),
    ];
    const [gatewayA, gatewayB] = [
      await startGateway(ctx, stack, 'gateway-1', []),
      await startGateway(ctx, stack, 'gateway-2', []),
    ];
    const clients = await Clients.start(ctx);
    await clients.open('one', { ...gatewayA, tokens: oneTokens }, subscribers, Channels.QUEUE_UPDATES);
    await clients.open(
      'two-a',
      { ...gatewayA, tokens: halfTokens[0]! },
      subscribers / 2,
      Channels.SYSTEM_MAINTENANCE,
    );
    await clients.open(
      'two-b',
      { ...gatewayB, tokens: halfTokens[1]! },
      subscribers / 2,
      Channels.SYSTEM_MAINTENANCE,
    );
    const toOne = await crucibleChannelPublisher(ctx, stack.prefix, Channels.QUEUE_UPDATES);
    const toTwo = await crucibleChannelPublisher(ctx, stack.prefix, Channels.SYSTEM_MAINTENANCE);
    await ctx.compare({
      title: `gateways: ${burst} messages published at once to ${subscribers.toLocaleString('en-US')} subscribers of one channel, split over the gateway processes`,
      metrics: [{ key: 'rate', label: 'deliveries/s', better: 'higher' }],
      crucible: {
        label: '2 gateway processes',
        run: async () => ({ rate: (await deliveries(clients, toTwo, burst, subscribers)).rate }),
      },
      anchors: [
        {
          label: '1 gateway process',
          run: async () => ({ rate: (await deliveries(clients, toOne, burst, subscribers)).rate }),
        },
      ],
    });
    ctx.note(
      'Gateways: the deliveries (socket writes) split over the gateway processes, but the 2 cores also carry ' +
        'Redis, the publisher and the one process holding every client socket, which reads every delivery on one ' +
        'core at most: a second gateway adds only what those leave idle.',
    );
  },
});

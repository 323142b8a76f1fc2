import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDistributed, startTarget } from './helpers.js';

/** Every stage of a plain progress log, in order. */
const stages = (log: string) =>
  [...log.matchAll(/^\[\s*[\dhms]+\] +\d+% (.+?)(?:, ETA .*)?$/gm)].map((m) => m[1]!);

let crucible: Awaited<ReturnType<typeof startDistributed>>;
let target: Awaited<ReturnType<typeof startTarget>>;

beforeAll(async () => {
  target = await startTarget();
  crucible = await startDistributed();
}, 180_000);

afterAll(async () => {
  await crucible?.close();
  await target?.close();
});

describe(
  'crucible against a distributed deployment (api, gateway and worker apart)',
  { timeout: 120_000 },
  () => {
    it('finds the gateway where the API says it is and follows a run live to its end', async () => {
      // The api has no /ws: the gateway listens on its own port, which the api tells its clients.
      const refused = await new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${crucible.port}/ws?token=${crucible.token}`);
        socket.once('unexpected-response', (req, res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        socket.on('error', () => {});
        socket.once('open', () => reject(new Error('the api upgraded /ws')));
      });
      expect(refused).toBe(404);
      const meta = (await (await fetch(`${crucible.url}/api/meta`)).json()) as { wsUrl: string };
      expect(meta.wsUrl).toBe(`ws://127.0.0.1:${crucible.gatewayPort}/ws`);

      const run = await runCli(
        ['run', '--type', 'performance', '--target', `${target.url}?delay=100`, '--config', 'iterations=3'],
        { CRUCIBLE_URL: crucible.url, CRUCIBLE_TOKEN: crucible.token },
      );
      expect(run.code, run.stderr).toBe(0);
      // Each stage came over the gateway's socket (HTTP polling alone sees none), which never dropped.
      expect(stages(run.stderr).filter((s) => s.startsWith('request'))).toEqual([
        'request 1/3',
        'request 2/3',
        'request 3/3',
      ]);
      expect(run.stderr).not.toMatch(/connection lost|reconnecting/);
      expect(run.stdout).toMatch(
        /no verdict \(performance http:\/\/127\.0\.0\.1:\d+\/\?delay=100 in [\d.]+ s\)/,
      );
    });

    it('still takes --ws-url over what the API says', async () => {
      const run = await runCli(
        [
          'run',
          '--type',
          'performance',
          '--target',
          target.url,
          '--config',
          'iterations=1',
          '--timeout',
          '20s',
        ],
        {
          CRUCIBLE_URL: crucible.url,
          CRUCIBLE_TOKEN: crucible.token,
          // The api's own port, where no gateway listens: the socket keeps failing, HTTP finds the end.
          CRUCIBLE_WS_URL: `ws://127.0.0.1:${crucible.port}/ws`,
        },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/connection lost, reconnecting/);
      expect(stages(run.stderr).filter((s) => s.startsWith('request'))).toEqual([]);
    });
  },
);

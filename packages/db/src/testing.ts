import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where tests create their throw-away databases. */
export const TEST_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates a fresh database for one test file; `drop()` removes it (terminating leftover sessions). */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `crucible_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: TEST_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The lowest port the kernel hands out for outgoing connections and `listen(0)` (Linux), if known. */
function ephemeralLow(): number | null {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : null;
  } catch {
    return null;
  }
}

/** Where `freePort` draws from: below the ephemeral range, above the usual services' ports. */
const DRAW_FROM = 15_000;
const drawTo = ephemeralLow();

const listenOn = (port: number): Promise<number | null> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(null) : reject(err),
    );
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });

/**
 * An unused loopback port, released for a child process to take. Drawn at random from below the
 * kernel's ephemeral range (where there is room): a port from `listen(0)` comes from that range,
 * where every outgoing connection of every other suite also takes its local port, and a child lost
 * its released port before binding it (EADDRINUSE in CI, 2026-12-06). Below it only another
 * `freePort` draw can land on the same port — one in thousands.
 */
export async function freePort(): Promise<number> {
  if (drawTo !== null && drawTo - DRAW_FROM >= 5_000) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await listenOn(DRAW_FROM + Math.floor(Math.random() * (drawTo - DRAW_FROM)));
      if (port !== null) return port;
    }
  }
  const port = await listenOn(0);
  if (port === null) throw new Error('no free loopback port');
  return port;
}

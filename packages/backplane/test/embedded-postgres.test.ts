import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/embedded-postgres.js';
import type { EmbeddedPostgres } from '../src/embedded-postgres.js';

/** A hand-driven wire-protocol client, to send one message at a time as no driver would. */
class RawClient {
  #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  constructor(url: string) {
    const { port } = new URL(url);
    this.#socket = connect(Number(port), '127.0.0.1');
    this.#socket.on('data', (d) => {
      this.#buffer = Buffer.concat([this.#buffer, d]);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static message(type: string, ...parts: Buffer[]): Buffer {
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(5);
    head.write(type, 0);
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }

  send(...messages: Buffer[]) {
    this.#socket.write(Buffer.concat(messages));
  }

  /** Resolves with every message up to and including the next ReadyForQuery. */
  async untilReady(): Promise<{ type: string; body: Buffer }[]> {
    for (;;) {
      const out: { type: string; body: Buffer }[] = [];
      let pos = 0;
      while (pos + 5 <= this.#buffer.length) {
        const end = pos + 1 + this.#buffer.readInt32BE(pos + 1);
        if (end > this.#buffer.length) break;
        out.push({
          type: String.fromCharCode(this.#buffer[pos]!),
          body: this.#buffer.subarray(pos + 5, end),
        });
        pos = end;
        if (out.at(-1)!.type === 'Z') {
          this.#buffer = this.#buffer.subarray(pos);
          return out;
        }
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async start() {
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const head = Buffer.alloc(8);
    head.writeInt32BE(params.length + 8, 0);
    head.writeInt32BE(196608, 4);
    this.send(Buffer.concat([head, params]));
    await this.untilReady();
  }

  close() {
    this.#socket.destroy();
  }
}

const z = (s: string) => Buffer.from(`${s}\0`);
const int16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const parse = (sql: string) => RawClient.message('P', z(''), z(sql), int16(0));
const bind = () => RawClient.message('B', z(''), z(''), int16(0), int16(0), int16(0));
const execute = () => RawClient.message('E', z(''), Buffer.from([0, 0, 0, 0]));
const sync = () => RawClient.message('S');
/** The text of the first column of each DataRow. */
const values = (msgs: { type: string; body: Buffer }[]) =>
  msgs.filter((m) => m.type === 'D').map((m) => m.body.subarray(6, 6 + m.body.readInt32BE(2)).toString());

describe('embedded PostgreSQL (PGlite served on a loopback port)', () => {
  let dir: string;
  let server: EmbeddedPostgres;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crucible-pg-'));
    server = await startEmbeddedPostgres({ dataDir: dir });
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("never lets one connection's extended-protocol batch run inside another's", async () => {
    const a = new RawClient(server.url);
    const b = new RawClient(server.url);
    await Promise.all([a.start(), b.start()]);
    // A parses its unnamed statement, then B sends a whole batch before A binds it.
    a.send(parse("select 'from a'"));
    b.send(parse("select 'from b'"), bind(), execute(), sync());
    await new Promise((r) => setTimeout(r, 100));
    a.send(bind(), execute(), sync());
    const [fromA, fromB] = await Promise.all([a.untilReady(), b.untilReady()]);
    expect(values(fromA)).toEqual(['from a']);
    expect(values(fromB)).toEqual(['from b']);
    a.close();
    b.close();
  });

  it('answers many pooled clients at once, each with its own rows, past a failing query', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 8 });
    const results = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        if (i % 10 === 0)
          return pool.query('select * from no_such_table').then(
            () => 'ok',
            () => 'error',
          );
        const { rows } = await pool.query<{ v: number; t: string }>('select $1::int as v, $2::text as t', [
          i,
          `n${i}`,
        ]);
        return rows[0]!.v === i && rows[0]!.t === `n${i}` ? 'ok' : 'wrong';
      }),
    );
    expect(results.filter((r) => r === 'error')).toHaveLength(12);
    expect(results.filter((r) => r === 'ok')).toHaveLength(108);
    await pool.end();
  });

  it('keeps a transaction to its own connection until it ends', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 4 });
    await pool.query('create table t (n int)');
    const tx = await pool.connect();
    await tx.query('begin');
    await tx.query('insert into t values (1)');
    const outside = pool.query<{ c: string }>('select count(*) as c from t');
    await tx.query('rollback');
    tx.release();
    expect((await outside).rows[0]!.c).toBe('0');
    await pool.end();
  });

  it('delivers NOTIFY to the connections that LISTEN, not to the one that ran it', async () => {
    const listener = new pg.Client({ connectionString: server.url });
    const notifier = new pg.Client({ connectionString: server.url });
    await Promise.all([listener.connect(), notifier.connect()]);
    const heard: string[] = [];
    const stray: string[] = [];
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
    notifier.on('notification', (n) => stray.push(`${n.channel}:${n.payload}`));
    await listener.query('LISTEN jobs');
    await notifier.query("select pg_notify('jobs', 'one'), pg_notify('other', 'x')");
    await expect.poll(() => heard).toEqual(['jobs:one']);
    expect(stray).toEqual([]);
    await Promise.all([listener.end(), notifier.end()]);
  });

  it('keeps its data across a restart', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query("create table kept (v text); insert into kept values ('still here')");
    await client.end();
    await server.close();
    server = await startEmbeddedPostgres({ dataDir: dir });
    const again = new pg.Client({ connectionString: server.url });
    await again.connect();
    expect((await again.query('select v from kept')).rows).toEqual([{ v: 'still here' }]);
    await again.end();
  });
});

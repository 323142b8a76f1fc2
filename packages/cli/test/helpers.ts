import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createTestDatabase, freePort } from '@crucible/db/testing';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_DIR = fileURLToPath(new URL('../', import.meta.url));
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `pnpm start`'s entry, read from the root package.json so the test follows it wherever it moves. */
function allInOneEntry(): string {
  const start = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts.start as string;
  const entry = /node --import tsx (\S+)/.exec(start)?.[1];
  if (!entry) throw new Error(`cannot find the all-in-one entry in the start script: ${start}`);
  return entry;
}

export interface Crucible {
  url: string;
  port: number;
  /** An API key of the first account. */
  token: string;
  output(): string;
  close(): Promise<void>;
}

interface Spawned {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** One of Crucible's entries (TypeScript, through tsx) as its own process. */
function spawnEntry(entry: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Processes of one deployment on the machine's PostgreSQL (a fresh database) and Redis (a fresh
 * prefix), allowed to test 127.0.0.1 only; ready once every `/health/ready` answers, with the first
 * account's API key.
 */
async function startDeployment(
  entries: Array<{ entry: string; env: Record<string, string>; ready: string }>,
  apiPort: number,
): Promise<Crucible> {
  const database = await createTestDatabase();
  const prefix = `t-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-cli-'));
  const common = {
    DATABASE_URL: database.url,
    REDIS_URL,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    CRUCIBLE_PREFIX: prefix,
    CRUCIBLE_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    TARGET_ALLOWLIST: '127.0.0.1',
  };
  const processes = entries.map((e) => spawnEntry(e.entry, { ...common, ...e.env }));
  const output = () => processes.map((p) => p.output()).join('\n');
  const url = `http://127.0.0.1:${apiPort}`;
  const close = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await database.drop();
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await Promise.all(entries.map((e, i) => waitForReady(e.ready, processes[i]!.child, output)));
    const token = await firstApiKey(url);
    return { url, port: apiPort, token, output, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The all-in-one server as its own process: api, gateway (`/ws`) and a worker on one port. */
export async function startCrucible(): Promise<Crucible> {
  const port = await freePort();
  return startDeployment(
    [{ entry: allInOneEntry(), env: { PORT: String(port) }, ready: `http://127.0.0.1:${port}/health/ready` }],
    port,
  );
}

/**
 * A distributed deployment: the api, the gateway and a worker as separate processes on ports of
 * their own. The api has no `/ws`; it tells clients the gateway's address (`PUBLIC_WS_URL`).
 */
export async function startDistributed(): Promise<Crucible & { gatewayPort: number }> {
  const [port, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  const ports = {
    PORT: String(port),
    GATEWAY_PORT: String(gatewayPort),
    WORKER_HEALTH_PORT: String(workerPort),
  };
  const at = (p: number) => `http://127.0.0.1:${p}/health/ready`;
  const deployment = await startDeployment(
    [
      {
        entry: 'apps/api/src/main.ts',
        env: { ...ports, REGISTRATION: 'open', PUBLIC_WS_URL: `ws://127.0.0.1:${gatewayPort}/ws` },
        ready: at(port),
      },
      { entry: 'apps/gateway/src/main.ts', env: ports, ready: at(gatewayPort) },
      { entry: 'apps/worker/src/main.ts', env: ports, ready: at(workerPort) },
    ],
    port,
  );
  return { ...deployment, gatewayPort };
}

async function waitForReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 110_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`a process exited early:\n${output()}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready at ${url}:\n${output()}`);
}

async function firstApiKey(url: string): Promise<string> {
  const registered = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ci@example.com', password: 'a long enough password for ci' }),
  });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const { token } = (await registered.json()) as { token: string };
  const created = await fetch(`${url}/api/auth/api-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'ci' }),
  });
  if (created.status !== 201) throw new Error(`api key: ${created.status} ${await created.text()}`);
  return ((await created.json()) as { key: string }).key;
}

/**
 * A local site to test: `/?delay=<ms>` answers after that long (without the parameter: after
 * `setDelay`'s, 0 at first, so one URL can be made slower between two tests), `/404` answers 404.
 */
export async function startTarget(): Promise<{
  url: string;
  setDelay(ms: number): void;
  close(): Promise<void>;
}> {
  let defaultDelay = 0;
  const server: Server = createServer((req, res) => {
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? defaultDelay);
    const timer = setTimeout(() => {
      res.writeHead(req.url?.startsWith('/404') ? 404 : 200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html lang="en"><head><title>target</title></head><body>hello</body></html>');
    }, delay);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    setDelay(ms) {
      defaultDelay = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exit: Promise<number | null>;
  /** Resolves once stderr matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** The CLI (from its TypeScript source unless `command` says otherwise) as a child process with pipes (what a CI log is). */
export function spawnCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd = CLI_DIR,
  command: string[] = [process.execPath, '--import', 'tsx', join(CLI_DIR, 'src/main.ts')],
): CliRun {
  const child = spawn(command[0]!, [...command.slice(1), ...args], {
    cwd,
    env: {
      ...process.env,
      NO_COLOR: undefined,
      FORCE_COLOR: undefined,
      GITHUB_ACTIONS: undefined,
      CRUCIBLE_URL: undefined,
      CRUCIBLE_TOKEN: undefined,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters) w();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern}:\n${err}\n${out}`)),
          timeoutMs,
        );
        const check = () => {
          if (pattern.test(err)) {
            clearTimeout(timer);
            resolve();
          }
        };
        waiters.push(check);
        check();
        void exit.then(() =>
          setTimeout(() => reject(new Error(`exited before ${pattern}:\n${err}\n${out}`)), 50),
        );
      });
    },
  };
}

/** Runs the CLI to its end. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
  command?: string[],
) {
  const run = spawnCli(args, env, cwd, command);
  const code = await run.exit;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** A TCP relay that can cut every connection it carries and refuse new ones for a while. */
export class DroppingRelay {
  readonly #server: TcpServer;
  readonly #sockets = new Set<Socket>();
  #refusing = false;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(upstreamPort: number) {
    this.#server = createTcpServer((client) => {
      if (this.#refusing) return void client.destroy();
      this.accepted++;
      const upstream = connect(upstreamPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as { port: number }).port;
  }

  drop(): void {
    this.#refusing = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  resume(): void {
    this.#refusing = false;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export const tempDir = () => mkdtempSync(join(tmpdir(), 'crucible-cli-out-'));

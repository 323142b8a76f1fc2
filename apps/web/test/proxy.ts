import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/**
 * A TCP relay between the browser and the server that can drop every connection and refuse new
 * ones for a while: how a test makes the dashboard's WebSocket fail for real.
 */
export class DroppingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #refusing = false;

  constructor(upstreamPort: number) {
    this.#server = createServer((client) => {
      if (this.#refusing) return void client.destroy();
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

  /** Cuts every open connection and refuses new ones until {@link resume}. */
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

/**
 * What an ingress does in distributed mode: one origin for the browser, `/ws` (the WebSocket
 * upgrade) sent to the gateway and every other request to the api.
 */
export class FrontDoor {
  readonly #server: HttpServer;
  readonly #sockets = new Set<Socket>();

  constructor(ports: { api: number; gateway: number }) {
    this.#server = createHttpServer((req, res) => {
      const upstream = httpRequest(
        { host: '127.0.0.1', port: ports.api, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
      const upstream = connect(ports.gateway, '127.0.0.1', () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2)
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        upstream.write(head);
        client.pipe(upstream).pipe(client);
      });
      this.#sockets.add(upstream);
      upstream.on('close', () => this.#sockets.delete(upstream));
      for (const socket of [client, upstream])
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

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

import WebSocket from 'ws';
import type { ClientOptions } from 'ws';

export type Frame = Record<string, any>;

/** A real `ws` client that keeps every frame it receives, in order, for tests to read one by one. */
export class TestClient {
  readonly socket: WebSocket;
  /** Every frame received, in order, with `batch` frames unwrapped into their messages. */
  readonly frames: Frame[] = [];
  /** How many `batch` frames arrived, and how many messages each carried. */
  readonly batchSizes: number[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #cursor = 0;
  #waiter: (() => void) | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.type === 'batch') {
        this.batchSizes.push(frame.messages.length);
        this.frames.push(...(frame.messages as Frame[]));
      } else this.frames.push(frame);
      this.#waiter?.();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        resolve({ code, reason: String(reason) });
        this.#waiter?.();
      }),
    );
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** The HTTP answer of an upgrade the server refuses. */
  static refusal(
    url: string,
    options: ClientOptions = {},
  ): Promise<{ status: number; contentType: string | undefined; body: Frame }> {
    const socket = new WebSocket(url, options);
    socket.on('error', () => {});
    return new Promise((resolve, reject) => {
      socket.once('open', () => {
        socket.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: JSON.parse(body),
          });
          socket.terminate();
        });
      });
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame not yet read. */
  async next(): Promise<Frame> {
    const deadline = Date.now() + 5_000;
    while (this.#cursor >= this.frames.length) {
      if (this.socket.readyState === WebSocket.CLOSED)
        throw new Error('socket closed while waiting for a frame');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no frame arrived; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.frames[this.#cursor++]!;
  }

  async nextN(n: number): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }

  /**
   * Sends a ping and returns every frame that arrived before its pong. The server writes to one
   * socket in order, so anything it sent before answering the ping is in this list.
   */
  async drain(): Promise<Frame[]> {
    this.send({ type: 'ping' });
    const before: Frame[] = [];
    for (;;) {
      const frame = await this.next();
      if (frame.type === 'pong') return before;
      before.push(frame);
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await this.closed;
  }
}

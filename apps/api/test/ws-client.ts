import WebSocket from 'ws';

/** A WebSocket client that records every frame it receives. */
export class WsClient {
  readonly frames: Record<string, unknown>[] = [];
  readonly ws: WebSocket;
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
      if (frame.type === 'batch') this.frames.push(...(frame.messages as Record<string, unknown>[]));
      else this.frames.push(frame);
    });
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(frame: object) {
    this.ws.send(JSON.stringify(frame));
  }
  events(channel: string) {
    return this.frames.filter((f) => f.channel === channel && typeof f.event === 'string');
  }
  close() {
    this.ws.close();
  }
}

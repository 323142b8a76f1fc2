/** Where a subscribe resumes a channel: after `offset` of `epoch` (the current epoch without one). */
export interface Since {
  epoch?: string;
  offset: number;
}

/** Most message ids one `ack` frame carries (a thousand UUIDs fit the gateway's 64 KiB frame limit). */
export const ACK_IDS_MAX = 1_000;

/**
 * How long `@crucible/client` gathers the acknowledgements of handled messages into one frame, by
 * default: the gateway's own batching window, so a socket writes about as many frames as it reads.
 */
export const DEFAULT_ACK_DELAY_MS = 100;

/**
 * What a client sends the gateway, as JSON text (DESIGN.md, "WebSocket protocol"). An `ack` names one
 * message (`id`) or several (`ids`, 1 to {@link ACK_IDS_MAX}): a client that handles messages faster
 * than it wants to write frames acknowledges them together, one frame for many.
 */
export type ClientFrame =
  | { type: 'subscribe'; channel: string; since?: Since }
  | { type: 'unsubscribe'; channel: string }
  | { type: 'ping' }
  | { type: 'ack'; id: string }
  | { type: 'ack'; ids: string[] };

import type { ChannelMessage, CrucibleSocket } from '@crucible/client';
import { Channels, Events, FINISHED_STATUSES, channelName } from '@crucible/contracts';
import type { TestDetail } from '@crucible/contracts/api';
import type { Connection } from './connection.js';
import { CliError, ExitCode } from './exit-codes.js';

/** One step of a test's life as the progress views show it. */
export type ProgressUpdate =
  | { kind: 'queued'; position: number | null; etaSeconds: number | null }
  | { kind: 'started'; attempt: number }
  | { kind: 'progress'; percent: number; stage: string }
  | { kind: 'connection'; state: 'lost' | 'resumed'; offset: number | undefined };

export interface FollowOptions {
  onUpdate(update: ProgressUpdate): void;
  /** Give up (and cancel the test) after this long. @defaultValue none */
  timeoutMs?: number;
  /** Stops following at once (Ctrl-C): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** How often the test is also read over HTTP, in case the socket is down or missed the end. @defaultValue 5 s */
const POLL_MS = 5_000;

/** `request 2/5`, `load`: the engine's stage with the iteration it reports, if any. */
export function stageText(data: Record<string, unknown>): string {
  const stage = typeof data.stage === 'string' ? data.stage : 'running';
  const { iteration, of } = data;
  return typeof iteration === 'number' && typeof of === 'number' ? `${stage} ${iteration}/${of}` : stage;
}

const isFinished = (status: string) => (FINISHED_STATUSES as readonly string[]).includes(status);

/**
 * Follows a test until it finishes: its progress channel over the WebSocket from offset 0 (the
 * socket resumes from its last offset after a drop), and its record over HTTP every few seconds so
 * a socket that stays down, or a history the gateway no longer has, only delays the end. Resolves
 * with the finished test as the API returns it.
 */
export async function followTest(
  connection: Connection,
  testId: string,
  options: FollowOptions,
): Promise<TestDetail> {
  const socket = connection.socket();
  const seen = new Set<string>();
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const ended = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let lost = false;
  const subscription = socket.subscribe(
    channelName(Channels.TEST_PROGRESS, { testId }),
    (message: ChannelMessage) => {
      if (seen.has(message.id)) return;
      seen.add(message.id);
      onMessage(message, options, finish);
    },
    { since: { offset: 0 }, onError: (err) => fail(new CliError(ExitCode.UNREACHABLE, err.message)) },
  );
  socket.on('close', ({ code, reason, willReconnect }) => {
    if (!willReconnect && code !== 1000) {
      fail(new CliError(ExitCode.UNREACHABLE, `the WebSocket was closed (${code} ${reason})`));
    } else if (willReconnect && !lost) {
      lost = true;
      options.onUpdate({ kind: 'connection', state: 'lost', offset: subscription.position?.offset });
    }
  });
  socket.on('open', () => {
    if (!lost) return;
    lost = false;
    options.onUpdate({ kind: 'connection', state: 'resumed', offset: subscription.position?.offset });
  });
  const stopPolling = poll(connection, testId, options, finish, fail);
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => fail(new TimeoutError(options.timeoutMs!)), options.timeoutMs);
  const onAbort = () => fail(options.signal!.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await ended;
    return await connection.call('getTest', { params: { jobId: testId } });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    stopPolling();
    subscription.unsubscribe();
    socket.close();
  }
}

/** `--timeout` ran out before the test finished. */
export class TimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the test did not finish within ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'TimeoutError';
  }
}

function onMessage(message: ChannelMessage, options: FollowOptions, finish: () => void): void {
  const data = (message.data ?? {}) as Record<string, unknown>;
  switch (message.event) {
    case Events.TEST_STARTED:
      options.onUpdate({ kind: 'started', attempt: typeof data.attempt === 'number' ? data.attempt : 1 });
      return;
    case Events.TEST_PROGRESS:
      options.onUpdate({
        kind: 'progress',
        percent: typeof data.progress === 'number' ? data.progress : 0,
        stage: stageText(data),
      });
      return;
    case Events.TEST_COMPLETED:
    case Events.TEST_FAILED:
    case Events.TEST_CANCELLED:
      finish();
      return;
    default:
      return;
  }
}

/** Reads the test over HTTP now and every {@link POLL_MS}: queue position while queued, and the end. */
function poll(
  connection: Connection,
  testId: string,
  options: FollowOptions,
  finish: () => void,
  fail: (err: unknown) => void,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      const test = await connection.call('getTest', { params: { jobId: testId } });
      if (stopped) return;
      if (isFinished(test.status)) return finish();
      if (test.status === 'queued') {
        options.onUpdate({ kind: 'queued', position: test.queuePosition, etaSeconds: test.etaSeconds });
      }
    } catch (err) {
      // Unreachable for a moment is what the socket's reconnects ride out too; a refusal is final.
      if (!(err instanceof CliError) || !err.transient) return fail(err);
    }
    if (!stopped) timer = setTimeout(() => void tick(), POLL_MS);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export type { CrucibleSocket };

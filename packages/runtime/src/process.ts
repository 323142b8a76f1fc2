export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  fatal?(obj: object | string, msg?: string): void;
}

/**
 * What a process's exit code tells an orchestrator (documented in DESIGN.md, "Deployment").
 * 0 after a complete drain; 1 for a crash, a failed start or a failed shutdown; 3 when the drain
 * bound cut work short (jobs handed back to the queue, connections dropped); 78 (sysexits
 * EX_CONFIG) for invalid configuration, which a restart will not fix.
 */
export const ExitCodes = { OK: 0, FAILURE: 1, DRAIN_TIMEOUT: 3, CONFIG: 78 } as const;
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

export interface ShutdownOptions {
  /** The drain bound (`SHUTDOWN_TIMEOUT_MS`): logged as `timeoutMs` when the first signal arrives. */
  timeoutMs: number;
  /**
   * Past the bound, how long `stop` may take to hand work back and close connections before the
   * process exits 3 regardless. @defaultValue 5000
   */
  graceMs?: number;
  /**
   * A second SIGINT/SIGTERM while stopping (a second Ctrl-C): stop waiting for in-flight work, e.g.
   * hand running tests back to the queue now. @defaultValue nothing: later signals are ignored
   */
  onRepeat?: () => void;
}

/**
 * SIGTERM/SIGINT: run `stop` once, within the bound. Exits with what `stop` resolves to (0 when it
 * resolves nothing), 1 when it fails, 3 when it does not finish in time.
 */
export function handleShutdown(
  log: Logger,
  stop: () => Promise<ExitCode | void>,
  options: ShutdownOptions,
): void {
  const { timeoutMs, graceMs = 5_000 } = options;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.info({ signal }, 'signal received again');
      options.onRepeat?.();
      return;
    }
    stopping = true;
    log.info({ signal, timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs, graceMs }, 'shutdown timed out');
      process.exit(ExitCodes.DRAIN_TIMEOUT);
    }, timeoutMs + graceMs);
    timer.unref();
    stop().then(
      (code) => {
        log.info({ exitCode: code ?? ExitCodes.OK }, 'stopped');
        process.exit(code ?? ExitCodes.OK);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(ExitCodes.FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Logs an uncaught exception or unhandled rejection through the process's logger (so it reaches
 * the log pipeline as one JSON line) and exits 1; the orchestrator restarts the process.
 */
export function exitOnCrash(log: Logger): void {
  const crash = (err: unknown, origin: string) => {
    (log.fatal ?? log.error).call(log, { err, origin }, 'crashed');
    process.exit(ExitCodes.FAILURE);
  };
  process.on('uncaughtException', (err) => crash(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => crash(reason, 'unhandledRejection'));
}

/** Resolves true when `work` settles within `ms`, false when the bound passes first (work goes on). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true), bound]);
  } finally {
    clearTimeout(timer);
  }
}

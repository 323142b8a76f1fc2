import { pino } from 'pino';
import type { Logger, LoggerOptions } from 'pino';

export type LogFormat = 'json' | 'pretty';

export interface CreateLoggerOptions {
  /** The process (`api`, `worker`, `gateway`), logged as `name` on every line. */
  name: string;
  level: string;
  format: LogFormat;
  /** Paths whose values never reach the logs (tokens, cookies). */
  redact?: string[];
  serializers?: LoggerOptions['serializers'];
}

/**
 * The logger of a process: one JSON object per line (what log collectors parse) in production,
 * pino-pretty for a person at a terminal. pino-pretty is a dev dependency, imported only when
 * asked for, so production images do not carry it.
 */
export async function createLogger(options: CreateLoggerOptions): Promise<Logger> {
  const base: LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: options.redact ?? [],
    ...(options.serializers ? { serializers: options.serializers } : {}),
  };
  // Synchronous writes: the last lines before process.exit ("stopped", a crash) are never lost.
  if (options.format === 'json') return pino(base, pino.destination({ dest: 1, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  return pino(
    base,
    pretty({ colorize: process.stdout.isTTY, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }),
  );
}

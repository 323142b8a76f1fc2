import { pino } from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import { LogController } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';

export type LogFormat = 'json' | 'pretty';

export interface CreateLoggerOptions {
  /** The process (`api`, `worker`, `gateway`, `crucible` for all-in-one), logged as `name` on every line. */
  name: string;
  level: string;
  format: LogFormat;
  /** Paths whose values never reach the logs (tokens, cookies). */
  redact?: string[];
  serializers?: LoggerOptions['serializers'];
}

/** The key under which `logRequests` puts a request's fields; pino-pretty leaves it out of its line. */
const REQUEST_FIELDS = 'http';

/**
 * The logger of every process, in every mode: one JSON object per line (what log collectors parse)
 * in production, pino-pretty for a person at a terminal. pino-pretty is a dev dependency, imported
 * only when asked for, so production images do not carry it.
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
    pretty({
      colorize: process.stdout.isTTY,
      // A request's id and fields would each add a line under its one-line summary.
      ignore: `pid,hostname,reqId,${REQUEST_FIELDS}`,
      translateTime: 'SYS:HH:MM:ss.l',
      sync: true,
    }),
  );
}

const CREDENTIAL_PARAM = /([?&](?:token|ticket|share)=)[^&#]*/gi;

/** A URL with its `token` and `ticket` query parameters (credentials) redacted. */
export function redactUrl(url: string): string {
  return url.replace(CREDENTIAL_PARAM, '$1[REDACTED]');
}

type Request = FastifyRequest;

/**
 * One log line per request, `GET /api/tests 200 3 ms`, where Fastify writes two ("incoming
 * request", "request completed") and a third for a 404 or a 4xx error; its fields go under `http`
 * for collectors. A route's `logLevel` still applies (health checks log nothing at info).
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: Request, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const url = redactUrl(request.url);
    const ms = Math.round(reply.elapsedTime);
    const fields = {
      [REQUEST_FIELDS]: {
        method: request.method,
        url,
        statusCode: reply.statusCode,
        responseTimeMs: ms,
        remoteAddress: request.ip,
      },
    };
    const line = `${request.method} ${url} ${reply.statusCode} ${ms} ms`;
    if (error) request.log.error({ ...fields, err: error }, line);
    else request.log.info(fields, line);
  }

  override routeNotFound(): void {}

  override defaultErrorLog(error: Error, request: Request, reply: FastifyReply): void {
    // A 4xx is in the request's line already; a 5xx also gets its error and stack.
    if (reply.statusCode >= 500) super.defaultErrorLog(error, request, reply);
  }
}

/** Fastify's `logController` of every app: one line per request. */
export function requestLogController(): LogController {
  return new OneLinePerRequest();
}

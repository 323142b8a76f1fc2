import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { isConnectionError } from '@crucible/db';
import { JSON_MAX_DEPTH, exceedsJsonDepth } from '@crucible/runtime';

/** An error that becomes an `application/problem+json` response with a stable `code`. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    options?: { cause?: unknown; headers?: Record<string, string>; extensions?: Record<string, unknown> },
  ) {
    super(detail ?? title, options);
    this.headers = options?.headers;
    this.extensions = options?.extensions;
  }

  /** Sent with the problem (`Retry-After` of a 429). */
  readonly headers: Record<string, string> | undefined;
  /** Members of the problem beyond the standard ones (RFC 9457 extensions: `expression`, `metrics`). */
  readonly extensions: Record<string, unknown> | undefined;
}

export const notFound = (what = 'Test') =>
  new HttpProblem(404, 'NOT_FOUND', 'Not Found', `${what} not found`);
export const forbidden = (detail = 'Administrators only') =>
  new HttpProblem(403, 'FORBIDDEN', 'Forbidden', detail);
export const unauthorized = () =>
  new HttpProblem(401, 'UNAUTHORIZED', 'Unauthorized', 'A valid bearer token or API key is required');

/** True for errors that mean a dependency (PostgreSQL, Redis) is unreachable right now. */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // PostgreSQL (and socket error codes): the one list the worker's write retries use too.
  if (isConnectionError(err)) return true;
  // Redis, as ioredis words it.
  return /Stream isn't writeable|enableOfflineQueue|Connection is closed|ECONNREFUSED/i.test(err.message);
}

/**
 * Fastify's JSON body parser (prototype poisoning refused), behind a bound on nesting depth: a body
 * nested thousands deep would overflow the stack of whatever walks it (schema validation first),
 * so it is refused with 400 `JSON_TOO_DEEP` before it is parsed.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (exceedsJsonDepth(body as string)) {
      done(
        new HttpProblem(
          400,
          'JSON_TOO_DEEP',
          'Bad Request',
          `the JSON body nests arrays and objects deeper than ${JSON_MAX_DEPTH} levels`,
        ),
        undefined,
      );
      return;
    }
    parse(request, body as string, done);
  });
}

/** One error handler for the whole API: everything becomes problem+json, 5xx internals stay hidden. */
export function registerProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpProblem | Error, request, reply) => {
    let status: number;
    let code: string;
    let title: string;
    let detail: string;
    let extensions: Record<string, unknown> | undefined;
    if (error instanceof HttpProblem) {
      ({ status, code, title, extensions } = error);
      detail = error.message;
      if (error.headers) reply.headers(error.headers);
    } else if ('validation' in error && error.validation) {
      status = 400;
      title = 'Bad Request';
      ({ code, detail } = describeValidation(error.validation, error.validationContext, error.message));
    } else if ('statusCode' in error && error.statusCode && error.statusCode < 500) {
      status = error.statusCode;
      code = error.code ?? 'BAD_REQUEST';
      title = statusTitle(status);
      detail = error.message;
    } else if (isUnavailable(error)) {
      status = 503;
      code = 'SERVICE_UNAVAILABLE';
      title = 'Service Unavailable';
      detail = 'A backing service is unavailable; try again shortly';
      request.log.warn({ err: error }, 'dependency unavailable');
    } else {
      status = 500;
      code = 'INTERNAL';
      title = 'Internal Server Error';
      detail = 'An unexpected error occurred';
      request.log.error({ err: error }, 'request failed');
    }
    if (status === 503) reply.header('retry-after', '5');
    return reply
      .code(status)
      .type('application/problem+json')
      .send({ type: 'about:blank', title, status, detail, code, ...extensions });
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `Route ${request.method} ${request.url.split('?')[0]} not found`,
        code: 'ROUTE_NOT_FOUND',
      }),
  );
}

/** A dotted path of where the error is, `config.steps.0.name`, or '' for the whole value. */
const dotted = (instancePath: string) => instancePath.split('/').filter(Boolean).join('.');

/**
 * One line per bad request. Ajv, with `allErrors` off, stops at the first error, except that a
 * union reports every branch; our unions are tagged (`DiscriminatedUnion`), so Ajv already checked
 * only the branch the tag picks, and a missing or unknown tag is one error — said here as the
 * allowed values. Errors inside a test's `config` (also a
 * monitor's `test.config`) keep the code `INVALID_CONFIG`.
 */
export function describeValidation(
  errors: readonly FastifySchemaValidationError[],
  context: string | undefined,
  fallback: string,
): { code: string; detail: string } {
  const first = errors[0];
  if (!first) return { code: 'VALIDATION_ERROR', detail: fallback };
  const where = dotted(first.instancePath);
  // A monitor's `test` is a test's submission: its config errors are the same.
  const code = /^(test\.)?config(\.|$)/.test(where) ? 'INVALID_CONFIG' : 'VALIDATION_ERROR';
  if (first.keyword === 'discriminator') {
    const { tag, tagValue } = first.params as { tag: string; tagValue?: unknown };
    const branches = ((first as { parentSchema?: { oneOf?: unknown[] } }).parentSchema?.oneOf ?? []) as {
      properties?: Record<string, { const?: unknown }>;
    }[];
    const allowed = branches.map((b) => b.properties?.[tag]?.const).filter((v) => typeof v === 'string');
    const name = where ? `${where}.${tag}` : tag;
    const got = tagValue === undefined ? 'is missing' : `${JSON.stringify(tagValue)} is not one of them`;
    return { code, detail: `${name} must be one of: ${allowed.join(', ')} (${got})` };
  }
  const subject = where ? `${context ?? 'body'}.${where}` : (context ?? 'body');
  if (first.keyword === 'additionalProperties') {
    const { additionalProperty } = first.params as { additionalProperty: string };
    return { code, detail: `${subject} has no property ${JSON.stringify(additionalProperty)}` };
  }
  return { code, detail: `${subject} ${first.message ?? 'is invalid'}` };
}

function statusTitle(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
  };
  return titles[status] ?? 'Error';
}

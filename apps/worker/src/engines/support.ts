import { Egress, decodeBody } from '@crucible/egress';
import type { EgressResponse } from '@crucible/egress';
import { throwIfRefused } from '../errors.js';
import { sharedParserPool } from '../parsing/parser-pool.js';
import type { ParserPool } from '../parsing/parser-pool.js';
import type { EngineContext } from './engine.js';

/** The context's guard, or one that reaches public addresses only. */
export function egressOf(ctx: EngineContext): Egress {
  return ctx.http ?? new Egress();
}

/** The context's parsing threads, or the process's shared pool. */
export function parserOf(ctx: EngineContext): ParserPool {
  return ctx.parser ?? sharedParserPool();
}

/** The target parsed and checked by the guard; a refused one fails the test at once (never retried). */
export function checkedTarget(egress: Egress, url: string): URL {
  try {
    return egress.checkUrl(url);
  } catch (err) {
    throwIfRefused(err);
    throw err;
  }
}

/** A single header's value (several joined with `, `), or null. */
export function header(res: Pick<EgressResponse, 'headers'>, name: string): string | null {
  const value = res.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The body decompressed and read as UTF-8 text (the charset of nearly every page). */
export function bodyText(res: EgressResponse, maxBytes: number): string {
  return decodeBody(res.body, res.headers['content-encoding'], maxBytes).toString('utf8');
}

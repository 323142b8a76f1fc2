import type { JsonSelection, PathMatch } from '../../parsing/json-select.js';
import type { EngineContext } from '../engine.js';
import { parserOf } from '../support.js';

/** The first match of the i-th path, undefined when none (or the body is not JSON). */
export type Match = (i: number) => unknown;

/**
 * The body searched for `paths`. It is parsed (and searched) only when a path asks for it, and
 * never on the event loop; null when no path does.
 */
export async function selectPaths(
  text: string,
  paths: string[],
  ctx: EngineContext,
): Promise<JsonSelection | null> {
  if (paths.length === 0) return null;
  return parserOf(ctx).run({ kind: 'json-select', text, paths }, ctx.signal);
}

/** Reads a selection's matches; a path that could not be evaluated throws its error when read. */
export function matcher(selection: JsonSelection | null): Match {
  return (i) => {
    const found: PathMatch | undefined = selection?.matches[i];
    if (found && 'error' in found) throw new Error(found.error);
    return found?.value;
  };
}

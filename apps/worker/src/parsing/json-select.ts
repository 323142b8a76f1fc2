import { JSONPath } from 'jsonpath-plus';

/** A JSON path's first match, or undefined: `$.items[0].id`, `$..name`. Script filters are off. */
export function jsonPath(data: unknown, path: string): unknown {
  const found = JSONPath({ path, json: data as object, wrap: true, eval: false }) as unknown[];
  return found[0];
}

/** One path's first match (`value` absent when it matched nothing), or why it could not be read. */
export type PathMatch = { value?: unknown } | { error: string };

export interface JsonSelection {
  /** Why the text is not JSON; null when it parsed, or was empty (an empty body matches nothing). */
  error: string | null;
  /** Per path, in order; empty when the text is not JSON. */
  matches: PathMatch[];
}

/** Parses a response body as JSON and reads the given paths out of it. */
export function selectJson(text: string, paths: string[]): JsonSelection {
  if (text === '') return { error: null, matches: paths.map(() => ({})) };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err), matches: [] };
  }
  return {
    error: null,
    matches: paths.map((path) => {
      try {
        const value = jsonPath(json, path);
        return value === undefined ? {} : { value };
      } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
      }
    }),
  };
}

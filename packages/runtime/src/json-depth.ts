/**
 * Deepest nesting of arrays and objects accepted in JSON from a client (HTTP bodies, WebSocket
 * frames). Far beyond any real request; low enough that code walking the value recursively (schema
 * validation, interpolation) cannot run out of stack.
 */
export const JSON_MAX_DEPTH = 64;

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`, found by one pass over the
 * characters, before anything is parsed (brackets inside strings do not count).
 */
export function exceedsJsonDepth(text: string, maxDepth: number = JSON_MAX_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Replaces `{{name}}` with captured variables; an unknown name is an error naming it. */
export function interpolate(value: string, vars: Record<string, unknown>): string {
  return value.replace(/\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`variable {{${name}}} is not defined by an earlier step`);
    const v = vars[name];
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

/** {@link interpolate} on every string inside a JSON value, keys left as they are. */
export function interpolateDeep(value: unknown, vars: Record<string, unknown>): unknown {
  if (typeof value === 'string') return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, vars)]));
  }
  return value;
}

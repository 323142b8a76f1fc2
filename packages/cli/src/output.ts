import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/** How the command writes: colours, a live terminal or plain lines for a CI log. */
export interface Output {
  /** Human output: the summary, tables. */
  out: NodeJS.WritableStream;
  /** Progress, notes and errors. */
  err: NodeJS.WritableStream;
  /** stderr is a terminal: a live progress bar instead of one line per stage. */
  tty: boolean;
  colors: Colors;
  env: NodeJS.ProcessEnv;
}

/**
 * Colour when the stream is a terminal, unless `NO_COLOR` is set to anything (no-color.org);
 * `FORCE_COLOR` (not `0`) turns it on for logs that render ANSI colours.
 */
export function colorsEnabled(env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0';
  return isTty;
}

export function processOutput(env: NodeJS.ProcessEnv = process.env): Output {
  const tty = Boolean(process.stderr.isTTY) && env.TERM !== 'dumb';
  return {
    out: process.stdout,
    err: process.stderr,
    tty,
    colors: pc.createColors(colorsEnabled(env, Boolean(process.stdout.isTTY))),
    env,
  };
}

/** `75 s` → `1m15s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

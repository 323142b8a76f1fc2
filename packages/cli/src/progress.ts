import { MultiBar, Presets } from 'cli-progress';
import type { SingleBar } from 'cli-progress';
import type { ProgressUpdate } from './follow.js';
import { formatSeconds } from './output.js';
import type { Output } from './output.js';

/** How often a plain log gets a line when the stage does not change. @defaultValue 5 s */
const PLAIN_EVERY_MS = 5_000;

/** One test's progress on screen. */
export interface ProgressLine {
  update(update: ProgressUpdate): void;
  /** The test ended: the bar stays at its last state. */
  done(text: string): void;
}

/** Every test the command follows: bars in a terminal, plain lines in a log, nothing with --quiet. */
export interface ProgressBoard {
  track(name: string): ProgressLine;
  stop(): void;
}

export function createProgressBoard(
  output: Output,
  options: { quiet: boolean; names: string[] },
): ProgressBoard {
  if (options.quiet) return { track: () => ({ update() {}, done() {} }), stop() {} };
  return output.tty ? new TerminalBoard(output, options.names) : new PlainBoard(output, options.names);
}

/** A live bar per test (cli-progress) with the stage, elapsed time and ETA. */
class TerminalBoard implements ProgressBoard {
  readonly #bars: MultiBar;
  readonly #width: number;

  constructor(output: Output, names: string[]) {
    this.#width = Math.min(20, Math.max(...names.map((n) => n.length), 1));
    const c = output.colors;
    this.#bars = new MultiBar(
      {
        stream: output.err,
        format: `{name} ${c.cyan('{bar}')} {percentage}% | {stage} | {duration_formatted} | ETA {left}`,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
        etaBuffer: 20,
        fps: 10,
        barsize: 20,
      },
      Presets.shades_classic,
    );
  }

  track(name: string): ProgressLine {
    const label = name.length > this.#width ? `${name.slice(0, this.#width - 1)}…` : name.padEnd(this.#width);
    const bar: SingleBar = this.#bars.create(100, 0, { name: label, stage: 'submitted', left: '–' });
    const startedAt = Date.now();
    let percent = 0;
    return {
      update: (u) => {
        if (u.kind === 'progress') percent = u.percent;
        bar.update(percent, { stage: terminalStage(u), left: etaText(startedAt, percent) });
      },
      done: (text) => {
        bar.update(text === 'completed' ? 100 : percent, { stage: text, left: '–' });
        bar.stop();
      },
    };
  }

  stop(): void {
    this.#bars.stop();
  }
}

/** What is left at the pace so far; a dash until there is a pace. */
function etaText(startedAt: number, percent: number): string {
  if (percent <= 0 || percent >= 100) return '–';
  const elapsed = (Date.now() - startedAt) / 1000;
  return formatSeconds((elapsed * (100 - percent)) / percent);
}

function terminalStage(u: ProgressUpdate): string {
  switch (u.kind) {
    case 'queued':
      return u.position === null ? 'queued' : `queued #${u.position}`;
    case 'started':
      return u.attempt > 1 ? `attempt ${u.attempt}` : 'started';
    case 'progress':
      return u.stage;
    case 'connection':
      return u.state === 'lost' ? 'reconnecting…' : 'resumed';
  }
}

/**
 * One line per change of stage, or every {@link PLAIN_EVERY_MS} while it stays, and nothing but
 * printable text: what a CI log shows well.
 */
class PlainBoard implements ProgressBoard {
  readonly #output: Output;
  readonly #prefix: boolean;

  constructor(output: Output, names: string[]) {
    this.#output = output;
    this.#prefix = names.length > 1;
  }

  track(name: string): ProgressLine {
    const startedAt = Date.now();
    let lastLine = '';
    let lastStage = '';
    let lastAt = 0;
    /** A changed stage always gets its line; the same one again only every PLAIN_EVERY_MS. */
    const write = (text: string, force: boolean) => {
      const now = Date.now();
      if (!force && (text === lastLine || now - lastAt < PLAIN_EVERY_MS)) return;
      lastLine = text;
      lastAt = now;
      const head = `[${formatSeconds((now - startedAt) / 1000).padStart(6)}]${this.#prefix ? ` ${name}:` : ''}`;
      this.#output.err.write(`${head} ${text}\n`);
    };
    return {
      update: (u) => {
        switch (u.kind) {
          case 'queued': {
            const position = u.position === null ? '' : ` (position ${u.position})`;
            const eta = u.etaSeconds === null ? '' : `, expected to finish in ${formatSeconds(u.etaSeconds)}`;
            return write(`queued${position}${eta}`, false);
          }
          case 'started':
            lastStage = '';
            return write(u.attempt > 1 ? `running, attempt ${u.attempt}` : 'running', true);
          case 'progress': {
            const left = etaText(startedAt, u.percent);
            const eta = left === '–' ? '' : `, ETA ${left}`;
            const changed = u.stage !== lastStage;
            lastStage = u.stage;
            return write(`${String(u.percent).padStart(3)}% ${u.stage}${eta}`, changed);
          }
          case 'connection':
            return write(
              u.state === 'lost'
                ? 'connection lost, reconnecting'
                : `connection back, resuming after message ${u.offset ?? 0}`,
              true,
            );
        }
      },
      done: (text) => write(text, true),
    };
  }

  stop(): void {}
}

import type { Engine, EngineContext, EngineResult } from '../engines/engine.js';

/**
 * Runs the engine `runs` times in a row within one attempt (issue 21: repeated measurements of
 * one test), reporting progress over all of them: run i of n covers [i/n, (i+1)/n] of the bar,
 * its stage prefixed with `run i/n`. Stops at the first run that throws or is aborted.
 */
export async function runRepeatedly(
  engine: Engine,
  url: string,
  config: Record<string, unknown>,
  ctx: EngineContext,
  runs: number,
): Promise<EngineResult[]> {
  const results: EngineResult[] = [];
  for (let i = 0; i < runs; i++) {
    const progress: EngineContext['progress'] =
      runs === 1
        ? ctx.progress
        : (pct, stage, data) => ctx.progress((100 * i + pct) / runs, `run ${i + 1}/${runs}: ${stage}`, data);
    results.push(await engine(url, config, { ...ctx, progress }));
    if (ctx.signal.aborted) break;
  }
  return results;
}

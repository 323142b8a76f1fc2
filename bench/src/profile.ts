// Names the hot path of a V8 CPU profile written with `BENCH_CPU_PROF=<dir> pnpm bench …`:
//   pnpm --filter @crucible/bench profile <file.cpuprofile> [top]
import { readFile } from 'node:fs/promises';
import { summarize } from './profile-summary.js';
import type { Profile } from './profile-summary.js';

const [file, top] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile <file.cpuprofile> [top]');
  process.exit(2);
}
console.log(summarize(JSON.parse(await readFile(file, 'utf8')) as Profile, Number(top ?? 20)));

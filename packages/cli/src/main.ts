#!/usr/bin/env node
import { runCli } from './program.js';

// `pnpm -s crucible …` from the repo runs this in the repo's root: paths on the command line are
// the caller's, so go back to where pnpm was called from (INIT_CWD).
if (process.env.npm_lifecycle_event === 'crucible' && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);

const code = await runCli(process.argv);
// Let stdout and stderr drain, then leave even if a socket or timer is still closing.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

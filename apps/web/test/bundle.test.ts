// @vitest-environment node
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { Rolldown } from 'vite';
import { beforeAll, describe, expect, it } from 'vitest';

const WEB_DIR = fileURLToPath(new URL('..', import.meta.url));
const REPO_ROOT = join(WEB_DIR, '../..');

/** Server-side libraries that would mean the browser downloads a server's code. */
const SERVER_ONLY = ['ioredis', 'undici', 'fastify', 'pino'];

/**
 * Where a module of the bundle comes from: an npm package (`preact`), a workspace folder
 * (`packages/contracts`), or else the id itself (the bundler's virtual modules, and what Vite puts
 * in place of a Node built-in module, `__vite-browser-external:node:fs`).
 */
function origin(id: string): string {
  const npm = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(id);
  if (npm) return npm[1]!;
  if (id.startsWith(REPO_ROOT)) return relative(REPO_ROOT, id).split(sep).slice(0, 2).join('/');
  return id;
}

/**
 * The dashboard's production bundle, built the way `pnpm build:web` builds it (its own Vite
 * config), into memory: the module list is what the browser downloads.
 */
describe('the dashboard’s bundle', () => {
  let modules: string[];

  beforeAll(async () => {
    const output = (await build({
      root: WEB_DIR,
      mode: 'production',
      logLevel: 'silent',
      // Into memory: apps/web/dist is the stamped build the other suites serve.
      build: { write: false, outDir: join(tmpdir(), 'crucible-bundle-test'), emptyOutDir: false },
    })) as Rolldown.RolldownOutput;
    modules = output.output.flatMap((item) => (item.type === 'chunk' ? item.moduleIds : []));
  }, 120_000);

  it('holds, of our code, the dashboard, @crucible/contracts and @crucible/client only', () => {
    const ours = new Set(modules.map(origin).filter((from) => /^(apps|packages)\//.test(from)));
    expect([...ours].sort()).toEqual(['apps/web', 'packages/client', 'packages/contracts']);
  });

  it('holds none of ioredis, undici, fastify, pino, and no Node built-in module', () => {
    const origins = modules.map(origin);
    // What the dashboard is made of is there: the list is not empty by mistake.
    expect(origins).toContain('preact');
    const serverSide = modules.filter((id) => {
      const from = origin(id);
      return (
        SERVER_ONLY.includes(from) ||
        from.includes('browser-external') ||
        from.startsWith('node:') ||
        isBuiltin(from)
      );
    });
    expect(serverSide).toEqual([]);
  });
});

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `pnpm --filter @crucible/web build` writes the dashboard, in this repository's layout. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/**
 * The dashboard's Content-Security-Policy: it loads and connects to nothing but its own origin
 * (the WebSocket is `/ws` on the same host, which `'self'` covers), so a dependency that reaches
 * for a CDN or a font service is refused by the browser instead of leaking who uses Crucible.
 * Inline styles set through the DOM (uPlot, the waterfall's widths) are not affected by
 * `style-src`; only `<style>` elements and `style` attributes in markup would be.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths that belong to the API and gateway: the dashboard never answers for them. */
const RESERVED = /^\/(api|ws|health|metrics|docs)(\/|$|\?)/;

/**
 * Serves the built dashboard at `/`: its files as they are, and `index.html` for any other GET
 * outside the API's paths, so that the single-page app's own URLs (`/tests/…`) load on refresh.
 * Without a build it says how to make one instead of failing the API.
 */
export async function registerDashboard(app: FastifyInstance, dir: string): Promise<void> {
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'dashboard not built: run `pnpm --filter @crucible/web build`');
    app.get('/', async (_request, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built. Run `pnpm --filter @crucible/web build` and restart.\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    // One route per built file, registered at start: unknown paths fall through to the SPA route.
    wildcard: false,
    setHeaders(res, path) {
      res.header('content-security-policy', DASHBOARD_CSP);
      // Vite puts a content hash in every asset name; index.html must always be revalidated.
      res.header(
        'cache-control',
        path.includes(`${join(dir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  app.get('/*', async (request, reply) => {
    if (RESERVED.test(request.url)) return reply.callNotFound();
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', DASHBOARD_CSP)
      .sendFile('index.html');
  });
}

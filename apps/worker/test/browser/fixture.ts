import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// Local pages for the browser engine: a page whose largest paint is a slow image and whose text is
// shoved down by a late banner, the same page without the banner, and a page that reaches for a
// canary on a refused address in every way a page can.

/** Server-side delay of the hero image: the page's LCP cannot come before it. */
export const HERO_DELAY_MS = 1_200;

const hero = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="500"><rect width="800" height="500" fill="#3366cc"/><!-- ${'x'.repeat(200_000)} --></svg>`;

function page(shift: boolean): string {
  const text = Array.from({ length: 30 }, (_, i) => `<p>Paragraph ${i} of a page that is measured.</p>`).join(
    '',
  );
  const banner = shift
    ? // After the hero arrives (1.2 s), so the page has surely painted: a change of layout before the
      // first paint is no shift, and on a loaded machine 400 ms after parsing could come before it.
      `<script>const hero = document.querySelector('img'); const shove = () => setTimeout(() => { const d = document.createElement('div'); d.style.height = '400px'; d.textContent = 'late banner'; document.body.prepend(d); }, 100); hero.complete ? shove() : hero.addEventListener('load', shove);</script>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Fixture</title><meta name="description" content="A fixture page"></head><body><h1>Fixture</h1>${text}<img src="/hero.svg" width="800" height="500" alt="hero">${banner}</body></html>`;
}

function ssrfPage(canary: string): string {
  const ws = canary.replace(/^http:/, 'ws:');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SSRF</title>
<link rel="prefetch" href="${canary}/prefetch">
<script src="${canary}/script.js"></script></head><body><h1>Reaching for the canary</h1>
<img src="${canary}/img" alt="a"><img src="/redirect" alt="b">
<iframe src="${canary}/frame"></iframe>
<script>fetch('${canary}/fetch').catch(() => {}); try { new WebSocket('${ws}/ws'); } catch {}</script>
</body></html>`;
}

/** A page that names Chromium's own services, as a hostile (or merely Google-heavy) page might. */
const PHONE_HOME = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Phone home</title>
<script src="https://accounts.google.com/gsi/client"></script></head><body><h1>Calling the browser's services</h1>
<img src="http://update.googleapis.com/service/update2/json" alt="a">
<img src="https://redirector.gvt1.com/edgedl/chrome/dict/en-us.bdic" alt="b">
<script>fetch('https://clients2.google.com/service/update2/crx').catch(() => {});</script>
</body></html>`;

export interface Site {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server, host: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The pages, on 127.0.0.1; `canary` is where the SSRF page reaches. */
export async function startSite(canary: string): Promise<Site> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/hero.svg') {
      setTimeout(() => res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(hero), HERO_DELAY_MS);
    } else if (path === '/redirect') {
      res.writeHead(302, { location: `${canary}/redirected` }).end();
    } else if (path === '/shift' || path === '/stable') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page(path === '/shift'));
    } else if (path === '/phone-home') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PHONE_HOME);
    } else if (path === '/ssrf') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(ssrfPage(canary));
    } else {
      res.writeHead(404).end();
    }
  });
  const { port, close } = await listen(server, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, close };
}

export interface Canary {
  url: string;
  /** TCP connections it accepted: the proof that nothing reached it. */
  connections(): number;
  close(): Promise<void>;
}

/** A server on a loopback address the guard refuses (127.0.0.2), counting every connection. */
export async function startCanary(): Promise<Canary> {
  let connections = 0;
  const server = createServer((_req, res) => res.end('canary'));
  server.on('connection', () => (connections += 1));
  server.on('upgrade', (_req, socket: Socket) => socket.destroy());
  const { port, close } = await listen(server, '127.0.0.2');
  return { url: `http://127.0.0.2:${port}`, connections: () => connections, close };
}

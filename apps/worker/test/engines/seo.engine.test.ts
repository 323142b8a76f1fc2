import { afterEach, describe, expect, it } from 'vitest';
import { runSeo } from '../../src/engines/seo.engine.js';
import { closeServers, closedPort, listen, recorder } from './fixtures.js';

afterEach(closeServers);

function goodPage(base: string, other: string) {
  return `<!doctype html><html lang="en"><head>
<title>Crucible fixture: a good page</title>
<meta name="description" content="A page that does everything a search engine asks for, used to test the SEO engine.">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="canonical" href="${base}/good">
<meta property="og:title" content="Good"><meta property="og:description" content="Good page">
<meta property="og:image" content="${base}/og.png"><meta property="og:url" content="${base}/good">
<meta name="twitter:card" content="summary_large_image">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"Organization"},{"@type":"WebPage"}]}</script>
</head><body><h1>Good</h1><h2>Section</h2><h3>Sub</h3><h2>Other</h2>
<img src="/logo.png" alt="Logo"><img src="/spacer.gif" alt="">
<a href="/about">About</a><a href="/good#top">Top</a><a href="${other}/partner" rel="nofollow noopener">Partner</a>
<a href="mailto:me@example.com">Mail</a></body></html>`;
}

function badPage(dead: string) {
  return `<html><head><title>${'A title far too long for any search result to show it whole'.padEnd(70, '!')}</title>
<script type="application/ld+json">{"@type": "Product",}</script></head>
<body><h1>One</h1><h3>Skipped a level</h3><h1>Two</h1>
<img src="/a.png"><img src="/b.png"><img src="/c.png" alt="C">
<a href="/missing">Missing</a><a href="/">Home</a><a href="${dead}/">Dead</a></body></html>`;
}

describe('runSeo', () => {
  it('passes a page that does everything right', async () => {
    const other = await listen((_req, res) => res.end('partner'));
    let base = '';
    const site = await listen((req, res) => {
      const routes: Record<string, [string, string]> = {
        '/good': ['text/html', goodPage(base, other.url)],
        '/about': ['text/html', '<title>About</title>'],
        '/robots.txt': ['text/plain', `User-agent: *\nDisallow: /admin\nSitemap: ${base}/sitemap.xml\n`],
        '/sitemap.xml': [
          'application/xml',
          `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>${base}/good</loc></url><url><loc>${base}/about</loc></url></urlset>`,
        ],
      };
      const route = routes[req.url!];
      if (!route) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { 'content-type': route[0] });
      res.end(req.method === 'HEAD' ? undefined : route[1]);
    });
    base = site.url;
    const rec = recorder();

    const result = await runSeo(`${site.url}/good`, { checkLinks: 20 }, rec.ctx());

    expect(Object.fromEntries(result.checks.map((c) => [c.id, c.status]))).toEqual({
      title: 'pass',
      'meta-description': 'pass',
      h1: 'pass',
      'heading-order': 'pass',
      canonical: 'pass',
      'open-graph': 'pass',
      'twitter-card': 'pass',
      'images-alt': 'pass',
      lang: 'pass',
      viewport: 'pass',
      'structured-data': 'pass',
      'broken-links': 'pass',
      'robots-txt': 'pass',
      sitemap: 'pass',
    });
    expect(result.score).toBe(100);
    expect(result.recommendations).toEqual([]);
    expect(result.checks.find((c) => c.id === 'structured-data')?.value).toEqual(['Organization', 'WebPage']);
    expect(result.checks.find((c) => c.id === 'sitemap')?.value).toEqual({
      url: `${site.url}/sitemap.xml`,
      entries: 2,
    });
    expect(result.links).toEqual({ total: 3, internal: 2, external: 1, nofollow: 1, checked: 3, broken: [] });
    expect(other.hits).toEqual(['HEAD /partner']);
    expect(rec.calls.map((c) => c.stage)).toEqual(['page', 'links', 'robots', 'sitemap']);
  });

  it('finds exactly the faults of a bad page, with recommendations', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const site = await listen((req, res) => {
      if (req.url === '/page') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(badPage(dead));
      }
      if (req.url === '/' && req.method === 'HEAD') {
        res.writeHead(405);
        return res.end();
      }
      if (req.url === '/') return res.end('home');
      res.writeHead(404);
      res.end();
    });

    const result = await runSeo(`${site.url}/page`, {}, recorder().ctx());

    expect(Object.fromEntries(result.checks.map((c) => [c.id, c.status]))).toEqual({
      title: 'warn',
      'meta-description': 'fail',
      h1: 'warn',
      'heading-order': 'warn',
      canonical: 'warn',
      'open-graph': 'warn',
      'twitter-card': 'warn',
      'images-alt': 'fail',
      lang: 'fail',
      viewport: 'fail',
      'structured-data': 'fail',
      'broken-links': 'fail',
      'robots-txt': 'warn',
      sitemap: 'warn',
    });
    const byId = Object.fromEntries(result.checks.map((c) => [c.id, c]));
    expect(byId['images-alt']!.value).toEqual(['/a.png', '/b.png']);
    expect(byId['images-alt']!.message).toBe('2 of 3 images have no alt attribute');
    expect(byId['heading-order']!.value).toEqual(['h1 → h3']);
    expect(byId.h1!.value).toEqual(['One', 'Two']);
    expect(byId['open-graph']!.value).toEqual(['og:title', 'og:description', 'og:image', 'og:url']);
    expect(byId.title!.message).toBe('the title is 70 characters long');
    const port = dead.split(':')[2];
    expect(result.links.broken).toEqual([
      { url: `${site.url}/missing`, status: 404 },
      { url: `${dead}/`, status: null, error: `connect ECONNREFUSED 127.0.0.1:${port}` },
    ]);
    expect(result.counts).toEqual({ pass: 0, warn: 8, fail: 6 });
    expect(result.score).toBe(29);
    expect(result.recommendations).toHaveLength(14);
    expect(result.recommendations[0]).toBe(
      'Add <meta name="description"> of 50–160 characters summarising the page.',
    );
    // The link that refused HEAD was fetched with GET and counted as working.
    expect(site.hits.filter((h) => h.endsWith(' /'))).toEqual(['HEAD /', 'GET /']);
  });

  it('reports a page that answers an error status, and refuses a private target at once', async () => {
    const site = await listen((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html lang="en"><title>Server error page</title></html>');
    });
    const result = await runSeo(site.url, { checkLinks: 0 }, recorder().ctx());
    expect(result.checks[0]).toMatchObject({ id: 'status', status: 'fail', value: 500 });
    await expect(runSeo('http://10.0.0.1/', {}, recorder().ctx())).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
    });
  });
});

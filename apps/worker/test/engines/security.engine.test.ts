import { afterEach, describe, expect, it } from 'vitest';
import { CORS_PROBE_ORIGIN, runSecurity } from '../../src/engines/security.engine.js';
import { closeServers, listen, listenTls, loopbackEgress, recorder } from './fixtures.js';
import type { Handler } from './fixtures.js';

afterEach(closeServers);

const GOOD_HEADERS = {
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'content-security-policy': "default-src 'self'; frame-ancestors 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), geolocation=()',
  'set-cookie': 'sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax',
};

/** A well-configured HTTPS page, whose HTML may carry plain-HTTP resources. */
const hardened =
  (html: string): Handler =>
  (req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { allow: 'GET, HEAD, OPTIONS' });
      return res.end();
    }
    if (req.method === 'TRACE') {
      res.writeHead(405);
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'text/html', ...GOOD_HEADERS });
    res.end(html);
  };

describe('runSecurity', () => {
  it('lists every weakness of a careless plain-HTTP server', async () => {
    const origins: (string | undefined)[] = [];
    const site = await listen((req, res) => {
      origins.push(req.headers.origin);
      if (req.method === 'OPTIONS') {
        res.writeHead(200, { allow: 'GET, POST, PUT, DELETE, TRACE' });
        return res.end();
      }
      if (req.method === 'TRACE') {
        res.writeHead(200, { 'content-type': 'message/http' });
        return res.end(`TRACE ${req.url} HTTP/1.1\r\nhost: ${req.headers.host}\r\n\r\n`);
      }
      res.setHeader('set-cookie', ['session=1', 'theme=dark; SameSite=None']);
      res.writeHead(200, {
        'content-type': 'text/html',
        server: 'Apache/2.4.1 (Unix)',
        'x-powered-by': 'Express',
        'referrer-policy': 'unsafe-url',
        ...(req.headers.origin
          ? { 'access-control-allow-origin': req.headers.origin, 'access-control-allow-credentials': 'true' }
          : {}),
      });
      res.end('<html><script src="http://cdn.example/a.js"></script></html>');
    });
    const rec = recorder();

    const result = await runSecurity(`${site.url}/`, {}, rec.ctx());

    expect(result.findings.map((f) => [f.id, f.severity])).toEqual([
      ['no-https', 'high'],
      ['csp-missing', 'medium'],
      ['clickjacking', 'medium'],
      ['nosniff-missing', 'low'],
      ['referrer-policy-weak', 'low'],
      ['permissions-policy-missing', 'info'],
      ['cookie-httponly:session', 'low'],
      ['cookie-samesite:session', 'low'],
      ['cookie-httponly:theme', 'low'],
      ['cookie-samesite-none:theme', 'medium'],
      ['cors-reflects-origin', 'high'],
      ['methods-advertised', 'low'],
      ['trace-enabled', 'medium'],
      ['banner:server', 'low'],
      ['banner:x-powered-by', 'low'],
    ]);
    expect(result.counts).toEqual({ high: 2, medium: 4, low: 8, info: 1 });
    expect(result.score).toBe(0);
    expect(result.tls).toBeNull();
    expect(result.cors).toEqual({ allowOrigin: CORS_PROBE_ORIGIN, allowCredentials: true });
    expect(result.methods).toEqual({ allow: 'GET, POST, PUT, DELETE, TRACE', trace: 200 });
    expect(result.cookies).toEqual([
      { name: 'session', secure: false, httpOnly: false, sameSite: null },
      { name: 'theme', secure: false, httpOnly: false, sameSite: 'none' },
    ]);
    expect(site.hits).toEqual(['GET /', 'GET /', 'OPTIONS /', 'TRACE /']);
    expect(origins[1]).toBe(CORS_PROBE_ORIGIN);
    // Mixed content only exists on https pages.
    expect(result.findings.some((f) => f.category === 'mixed-content')).toBe(false);
    expect(rec.calls.map((c) => c.stage)).toEqual(['headers', 'tls', 'cors', 'methods', 'content']);
  });

  it('reads the certificate of an https site and finds its mixed content', async () => {
    const site = await listenTls(
      hardened(`<html><script src="http://cdn.example/app.js"></script>
        <img src="http://cdn.example/logo.png"><img src="/local.png"></html>`),
      10,
    );
    const result = await runSecurity(
      `${site.url}/`,
      {},
      recorder().ctx({ http: loopbackEgress({ ca: site.cert }) }),
    );

    expect(result.findings.map((f) => [f.id, f.severity])).toEqual([
      ['tls-expiring', 'medium'],
      ['mixed-content:http://cdn.example/app.js', 'high'],
      ['mixed-content:http://cdn.example/logo.png', 'low'],
    ]);
    expect(result.score).toBe(100 - 10 - 25 - 3);
    expect(result.tls).toMatchObject({
      authorized: true,
      hostMatches: true,
      expiresInDays: 9,
      certificate: {
        subject: 'CN=crucible-fixture',
        issuer: 'CN=crucible-fixture',
        subjectAltName: 'IP Address:127.0.0.1',
      },
    });
    expect(result.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(result.headers['strict-transport-security']).toBe(GOOD_HEADERS['strict-transport-security']);
  });

  it('reports a certificate nobody trusts instead of failing on it', async () => {
    const site = await listenTls(hardened('<html></html>'), 365);
    const result = await runSecurity(`${site.url}/`, {}, recorder().ctx());
    expect(result.findings.map((f) => [f.id, f.severity, f.detail])).toEqual([
      ['tls-untrusted', 'high', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
    ]);
    expect(result.score).toBe(75);
  });

  it('refuses a private target before sending anything', async () => {
    await expect(runSecurity('https://192.168.0.1/', {}, recorder().ctx())).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      message: 'target refused: 192.168.0.1 is a private address',
    });
  });
});

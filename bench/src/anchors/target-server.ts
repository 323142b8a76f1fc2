// A trivial local web site for tests to hit: bare node:http, keep-alive, a tiny HTML page.
// GET /__served answers how many other requests it has served, so any load generator can be
// measured with the same stick: requests that reached the server.
import { createServer } from 'node:http';

const page = '<!doctype html><html lang="en"><head><title>target</title></head><body>hello</body></html>';
let served = 0;
const server = createServer((req, res) => {
  if (req.url === '/__served') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ served }));
    return;
  }
  served++;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(page),
  });
  res.end(page);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});

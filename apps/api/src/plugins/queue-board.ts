import { createHash, createHmac } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticate } from '@crucible/runtime';
import type { UsersRepository } from '@crucible/db';
import { ApiRoutes } from '@crucible/contracts/api';
import { HttpProblem, forbidden } from '../errors.js';
import { bearerOf } from './auth.js';

/** Where the board is served. */
export const QUEUE_BOARD_PATH = '/admin/queues';
const COOKIE = 'crucible_queue_board';

/**
 * The board's Content-Security-Policy: nothing from outside the origin. bull-board's page carries
 * an inline `<style>` and `style` attributes (its loading screen), hence `'unsafe-inline'` for
 * styles only; its scripts are files of its own.
 */
export const QUEUE_BOARD_CSP = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * bull-board's page links Google Fonts (IBM Plex), and no UI option turns that off: the link is
 * taken out of the page, which then uses its CSS's fallback fonts. The CSP would refuse the load
 * anyway; without the link the browser does not even try, and logs no violation.
 */
const EXTERNAL_STYLESHEET = /<link\s[^>]*href="https?:\/\/[^"]*"[^>]*>/g;

export interface QueueBoardOptions {
  /** The BullMQ queues of the tests (`tests`, `browser`), on Redis or on PostgreSQL (embedded mode). */
  queues: ConstructorParameters<typeof BullMQAdapter>[0][];
  authenticate: Authenticate;
  users: UsersRepository;
  /** JWT_SECRET; the cookie's signing key is derived from it, so every api replica accepts it. */
  secret: string;
  /** How long the board stays open after its session was created. @defaultValue 15 minutes */
  sessionTtlMs?: number;
}

/**
 * bull-board for operators at `/admin/queues`. A browser cannot send a bearer header when it
 * navigates, so an admin first calls `POST /api/admin/queue-board/session` with its token (the
 * dashboard does, or the small page at `/admin/queues/login`); the answer sets a signed cookie
 * naming the admin and an expiry: HttpOnly, SameSite=Strict (no other site can make the browser
 * send it, so the board's own actions cannot be forged), path-scoped to the board, short-lived.
 * Every board request checks the signature, the expiry and that the user is still an admin.
 */
export async function registerQueueBoard(app: FastifyInstance, opts: QueueBoardOptions): Promise<void> {
  const ttlMs = opts.sessionTtlMs ?? 15 * 60_000;
  await app.register(async (scope) => {
    await scope.register(cookie, {
      secret: createHmac('sha256', opts.secret).update('crucible:queue-board-cookie').digest('hex'),
    });

    scope.route({
      ...ApiRoutes.openQueueBoard,
      handler: async (request, reply) => {
        const user = await opts.authenticate(bearerOf(request));
        if (!user)
          throw new HttpProblem(401, 'UNAUTHORIZED', 'Unauthorized', 'A valid bearer token is required');
        if (user.role !== 'admin') throw forbidden();
        const expires = Date.now() + ttlMs;
        return reply
          .setCookie(COOKIE, `${user.id}.${expires}`, {
            signed: true,
            httpOnly: true,
            sameSite: 'strict',
            secure: 'auto',
            path: QUEUE_BOARD_PATH,
            maxAge: Math.floor(ttlMs / 1000),
          })
          .code(204)
          .send();
      },
    });
    scope.route({
      ...ApiRoutes.closeQueueBoard,
      handler: async (_request, reply) =>
        reply.clearCookie(COOKIE, { path: QUEUE_BOARD_PATH }).code(204).send(),
    });
    scope.get(`${QUEUE_BOARD_PATH}/login`, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', LOGIN_PAGE_CSP)
        .send(LOGIN_PAGE),
    );

    await scope.register(async (board) => {
      board.addHook('onSend', async (_request, reply, payload) => {
        reply.header('content-security-policy', QUEUE_BOARD_CSP);
        return typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')
          ? payload.replace(EXTERNAL_STYLESHEET, '')
          : payload;
      });
      board.addHook('onRequest', async (request, reply) => {
        if (await boardUser(request, opts)) return;
        if (request.method === 'GET' && request.headers.accept?.includes('text/html')) {
          return reply.redirect(`${QUEUE_BOARD_PATH}/login`, 303);
        }
        return problem(reply);
      });
      const serverAdapter = new FastifyAdapter().setBasePath(QUEUE_BOARD_PATH);
      createBullBoard({
        queues: opts.queues.map((queue) => new BullMQAdapter(queue)),
        serverAdapter,
        options: { uiConfig: { boardTitle: 'Crucible queue' } },
      });
      await board.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
    });
  });
}

async function boardUser(request: FastifyRequest, opts: QueueBoardOptions): Promise<boolean> {
  const raw = request.cookies[COOKIE];
  if (!raw) return false;
  const { valid, value } = request.unsignCookie(raw);
  const match = valid && value ? /^([0-9a-f-]{36})\.(\d+)$/.exec(value) : null;
  if (!match || Number(match[2]) <= Date.now()) return false;
  const user = await opts.users.findById(match[1]!);
  return user?.role === 'admin';
}

function problem(reply: FastifyReply) {
  return reply
    .code(401)
    .type('application/problem+json')
    .send({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: `POST ${ApiRoutes.openQueueBoard.url} with an admin's bearer token first`,
      code: 'UNAUTHORIZED',
    });
}

const LOGIN_STYLE = `body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.4rem 0}input{padding:.4rem}
button{padding:.5rem}#error{color:#b00020}`;

const LOGIN_SCRIPT = `
const form = document.getElementById('form');
const error = document.getElementById('error');
const detail = async (res) => (await res.json().catch(() => ({}))).detail ?? res.statusText;
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  let token = form.token.value.trim();
  if (!token) {
    const res = await fetch('${ApiRoutes.login.url}', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: form.email.value, password: form.password.value }),
    });
    if (!res.ok) return (error.textContent = await detail(res));
    token = (await res.json()).token;
  }
  const res = await fetch('${ApiRoutes.openQueueBoard.url}', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + token },
  });
  if (!res.ok) return (error.textContent = await detail(res));
  location.assign('${QUEUE_BOARD_PATH}');
});
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The sign-in page's own style and script are inline: the policy allows exactly those two. */
const LOGIN_PAGE_CSP = [
  "default-src 'self'",
  `style-src ${sha256(LOGIN_STYLE)}`,
  `script-src ${sha256(LOGIN_SCRIPT)}`,
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const LOGIN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Crucible queue board</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${LOGIN_STYLE}</style></head>
<body>
<h1>Queue board</h1>
<p>Administrators only. Sign in with your account, or paste a session token or API key.</p>
<form id="form">
<label>Email <input name="email" type="email" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<label>or token <input name="token" autocomplete="off"></label>
<button>Open the board</button>
<p id="error" role="alert"></p>
</form>
<script type="module">${LOGIN_SCRIPT}</script>
</body>
</html>
`;

import type { FastifyReply } from 'fastify';

/** Answers with a problem+json document (DESIGN.md, "Errors"). */
export function problem(reply: FastifyReply, status: number, title: string, code: string, detail: string) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title, status, detail, code });
}

/** The credential of an `Authorization: Bearer …` header, if it has one. */
export function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { ApiRoutes } from '@crucible/contracts/api';

/** Where the document (`/docs/json`, `/docs/yaml`) and its UI (`/docs`) are served. */
export const DOCS_PREFIX = '/docs';

/** Routes anyone may call; every other `/api` route needs a bearer token or API key. */
const PUBLIC_ROUTES = new Set<string>(
  [ApiRoutes.register, ApiRoutes.login, ApiRoutes.registration, ApiRoutes.meta, ApiRoutes.getShared].map(
    (r) => `${r.method} ${r.url}`,
  ),
);

/** The route table's names, as operation ids: `POST /api/test/run` is `runTest`. */
const OPERATION_IDS = new Map<string, string>(
  Object.entries(ApiRoutes).map(([name, r]) => [`${r.method} ${r.url}`, name]),
);

function tagOf(url: string): string {
  if (url.startsWith('/api/auth')) return 'auth';
  if (url.startsWith('/api/test')) return 'tests';
  if (url.startsWith('/api/admin')) return 'admin';
  return 'operations';
}

/**
 * A route's schema as the document shows it: its `documentedResponse` (route table) in place of
 * the response schemas it is served with.
 */
function asDocumented(schema: FastifySchema | undefined): FastifySchema | undefined {
  const { documentedResponse, ...served } = (schema ?? {}) as FastifySchema & {
    documentedResponse?: Record<number, unknown>;
  };
  if (!documentedResponse) return schema;
  return { ...served, response: { ...(served.response as Record<number, unknown>), ...documentedResponse } };
}

/**
 * The OpenAPI 3.1 document of the API, generated from the route schemas (never written by hand),
 * with Swagger UI. Registered before the routes so that it sees each of them. Only the JSON API
 * and the operational routes are documented: the dashboard's files, the queue board and the docs
 * themselves are not.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Crucible API',
        version,
        description:
          'Queue and follow web tests (performance, stress, api, seo, security, browser). Errors are ' +
          '`application/problem+json`; live progress is on the WebSocket gateway (`/ws`, or where `GET /api/meta` says).',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'A session token (from register or login) or an API key (`crk_…`).',
          },
        },
      },
      tags: [
        { name: 'auth', description: 'Accounts, sessions and API keys' },
        { name: 'tests', description: 'Submit tests and read their results' },
        { name: 'admin', description: 'Operators only (role admin)' },
        {
          name: 'operations',
          description: 'Version and gateway address; health and metrics, for orchestrators',
        },
      ],
    },
    transform: ({ schema, url, route }) => {
      const documented = url.startsWith('/api/') || url.startsWith('/health/') || url === '/metrics';
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const key = `${methods[0]} ${url}`;
      const extra: Record<string, unknown> = documented
        ? {
            tags: [tagOf(url)],
            ...(OPERATION_IDS.has(key) ? { operationId: OPERATION_IDS.get(key) } : {}),
            ...(url.startsWith('/api/') && !PUBLIC_ROUTES.has(key) ? { security: [{ bearer: [] }] } : {}),
          }
        : { hide: true };
      return { schema: { ...asDocumented(schema), ...extra } as FastifySchema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}

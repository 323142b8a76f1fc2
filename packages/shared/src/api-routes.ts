import { Type } from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';
import {
  AdminUsersResponse,
  ApiKeyCreate,
  ApiKeyCreated,
  ApiKeyView,
  AuthResponse,
  CacheStatsView,
  CancelParams,
  CancelResponse,
  CleanupQuery,
  CleanupResponse,
  Credentials,
  IdempotencyHeaders,
  InvitationCreate,
  InvitationCreated,
  InvitationsResponse,
  ListQuery,
  ListResponse,
  Problem,
  QueueStatusResponse,
  RegisterBody,
  RegistrationInfo,
  RerunResponse,
  RetryResponse,
  RunTestAccepted,
  RunTestBody,
  SessionView,
  TestDetail,
  TestIdParams,
  TestParams,
  UserView,
  WsTicket,
} from './api-schemas.js';

/**
 * The HTTP API's route table: the API registers each route (method, path, schemas) from here and
 * `@crucible/client` derives its typed calls from the same objects, so the two cannot drift apart.
 * Browser-safe (TypeBox only), exported with the schemas as `@crucible/shared/api`.
 */
export * from './api-schemas.js';

export const ApiKeyParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const InvitationParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const SessionParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** One HTTP route: what the API registers and what the typed client calls. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path syntax: `:name` segments are filled from `params`. */
  url: string;
  schema: {
    params?: TSchema;
    querystring?: TSchema;
    headers?: TSchema;
    body?: TSchema;
    response: Record<number, TSchema>;
  };
}

/** Every route of the HTTP API (DESIGN.md, "HTTP API"), defined once. */
export const ApiRoutes = {
  register: {
    method: 'POST',
    url: '/api/auth/register',
    schema: { body: RegisterBody, response: { 201: AuthResponse, 400: Problem, 403: Problem, 409: Problem } },
  },
  /** Who may register here, so a sign-up form can ask for an invitation only when one is needed. */
  registration: {
    method: 'GET',
    url: '/api/auth/registration',
    schema: { response: { 200: RegistrationInfo } },
  },
  login: {
    method: 'POST',
    url: '/api/auth/login',
    schema: { body: Credentials, response: { 200: AuthResponse, 401: Problem } },
  },
  me: { method: 'GET', url: '/api/auth/me', schema: { response: { 200: UserView } } },
  /** Ends the session of the calling token, at once for the api and its sockets within 15 s. */
  logout: {
    method: 'POST',
    url: '/api/auth/logout',
    schema: { response: { 204: Type.Null(), 400: Problem } },
  },
  /** Ends every session of the caller ("sign out everywhere"), the calling one included. */
  logoutAll: {
    method: 'POST',
    url: '/api/auth/logout-all',
    schema: { response: { 204: Type.Null() } },
  },
  listSessions: {
    method: 'GET',
    url: '/api/auth/sessions',
    schema: { response: { 200: Type.Array(SessionView) } },
  },
  revokeSession: {
    method: 'DELETE',
    url: '/api/auth/sessions/:id',
    schema: { params: SessionParams, response: { 204: Type.Null(), 404: Problem } },
  },
  wsTicket: { method: 'POST', url: '/api/auth/ws-ticket', schema: { response: { 201: WsTicket } } },
  createApiKey: {
    method: 'POST',
    url: '/api/auth/api-keys',
    schema: { body: ApiKeyCreate, response: { 201: ApiKeyCreated } },
  },
  listApiKeys: {
    method: 'GET',
    url: '/api/auth/api-keys',
    schema: { response: { 200: Type.Array(ApiKeyView) } },
  },
  revokeApiKey: {
    method: 'DELETE',
    url: '/api/auth/api-keys/:id',
    schema: { params: ApiKeyParams, response: { 204: Type.Null(), 404: Problem } },
  },
  runTest: {
    method: 'POST',
    url: '/api/test/run',
    schema: {
      body: RunTestBody,
      headers: IdempotencyHeaders,
      response: { 202: RunTestAccepted, 400: Problem, 422: Problem, 503: Problem },
    },
  },
  cancelTest: {
    method: 'POST',
    url: '/api/test/:testId/cancel',
    schema: { params: CancelParams, response: { 200: CancelResponse, 404: Problem, 409: Problem } },
  },
  /** "Run again": a finished test submitted anew as a new test linked to it (`rerunOf`). */
  rerunTest: {
    method: 'POST',
    url: '/api/test/:testId/rerun',
    schema: {
      params: TestParams,
      response: { 202: RerunResponse, 400: Problem, 404: Problem, 409: Problem, 503: Problem },
    },
  },
  queueStatus: {
    method: 'GET',
    url: '/api/test/queue/status',
    schema: { response: { 200: QueueStatusResponse } },
  },
  listTests: {
    method: 'GET',
    url: '/api/test/queue/jobs',
    schema: { querystring: ListQuery, response: { 200: ListResponse, 400: Problem, 403: Problem } },
  },
  getTest: {
    method: 'GET',
    url: '/api/test/queue/jobs/:jobId',
    schema: { params: TestIdParams, response: { 200: TestDetail, 404: Problem } },
  },
  /** The same as `getTest`, at the path of the test resource rather than of its queue job. */
  getTestById: {
    method: 'GET',
    url: '/api/tests/:testId',
    schema: { params: TestParams, response: { 200: TestDetail, 404: Problem } },
  },
  retryTest: {
    method: 'POST',
    url: '/api/test/queue/jobs/:jobId/retry',
    schema: { params: TestIdParams, response: { 202: RetryResponse, 404: Problem, 409: Problem } },
  },
  cleanupTests: {
    method: 'DELETE',
    url: '/api/test/queue/cleanup',
    schema: { querystring: CleanupQuery, response: { 200: CleanupResponse, 400: Problem, 403: Problem } },
  },
  cacheStats: {
    method: 'GET',
    url: '/api/admin/cache/stats',
    schema: { response: { 200: CacheStatsView, 403: Problem } },
  },
  listUsers: {
    method: 'GET',
    url: '/api/admin/users',
    schema: { response: { 200: AdminUsersResponse, 403: Problem } },
  },
  createInvitation: {
    method: 'POST',
    url: '/api/admin/invitations',
    schema: { body: InvitationCreate, response: { 201: InvitationCreated, 403: Problem } },
  },
  listInvitations: {
    method: 'GET',
    url: '/api/admin/invitations',
    schema: { response: { 200: InvitationsResponse, 403: Problem } },
  },
  revokeInvitation: {
    method: 'DELETE',
    url: '/api/admin/invitations/:id',
    schema: { params: InvitationParams, response: { 204: Type.Null(), 403: Problem, 404: Problem } },
  },
  /** Sets the short-lived, HttpOnly cookie that opens the queue board at /admin/queues to a browser. */
  openQueueBoard: {
    method: 'POST',
    url: '/api/admin/queue-board/session',
    schema: { response: { 204: Type.Null(), 401: Problem, 403: Problem } },
  },
  closeQueueBoard: {
    method: 'DELETE',
    url: '/api/admin/queue-board/session',
    schema: { response: { 204: Type.Null() } },
  },
} as const satisfies Record<string, ApiRoute>;

export type ApiRouteName = keyof typeof ApiRoutes;

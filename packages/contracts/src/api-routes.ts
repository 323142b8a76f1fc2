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
  DocumentedListResponse,
  DocumentedTestDetail,
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
  ServerMeta,
  SessionView,
  TestDetail,
  TestIdParams,
  TestParams,
  ArtifactBody,
  ArtifactParams,
  TestTypesResponse,
  UserView,
  WsTicket,
} from './api-schemas.js';
import {
  InvitationAccepted,
  InvitationTokenParams,
  MemberParams,
  MemberUpdate,
  MembersResponse,
  QuotaOverrides,
  WorkspaceCreate,
  WorkspaceInvitationCreate,
  WorkspaceInvitationParams,
  PendingInvitationsResponse,
  WorkspaceParams,
  WorkspaceQuotasView,
  WorkspaceUpdate,
  WorkspaceUsage,
  WorkspaceView,
  WorkspacesResponse,
} from './workspace-schemas.js';
import {
  AuditQuery,
  AuditResponse,
  ShareCreate,
  ShareCreated,
  ShareRevokeParams,
  ShareTestParams,
  SharedParams,
  SharedTestView,
  SharesResponse,
} from './share-schemas.js';
import {
  ChannelCreate,
  ChannelCreated,
  NotificationChannelParams,
  ChannelTestResult,
  ChannelUpdate,
  ChannelView,
  ChannelWorkspaceQuery,
  ChannelsResponse,
  DeliveriesResponse,
  NotificationParams,
  NotificationView,
  NotificationPreferences,
  NotificationsQuery,
  NotificationsResponse,
  PageQuery,
  ReadAllResponse,
} from './notification-schemas.js';
import {
  MonitorCreate,
  MonitorDeploy,
  MonitorDeployResult,
  MonitorParams,
  MonitorRunAccepted,
  MonitorRunsQuery,
  MonitorRunsResponse,
  MonitorUpdate,
  MonitorView,
  MonitorsResponse,
  MaintenanceWindowCreate,
  MaintenanceWindowParams,
  MaintenanceWindowUpdate,
  MaintenanceWindowView,
  MaintenanceWindowsResponse,
  PlatformMaintenanceStart,
  PlatformMaintenanceView,
  StatusPageCreate,
  StatusPageParams,
  StatusPageUpdate,
  StatusPageView,
  StatusPagesResponse,
} from './monitor-schemas.js';
import {
  AlertRuleCreate,
  AlertRuleParams,
  AlertRuleUpdate,
  AlertRuleView,
  AlertRulesResponse,
  IncidentDetail,
  IncidentParams,
  IncidentStatsQuery,
  IncidentStatsResponse,
  IncidentView,
  IncidentsQuery,
  IncidentsResponse,
  SystemAlertsQuery,
  SystemAlertsResponse,
} from './alert-schemas.js';

/**
 * The HTTP API's route table: the API registers each route (method, path, schemas) from here and
 * `@crucible/client` derives its typed calls from the same objects, so the two cannot drift apart.
 * Browser-safe (TypeBox only), exported with the schemas as `@crucible/contracts/api`.
 */
export * from './api-schemas.js';
export * from './workspace-schemas.js';
export * from './share-schemas.js';
export * from './notification-schemas.js';
export * from './monitor-schemas.js';
export * from './alert-schemas.js';

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
    /** What the API validates and serializes with, by status. */
    response: Record<number, TSchema>;
    /**
     * What the OpenAPI document shows instead, by status, where it says more than `response` can
     * safely enforce (a test's result typed by its `testType`: see `documentedByTestType`).
     */
    documentedResponse?: Record<number, TSchema>;
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
  /** The version and the WebSocket gateway's address (`PUBLIC_WS_URL`), for clients of any deployment. */
  meta: { method: 'GET', url: '/api/meta', schema: { response: { 200: ServerMeta } } },
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
      response: { 202: RunTestAccepted, 400: Problem, 422: Problem, 429: Problem, 503: Problem },
    },
  },
  /** The metric catalogue: what each test type is configured with and what it measures. */
  testTypes: {
    method: 'GET',
    url: '/api/test/types',
    schema: { response: { 200: TestTypesResponse } },
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
      response: { 202: RerunResponse, 400: Problem, 404: Problem, 409: Problem, 429: Problem, 503: Problem },
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
    schema: {
      querystring: ListQuery,
      response: { 200: ListResponse, 400: Problem, 403: Problem },
      documentedResponse: { 200: DocumentedListResponse },
    },
  },
  getTest: {
    method: 'GET',
    url: '/api/test/queue/jobs/:jobId',
    schema: {
      params: TestIdParams,
      response: { 200: TestDetail, 404: Problem },
      documentedResponse: { 200: DocumentedTestDetail },
    },
  },
  /** The same as `getTest`, at the path of the test resource rather than of its queue job. */
  getTestById: {
    method: 'GET',
    url: '/api/tests/:testId',
    schema: {
      params: TestParams,
      response: { 200: TestDetail, 404: Problem },
      documentedResponse: { 200: DocumentedTestDetail },
    },
  },
  /** A file kept beside a test: a browser test's `screenshot`, `filmstrip-<n>-<ms>ms`, `lighthouse.json`. */
  getTestArtifact: {
    method: 'GET',
    url: '/api/test/:testId/artifacts/:name',
    schema: { params: ArtifactParams, response: { 200: ArtifactBody, 404: Problem } },
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
  createWorkspace: {
    method: 'POST',
    url: '/api/workspaces',
    schema: { body: WorkspaceCreate, response: { 201: WorkspaceView } },
  },
  listWorkspaces: {
    method: 'GET',
    url: '/api/workspaces',
    schema: { response: { 200: WorkspacesResponse } },
  },
  getWorkspace: {
    method: 'GET',
    url: '/api/workspaces/:id',
    schema: { params: WorkspaceParams, response: { 200: WorkspaceView, 404: Problem } },
  },
  updateWorkspace: {
    method: 'PATCH',
    url: '/api/workspaces/:id',
    schema: {
      params: WorkspaceParams,
      body: WorkspaceUpdate,
      response: { 200: WorkspaceView, 403: Problem, 404: Problem },
    },
  },
  deleteWorkspace: {
    method: 'DELETE',
    url: '/api/workspaces/:id',
    schema: {
      params: WorkspaceParams,
      response: { 204: Type.Null(), 403: Problem, 404: Problem, 409: Problem },
    },
  },
  /** Use against each quota (member+; a non-member gets 404). */
  workspaceUsage: {
    method: 'GET',
    url: '/api/workspaces/:id/usage',
    schema: { params: WorkspaceParams, response: { 200: WorkspaceUsage, 404: Problem } },
  },
  listMembers: {
    method: 'GET',
    url: '/api/workspaces/:id/members',
    schema: { params: WorkspaceParams, response: { 200: MembersResponse, 404: Problem } },
  },
  updateMember: {
    method: 'PATCH',
    url: '/api/workspaces/:id/members/:userId',
    schema: {
      params: MemberParams,
      body: MemberUpdate,
      response: { 204: Type.Null(), 403: Problem, 404: Problem, 409: Problem },
    },
  },
  removeMember: {
    method: 'DELETE',
    url: '/api/workspaces/:id/members/:userId',
    schema: {
      params: MemberParams,
      response: { 204: Type.Null(), 403: Problem, 404: Problem, 409: Problem },
    },
  },
  createWorkspaceInvitation: {
    method: 'POST',
    url: '/api/workspaces/:id/invitations',
    schema: {
      params: WorkspaceParams,
      body: WorkspaceInvitationCreate,
      response: { 201: InvitationCreated, 403: Problem, 404: Problem },
    },
  },
  /** A workspace's pending invitations, newest first (admin+): who was invited, as what, until when. */
  listWorkspaceInvitations: {
    method: 'GET',
    url: '/api/workspaces/:id/invitations',
    schema: {
      params: WorkspaceParams,
      response: { 200: PendingInvitationsResponse, 403: Problem, 404: Problem },
    },
  },
  /** Revokes a workspace's unused invitation: its link stops working at once (admin+; an owner's: owner). */
  revokeWorkspaceInvitation: {
    method: 'DELETE',
    url: '/api/workspaces/:id/invitations/:invitationId',
    schema: {
      params: WorkspaceInvitationParams,
      response: { 204: Type.Null(), 403: Problem, 404: Problem },
    },
  },
  acceptInvitation: {
    method: 'POST',
    url: '/api/invitations/:token/accept',
    schema: { params: InvitationTokenParams, response: { 200: InvitationAccepted, 403: Problem } },
  },
  /** An instance admin's view of a workspace's quotas. */
  getWorkspaceQuotas: {
    method: 'GET',
    url: '/api/admin/workspaces/:id/quotas',
    schema: { params: WorkspaceParams, response: { 200: WorkspaceQuotasView, 403: Problem, 404: Problem } },
  },
  /** An instance admin overrides a workspace's quotas (null: back to the default; 0: no limit). */
  setWorkspaceQuotas: {
    method: 'PUT',
    url: '/api/admin/workspaces/:id/quotas',
    schema: {
      params: WorkspaceParams,
      body: QuotaOverrides,
      response: { 200: WorkspaceQuotasView, 403: Problem, 404: Problem },
    },
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
  /** A public read-only link to the test (member+): `shareId` is shown once. */
  createShare: {
    method: 'POST',
    url: '/api/test/:testId/share',
    schema: {
      params: ShareTestParams,
      body: ShareCreate,
      response: { 201: ShareCreated, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  listShares: {
    method: 'GET',
    url: '/api/test/:testId/shares',
    schema: { params: ShareTestParams, response: { 200: SharesResponse, 404: Problem } },
  },
  /** Revokes a share at once: its page answers 404 and its live channel closes. */
  revokeShare: {
    method: 'DELETE',
    url: '/api/test/:testId/share/:shareId',
    schema: { params: ShareRevokeParams, response: { 204: Type.Null(), 403: Problem, 404: Problem } },
  },
  /** The shared test, without sign-in; 404 for an unknown, revoked or expired share. */
  getShared: {
    method: 'GET',
    url: '/api/shared/:shareId',
    schema: { params: SharedParams, response: { 200: SharedTestView, 404: Problem } },
  },
  /** The workspace's audit log, newest first (admin+). */
  workspaceAudit: {
    method: 'GET',
    url: '/api/workspaces/:id/audit',
    schema: {
      params: WorkspaceParams,
      querystring: AuditQuery,
      response: { 200: AuditResponse, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  createNotificationChannel: {
    method: 'POST',
    url: '/api/notification-channels',
    schema: {
      querystring: ChannelWorkspaceQuery,
      body: ChannelCreate,
      response: { 201: ChannelCreated, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  listNotificationChannels: {
    method: 'GET',
    url: '/api/notification-channels',
    schema: { querystring: ChannelWorkspaceQuery, response: { 200: ChannelsResponse, 404: Problem } },
  },
  getNotificationChannel: {
    method: 'GET',
    url: '/api/notification-channels/:id',
    schema: {
      params: NotificationChannelParams,
      querystring: ChannelWorkspaceQuery,
      response: { 200: ChannelView, 404: Problem },
    },
  },
  updateNotificationChannel: {
    method: 'PATCH',
    url: '/api/notification-channels/:id',
    schema: {
      params: NotificationChannelParams,
      querystring: ChannelWorkspaceQuery,
      body: ChannelUpdate,
      response: { 200: ChannelView, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  deleteNotificationChannel: {
    method: 'DELETE',
    url: '/api/notification-channels/:id',
    schema: {
      params: NotificationChannelParams,
      querystring: ChannelWorkspaceQuery,
      response: { 204: Type.Null(), 403: Problem, 404: Problem },
    },
  },
  /** Sends the channel a `test.notification` now and answers how its first attempt went. */
  testNotificationChannel: {
    method: 'POST',
    url: '/api/notification-channels/:id/test',
    schema: {
      params: NotificationChannelParams,
      querystring: ChannelWorkspaceQuery,
      response: { 200: ChannelTestResult, 403: Problem, 404: Problem },
    },
  },
  /** The channel's trail: every delivery written and every attempt, newest first. */
  listChannelDeliveries: {
    method: 'GET',
    url: '/api/notification-channels/:id/deliveries',
    schema: {
      params: NotificationChannelParams,
      querystring: PageQuery,
      response: { 200: DeliveriesResponse, 404: Problem },
    },
  },
  /** The caller's notification preferences (defaults when never set). */
  getNotificationPreferences: {
    method: 'GET',
    url: '/api/notification-preferences',
    schema: { response: { 200: NotificationPreferences } },
  },
  /** Replaces them; 400 `INVALID_TIMEZONE` / `INVALID_QUIET_HOURS`; 404 a channel the caller did not create. */
  putNotificationPreferences: {
    method: 'PUT',
    url: '/api/notification-preferences',
    schema: {
      body: NotificationPreferences,
      response: { 200: NotificationPreferences, 400: Problem, 404: Problem },
    },
  },
  listNotifications: {
    method: 'GET',
    url: '/api/notifications',
    schema: { querystring: NotificationsQuery, response: { 200: NotificationsResponse } },
  },
  readNotification: {
    method: 'POST',
    url: '/api/notifications/:id/read',
    schema: { params: NotificationParams, response: { 200: NotificationView, 404: Problem } },
  },
  readAllNotifications: {
    method: 'POST',
    url: '/api/notifications/read-all',
    schema: { response: { 200: ReadAllResponse } },
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
  createMonitor: {
    method: 'POST',
    url: '/api/monitors',
    schema: { body: MonitorCreate, response: { 201: MonitorView, 400: Problem, 403: Problem, 404: Problem } },
  },
  deployMonitors: {
    method: 'POST',
    url: '/api/monitors/deploy',
    schema: {
      body: MonitorDeploy,
      response: { 200: MonitorDeployResult, 400: Problem, 403: Problem, 409: Problem },
    },
  },
  listMonitors: {
    method: 'GET',
    url: '/api/monitors',
    schema: { response: { 200: MonitorsResponse } },
  },
  getMonitor: {
    method: 'GET',
    url: '/api/monitors/:id',
    schema: { params: MonitorParams, response: { 200: MonitorView, 404: Problem } },
  },
  updateMonitor: {
    method: 'PATCH',
    url: '/api/monitors/:id',
    schema: {
      params: MonitorParams,
      body: MonitorUpdate,
      response: { 200: MonitorView, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  deleteMonitor: {
    method: 'DELETE',
    url: '/api/monitors/:id',
    schema: { params: MonitorParams, response: { 204: Type.Null(), 403: Problem, 404: Problem } },
  },
  runMonitor: {
    method: 'POST',
    url: '/api/monitors/:id/run',
    schema: { params: MonitorParams, response: { 202: MonitorRunAccepted, 403: Problem, 404: Problem } },
  },
  listMonitorRuns: {
    method: 'GET',
    url: '/api/monitors/:id/runs',
    schema: {
      params: MonitorParams,
      querystring: MonitorRunsQuery,
      response: { 200: MonitorRunsResponse, 404: Problem },
    },
  },
  createMaintenanceWindow: {
    method: 'POST',
    url: '/api/maintenance-windows',
    schema: {
      body: MaintenanceWindowCreate,
      response: { 201: MaintenanceWindowView, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  listMaintenanceWindows: {
    method: 'GET',
    url: '/api/maintenance-windows',
    schema: { response: { 200: MaintenanceWindowsResponse } },
  },
  getMaintenanceWindow: {
    method: 'GET',
    url: '/api/maintenance-windows/:id',
    schema: { params: MaintenanceWindowParams, response: { 200: MaintenanceWindowView, 404: Problem } },
  },
  updateMaintenanceWindow: {
    method: 'PATCH',
    url: '/api/maintenance-windows/:id',
    schema: {
      params: MaintenanceWindowParams,
      body: MaintenanceWindowUpdate,
      response: { 200: MaintenanceWindowView, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  deleteMaintenanceWindow: {
    method: 'DELETE',
    url: '/api/maintenance-windows/:id',
    schema: { params: MaintenanceWindowParams, response: { 204: Type.Null(), 403: Problem, 404: Problem } },
  },
  createStatusPage: {
    method: 'POST',
    url: '/api/status-pages',
    schema: {
      body: StatusPageCreate,
      response: { 201: StatusPageView, 400: Problem, 403: Problem, 404: Problem, 409: Problem },
    },
  },
  listStatusPages: {
    method: 'GET',
    url: '/api/status-pages',
    schema: { response: { 200: StatusPagesResponse } },
  },
  getStatusPage: {
    method: 'GET',
    url: '/api/status-pages/:id',
    schema: { params: StatusPageParams, response: { 200: StatusPageView, 404: Problem } },
  },
  updateStatusPage: {
    method: 'PATCH',
    url: '/api/status-pages/:id',
    schema: {
      params: StatusPageParams,
      body: StatusPageUpdate,
      response: { 200: StatusPageView, 400: Problem, 403: Problem, 404: Problem, 409: Problem },
    },
  },
  deleteStatusPage: {
    method: 'DELETE',
    url: '/api/status-pages/:id',
    schema: { params: StatusPageParams, response: { 204: Type.Null(), 403: Problem, 404: Problem } },
  },
  /** The platform's system alerts, current and past, newest first (admins only: 403 to anyone else). */
  listSystemAlerts: {
    method: 'GET',
    url: '/api/admin/system-alerts',
    schema: { querystring: SystemAlertsQuery, response: { 200: SystemAlertsResponse, 403: Problem } },
  },
  getPlatformMaintenance: {
    method: 'GET',
    url: '/api/admin/maintenance',
    schema: { response: { 200: PlatformMaintenanceView, 403: Problem } },
  },
  startPlatformMaintenance: {
    method: 'POST',
    url: '/api/admin/maintenance',
    schema: { body: PlatformMaintenanceStart, response: { 200: PlatformMaintenanceView, 403: Problem } },
  },
  endPlatformMaintenance: {
    method: 'DELETE',
    url: '/api/admin/maintenance',
    schema: { response: { 200: PlatformMaintenanceView, 403: Problem } },
  },
  createAlertRule: {
    method: 'POST',
    url: '/api/alert-rules',
    schema: {
      body: AlertRuleCreate,
      response: { 201: AlertRuleView, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  listAlertRules: {
    method: 'GET',
    url: '/api/alert-rules',
    schema: { response: { 200: AlertRulesResponse } },
  },
  getAlertRule: {
    method: 'GET',
    url: '/api/alert-rules/:id',
    schema: { params: AlertRuleParams, response: { 200: AlertRuleView, 404: Problem } },
  },
  updateAlertRule: {
    method: 'PATCH',
    url: '/api/alert-rules/:id',
    schema: {
      params: AlertRuleParams,
      body: AlertRuleUpdate,
      response: { 200: AlertRuleView, 400: Problem, 403: Problem, 404: Problem },
    },
  },
  /** Its open incidents are resolved with it, without a notification. */
  deleteAlertRule: {
    method: 'DELETE',
    url: '/api/alert-rules/:id',
    schema: { params: AlertRuleParams, response: { 204: Type.Null(), 403: Problem, 404: Problem } },
  },
  listIncidents: {
    method: 'GET',
    url: '/api/incidents',
    schema: { querystring: IncidentsQuery, response: { 200: IncidentsResponse, 400: Problem } },
  },
  /** Per rule and per monitor: incidents, time down, MTTA, MTTR, notifications sent and failed. */
  incidentStats: {
    method: 'GET',
    url: '/api/incidents/stats',
    schema: { querystring: IncidentStatsQuery, response: { 200: IncidentStatsResponse, 400: Problem } },
  },
  getIncident: {
    method: 'GET',
    url: '/api/incidents/:id',
    schema: { params: IncidentParams, response: { 200: IncidentDetail, 404: Problem } },
  },
  /** Stops its reminders and tells its channels (`incident.acknowledged`); 409 unless open. */
  acknowledgeIncident: {
    method: 'POST',
    url: '/api/incidents/:id/acknowledge',
    schema: {
      params: IncidentParams,
      response: { 200: IncidentView, 403: Problem, 404: Problem, 409: Problem },
    },
  },
  /** Resolves it by hand (`incident.resolved`); 409 if already resolved. */
  resolveIncident: {
    method: 'POST',
    url: '/api/incidents/:id/resolve',
    schema: {
      params: IncidentParams,
      response: { 200: IncidentView, 403: Problem, 404: Problem, 409: Problem },
    },
  },
} as const satisfies Record<string, ApiRoute>;

export type ApiRouteName = keyof typeof ApiRoutes;

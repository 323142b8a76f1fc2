import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type {
  AlertCondition,
  ChannelType,
  IncidentStatus,
  DeliveryStatus,
  Judging,
  MonitorState,
  NotificationEventType,
  Role,
  SlotOutcome,
  Severity,
  SystemAlertKind,
  TestStatus,
  TestType,
  Verdict,
  WorkspaceRole,
} from '@crucible/contracts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  role: Role;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  key_hash: string;
  /** The first characters of the key, so a user can tell keys apart without the secret. */
  key_prefix: string;
  /** The workspace the key acts in, with a role no higher than its creator's there. */
  workspace_id: string;
  role: WorkspaceRole;
  created_at: Timestamp;
  last_used_at: ColumnType<Date | null, never, Date | string | null>;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
}

export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  user_agent: string | null;
  ip: string | null;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

export interface TestQueueTable {
  id: Generated<string>;
  test_id: string;
  test_type: TestType;
  test_name: string | null;
  url: string;
  config: ColumnType<Record<string, unknown>, string, string>;
  status: ColumnType<TestStatus, TestStatus | undefined, TestStatus>;
  priority: ColumnType<number, number | undefined, number>;
  progress: ColumnType<number, number | undefined, number>;
  user_id: string | null;
  /** The workspace that owns the test; null only for a test whose user was deleted before workspaces. */
  workspace_id: ColumnType<string | null, string | null | undefined, string | null>;
  result: ColumnType<unknown, string | null | undefined, string | null>;
  error_message: string | null;
  /** Automatic retries of the current run (a lost worker counts as one). */
  retry_count: ColumnType<number, number | undefined, number>;
  /** Attempts started so far; the fencing token of status writes. */
  attempt: ColumnType<number, number | undefined, number>;
  /** Manual re-runs so far. */
  run: ColumnType<number, number | undefined, number>;
  /** What a completed test's own checks say (catalogue's `verdict`); null unless completed. */
  verdict: ColumnType<Verdict | null, Verdict | null | undefined, Verdict | null>;
  /** How the test is judged: thresholds, runs, baseline (issue 21); null: the defaults (contracts' `DEFAULT_JUDGING`). */
  judging: ColumnType<Judging | null, string | null | undefined, string | null>;
  /** The test this one runs again ("Run again"); null for a first submission. */
  rerun_of: ColumnType<string | null, string | null | undefined, string | null>;
  /** The monitor this test is a run of; null for a test submitted by hand. */
  monitor_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** A monitor run's slot (unique per monitor); null for other tests. */
  scheduled_for: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** When the dispatcher released the current run's job into the queue; null: it waits its turn. */
  dispatched_at: ColumnType<Date | null, never, Date | string | null>;
  created_at: Timestamp;
  started_at: ColumnType<Date | null, never, Date | string | null>;
  completed_at: ColumnType<Date | null, never, Date | string | null>;
  updated_at: Timestamp;
}

export type AttemptStatus =
  'running' | 'completed' | 'failed' | 'retrying' | 'cancelled' | 'lost' | 'handed_back';

/** One record per attempt of a test: the history that survives retries and re-runs. */
export interface TestAttemptsTable {
  test_id: string;
  attempt: number;
  run: number;
  status: AttemptStatus;
  error_message: string | null;
  started_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  /** SHA-256 of the canonical request body: the same key with another body is refused. */
  request_hash: string;
  test_id: string;
  created_at: Timestamp;
}

export interface InvitationsTable {
  id: Generated<string>;
  token_hash: string;
  /** Only this email may register with it; null: anyone holding the token. */
  email: string | null;
  created_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: ColumnType<Date | null, never, Date | string | null>;
  used_by: ColumnType<string | null, never, string | null>;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
  /** A workspace's invitation: the workspace it joins and the role it grants (both or neither). */
  workspace_id: ColumnType<string | null, string | null | undefined, string | null>;
  workspace_role: ColumnType<WorkspaceRole | null, WorkspaceRole | null | undefined, WorkspaceRole | null>;
}

export interface WorkspacesTable {
  id: Generated<string>;
  name: string;
  /** The user whose personal workspace this is; null for a team's. */
  personal_of: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WorkspaceMembersTable {
  workspace_id: string;
  user_id: string;
  role: WorkspaceRole;
  created_at: Timestamp;
}

/** An instance admin's overrides of a workspace's quotas (null: the default; 0: no limit). */
export interface WorkspaceQuotasTable {
  workspace_id: string;
  max_queued: number | null;
  max_running: number | null;
  /** bigint: node-postgres reads it as a string. */
  stress_budget: ColumnType<string | null, number | null, number | null>;
  submit_rate: number | null;
  max_stress_connections: number | null;
  updated_at: Generated<Date>;
}

/** Stress connection-seconds a workspace was granted on one (UTC) day. */
export interface WorkspaceStressUsageTable {
  workspace_id: string;
  day: ColumnType<string, string, string>;
  connection_seconds: ColumnType<string, number, number>;
}

/**
 * A workspace's `queued` tests, kept by triggers on `test_queue` (`workspace_queue_counts`): what
 * the queued quota is held to. No row: none queued.
 */
export interface WorkspaceQueueCountsTable {
  workspace_id: string;
  queued: Generated<number>;
}

/** A file a test keeps beside its result (`test_artifacts`). */
export interface TestArtifactsTable {
  test_id: string;
  name: string;
  content_type: string;
  data: Buffer;
  created_at: Generated<Date>;
}

/** A public read-only link to one test (`test_shares`). */
export interface TestSharesTable {
  id: Generated<string>;
  /** SHA-256 (base64url) of the public share id. */
  share_hash: string;
  test_id: string;
  workspace_id: string;
  created_by: string | null;
  created_at: Generated<Date>;
  /** null: until revoked. */
  expires_at: Date | null;
  revoked_at: ColumnType<Date | null, never, Date | null>;
}

/** One entry of a workspace's audit log (`audit_log`). */
export interface AuditLogTable {
  /** bigserial, as a string. */
  id: Generated<string>;
  workspace_id: string;
  actor_id: string | null;
  actor_email: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Date>;
}

/** A place notifications go (`notification_channels`). */
export interface NotificationChannelsTable {
  id: Generated<string>;
  workspace_id: string;
  created_by: string | null;
  name: string;
  type: ChannelType;
  config: Json;
  /** A webhook's signing secret, `whsec_…`. */
  secret: string | null;
  templates: ColumnType<unknown, string | undefined, string>;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** What happened, once, whatever the number of channels told (`notification_events`). */
export interface NotificationEventsTable {
  id: Generated<string>;
  workspace_id: string;
  type: NotificationEventType;
  data: Json;
  created_at: Timestamp;
  /** Set while it gathers a workspace's incident openings to one channel (`opened:{channelId}`). */
  group_key: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The outbox: one event to one channel (`notification_deliveries`). */
export interface NotificationDeliveriesTable {
  id: Generated<string>;
  event_id: string;
  channel_id: string;
  status: DeliveryStatus;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claimed_until: Date | null;
  give_up_at: ColumnType<Date, Date | string, Date | string>;
  created_at: Timestamp;
  finished_at: Date | null;
  /** The order deliveries were written in: a channel's go out one at a time in it. */
  seq: Generated<string>;
}

/** The trail: a delivery written, then each attempt (`notification_attempts`). */
export interface NotificationAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  channel_id: string;
  attempt: number;
  status: DeliveryStatus;
  response_status: number | null;
  error: string | null;
  duration_ms: number | null;
  at: Timestamp;
}

/** An in-app notification of one user (`notifications`). */
export interface NotificationsTable {
  id: Generated<string>;
  user_id: string;
  workspace_id: string;
  delivery_id: string | null;
  title: string;
  body: string;
  severity: Severity;
  incident_id: string | null;
  created_at: Timestamp;
  read_at: Date | null;
}

/** A test run on a schedule (`monitors`). */
export interface MonitorsTable {
  id: Generated<string>;
  workspace_id: string;
  created_by: string | null;
  name: string;
  /** The run's submission (a `POST /api/test/run` body, validated, defaults filled). */
  test: ColumnType<Record<string, unknown>, string, string>;
  /** How each run is judged, without its baseline. */
  judging: ColumnType<Judging | null, string | null | undefined, string | null>;
  /** `previous` (the monitor's previous completed run) or a test id; null: none. */
  baseline: string | null;
  every_seconds: number | null;
  cron: string | null;
  timezone: string | null;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  next_run_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  state: ColumnType<MonitorState | null, MonitorState | null | undefined, MonitorState | null>;
  state_changed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  code_key: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** One claimed slot of a monitor: its run, or why it has none. */
export interface MonitorSlotsTable {
  monitor_id: string;
  scheduled_for: ColumnType<Date, Date | string, Date | string>;
  outcome: SlotOutcome;
  reason: string | null;
  test_id: string | null;
  state: ColumnType<MonitorState | null, MonitorState | null | undefined, MonitorState | null>;
  created_at: Generated<Date>;
}

/** A time when a workspace's monitors (all, or some) are not run and raise nothing. */
export interface MaintenanceWindowsTable {
  id: Generated<string>;
  workspace_id: string;
  name: string;
  monitor_ids: string[] | null;
  starts_at: Date | null;
  ends_at: Date | null;
  cron: string | null;
  duration_minutes: number | null;
  timezone: string | null;
  created_at: Generated<Date>;
}

/** A public page of chosen monitors, at `/status/:slug`. */
export interface StatusPagesTable {
  id: Generated<string>;
  workspace_id: string;
  slug: string;
  title: string;
  monitor_ids: string[];
  public: boolean;
  show_urls: boolean;
  created_at: Generated<Date>;
}

/** An instance admin's platform maintenance: at most one with no `ended_at`. */
export interface PlatformMaintenanceTable {
  id: Generated<string>;
  message: string;
  until: Date | null;
  started_by: string | null;
  started_at: Generated<Date>;
  ended_at: Date | null;
}

/** When a workspace is told of its monitors' runs (`alert_rules`). */
export interface AlertRulesTable {
  id: Generated<string>;
  workspace_id: string;
  created_by: string | null;
  name: string;
  /** null: every monitor of the workspace. */
  monitor_id: string | null;
  condition: ColumnType<AlertCondition, string, string>;
  fail_after: number;
  recover_after: number;
  remind_every_minutes: number | null;
  severity: Severity;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AlertRuleChannelsTable {
  rule_id: string;
  channel_id: string;
}

/** A rule's condition holding on a monitor, from the runs that opened it to those that resolved it. */
export interface IncidentsTable {
  id: Generated<string>;
  workspace_id: string;
  rule_id: string | null;
  monitor_id: string | null;
  key: string;
  rule_name: string;
  monitor_name: string;
  severity: Severity;
  status: IncidentStatus;
  opened_at: Generated<Date>;
  opened_by_runs: string[];
  opened_through: ColumnType<Date, Date | string, Date | string>;
  acknowledged_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  acknowledged_by: string | null;
  resolved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  resolved_by: string | null;
  resolved_by_runs: string[] | null;
  closed_through: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  next_remind_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  reminders: Generated<number>;
}

/** A user's notification preferences (`notification_preferences`); quiet hours all set or none. */
export interface NotificationPreferencesTable {
  user_id: string;
  /** `HH:MM:SS` */
  quiet_start: string | null;
  quiet_end: string | null;
  quiet_timezone: string | null;
  min_severity: ColumnType<Record<string, Severity>, string | undefined, string>;
  muted_until: Date | null;
  updated_at: Generated<Date>;
}

/** A system alert (`system_alerts`): pending (`fired_at` null), firing, or resolved. */
export interface SystemAlertsTable {
  id: Generated<string>;
  key: string;
  kind: SystemAlertKind;
  severity: Severity;
  title: string;
  message: string;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
  owner_id: string | null;
  started_at: ColumnType<Date, Date | string, Date | string>;
  fired_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  resolved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface IncidentNotificationsTable {
  incident_id: string;
  event_id: string;
}

export interface Database {
  alert_rules: AlertRulesTable;
  alert_rule_channels: AlertRuleChannelsTable;
  incidents: IncidentsTable;
  incident_notifications: IncidentNotificationsTable;
  system_alerts: SystemAlertsTable;
  notification_channels: NotificationChannelsTable;
  notification_events: NotificationEventsTable;
  notification_deliveries: NotificationDeliveriesTable;
  notification_attempts: NotificationAttemptsTable;
  notification_preferences: NotificationPreferencesTable;
  notifications: NotificationsTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  test_queue: TestQueueTable;
  test_artifacts: TestArtifactsTable;
  test_attempts: TestAttemptsTable;
  idempotency_keys: IdempotencyKeysTable;
  invitations: InvitationsTable;
  workspaces: WorkspacesTable;
  workspace_members: WorkspaceMembersTable;
  test_shares: TestSharesTable;
  audit_log: AuditLogTable;
  monitors: MonitorsTable;
  monitor_slots: MonitorSlotsTable;
  maintenance_windows: MaintenanceWindowsTable;
  status_pages: StatusPagesTable;
  platform_maintenance: PlatformMaintenanceTable;
  workspace_quotas: WorkspaceQuotasTable;
  workspace_stress_usage: WorkspaceStressUsageTable;
  workspace_queue_counts: WorkspaceQueueCountsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type ApiKey = Selectable<ApiKeysTable>;
export type SessionRow = Selectable<SessionsTable>;
export type TestRow = Selectable<TestQueueTable>;
export type NewTestRow = Insertable<TestQueueTable>;
export type TestRowUpdate = Updateable<TestQueueTable>;
export type TestAttempt = Selectable<TestAttemptsTable>;
export type Invitation = Selectable<InvitationsTable>;
export type Workspace = Selectable<WorkspacesTable>;
export type WorkspaceMember = Selectable<WorkspaceMembersTable>;
export type TestShare = Selectable<TestSharesTable>;
export type AuditEntry = Selectable<AuditLogTable>;
export type MonitorRow = Selectable<MonitorsTable>;
export type MonitorSlotRow = Selectable<MonitorSlotsTable>;
export type MaintenanceWindowRow = Selectable<MaintenanceWindowsTable>;
export type StatusPageRow = Selectable<StatusPagesTable>;
export type PlatformMaintenanceRow = Selectable<PlatformMaintenanceTable>;
export type AlertRuleRow = Selectable<AlertRulesTable>;
export type IncidentRow = Selectable<IncidentsTable>;
export type { Json };

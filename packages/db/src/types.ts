import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { Role, TestStatus, TestType, Verdict } from '@crucible/shared';

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
  /** The test this one runs again ("Run again"); null for a first submission. */
  rerun_of: ColumnType<string | null, string | null | undefined, string | null>;
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
}

export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  test_queue: TestQueueTable;
  test_attempts: TestAttemptsTable;
  idempotency_keys: IdempotencyKeysTable;
  invitations: InvitationsTable;
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
export type { Json };

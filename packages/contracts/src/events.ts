/** Event names carried in the envelope's `event` field (DESIGN.md, "Events"). */
export const Events = {
  TEST_STARTED: 'test:started',
  TEST_PROGRESS: 'test:progress',
  TEST_COMPLETED: 'test:completed',
  TEST_FAILED: 'test:failed',
  TEST_CANCELLED: 'test:cancelled',
  QUEUE_JOB_ADDED: 'queue:job:added',
  QUEUE_JOB_STARTED: 'queue:job:started',
  QUEUE_JOB_PROGRESS: 'queue:job:progress',
  QUEUE_JOB_COMPLETED: 'queue:job:completed',
  QUEUE_JOB_FAILED: 'queue:job:failed',
  QUEUE_JOB_WAITING: 'queue:job:waiting',
  QUEUE_STATUS_UPDATED: 'queue:status:updated',
  TEST_RECORD_CREATED: 'test-record:created',
  TEST_RECORD_UPDATED: 'test-record:updated',
  TEST_RECORD_DELETED: 'test-record:deleted',
  SYSTEM_ALERT: 'system:alert',
  SYSTEM_MAINTENANCE_START: 'system:maintenance:start',
  SYSTEM_MAINTENANCE_END: 'system:maintenance:end',
  USER_NOTIFICATION: 'user:notification',
  USER_ONLINE: 'user:online',
  USER_OFFLINE: 'user:offline',
  WORKSPACE_MEMBER_JOINED: 'workspace:member:joined',
  WORKSPACE_MEMBER_LEFT: 'workspace:member:left',
  WORKSPACE_MEMBER_ROLE_CHANGED: 'workspace:member:role-changed',
  WORKSPACE_UPDATED: 'workspace:updated',
  WORKSPACE_TEST_SHARED: 'workspace:test:shared',
  WORKSPACE_TEST_UNSHARED: 'workspace:test:unshared',
  MONITOR_RUN: 'monitor:run',
  MONITOR_STATUS: 'monitor:status',
  MONITOR_UPDATED: 'monitor:updated',
  CONNECTION_ESTABLISHED: 'connection:established',
  CONNECTION_ERROR: 'connection:error',
  HEARTBEAT_PING: 'heartbeat:ping',
  HEARTBEAT_PONG: 'heartbeat:pong',
} as const;

export type Events = (typeof Events)[keyof typeof Events];

/** Delivery priorities; lower is more urgent. CRITICAL and HIGH bypass batching. */
export const Priority = {
  CRITICAL: 1,
  HIGH: 2,
  NORMAL: 3,
  LOW: 4,
} as const;

export type Priority = (typeof Priority)[keyof typeof Priority];

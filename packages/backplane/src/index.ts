export {
  DataDirInUseError,
  SessionScheduler,
  claimDataDir,
  startEmbeddedPostgres,
} from './embedded-postgres.js';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded-postgres.js';
export { BULLMQ_SCHEMA, createEmbeddedBackplane, createRedisBackplane } from './backplane.js';
export type {
  Backplane,
  CacheStack,
  EmbeddedBackplaneOptions,
  RateLimiter,
  RateLimiterOptions,
  RedisBackplaneOptions,
  TestQueueWorker,
  ShardQueue,
  WorkerOptions,
} from './backplane.js';
export { TestQueues } from './test-queues.js';
export type { TestQueue } from './test-queues.js';
export { createRedis } from './redis.js';
export type { RedisRole } from './redis.js';
export { RedisEventLog, channelKeys, pubsubPrefix } from './redis-event-log.js';
export type { EventLogOptions } from './redis-event-log.js';
export { MemoryEventLog } from './memory-event-log.js';
export { RedisPubSub } from './redis-pubsub.js';
export { MemoryPubSub } from './memory-pubsub.js';
export { RedisAckStore } from './redis-ack-store.js';
export { MemoryAckStore } from './memory-ack-store.js';
export { RedisConnectionRegistry } from './redis-connection-registry.js';
export type { RedisConnectionRegistryOptions } from './redis-connection-registry.js';
export { MemoryConnectionRegistry } from './memory-connection-registry.js';
export { RedisTicketStore } from './redis-ticket-store.js';
export { MemoryTicketStore } from './memory-ticket-store.js';
export type { TicketStoreOptions } from './tickets.js';
export { RedisPresenceStore } from './redis-presence-store.js';
export { MemoryPresenceStore } from './memory-presence-store.js';
export { RedisStressConnectionStore } from './redis-stress-connection-store.js';
export type { RedisStressConnectionStoreOptions } from './redis-stress-connection-store.js';
export { MemoryStressConnectionStore } from './memory-stress-connection-store.js';
export { WorkerRegistry } from './worker-registry.js';
export { QueueStatusPublisher, readQueueCounts } from './queue-status-publisher.js';
export type { JobCounter } from './queue-status-publisher.js';

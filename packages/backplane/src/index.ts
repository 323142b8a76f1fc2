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
  BackplaneCacheOptions,
  EmbeddedBackplaneOptions,
  RateLimiter,
  RateLimiterOptions,
  RedisBackplaneOptions,
  TestQueue,
  TestQueueWorker,
  WorkerOptions,
} from './backplane.js';

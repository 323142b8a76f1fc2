export { gatewayPlugin, redactUrl, serializeRequest } from './gateway.js';
export type { GatewayPluginOptions } from './gateway.js';
export { loadGatewayEnv, DEFAULT_LIMITS } from './env.js';
export type { GatewayEnv, GatewayLimits } from './env.js';
export { createChannelAccess } from './channel-access.js';
export type {
  AccessDecision,
  ChannelAuthorizer,
  MessageFilter,
  Reader,
  TestOwnership,
} from './channel-access.js';
export { MemoryConnectionRegistry, RedisConnectionRegistry } from './connection-registry.js';
export type { ConnectionRegistry } from './connection-registry.js';
export { MemoryAckStore, RedisAckStore } from './ack-store.js';
export type { AckStore, UnackedMessage } from './ack-store.js';
export { CloseCodes } from './session.js';

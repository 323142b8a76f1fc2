export { gatewayPlugin, serializeRequest } from './gateway.js';
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
export { CloseCodes } from './session.js';

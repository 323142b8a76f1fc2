export { gatewayPlugin, serializeRequest } from './gateway.js';
export type { GatewayPluginOptions } from './gateway.js';
export { loadGatewayEnv, loadGatewaySettings, DEFAULT_LIMITS } from './env.js';
export type { GatewayEnv, GatewayLimits, GatewaySettings } from './env.js';
export { composeGateway } from './compose.js';
export type { GatewayServices } from './compose.js';
export { createChannelAccess } from './channel-access.js';
export type {
  AccessDecision,
  ChannelAuthorizer,
  MessageFilter,
  Reader,
  TestOwnership,
} from './channel-access.js';
export { CloseCodes } from './session.js';

export { ApiClient, ApiError, routePath } from './api-client.js';
export type { ApiClientOptions, ApiRequest, ApiResponse } from './api-client.js';
export { ChannelError, CrucibleSocket, reconnectDelay, resolveWsUrl, withCredential } from './ws-client.js';
export type {
  ChannelMessage,
  ChannelPosition,
  ChannelSubscription,
  Credential,
  CrucibleSocketOptions,
  SubscribeOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './ws-client.js';

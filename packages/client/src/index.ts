export { ApiClient, ApiError, routePath } from './api-client.js';
export type { ApiClientOptions, ApiRequest, ApiResponse } from './api-client.js';

// What other apps' suites use to start Crucible's processes and watch them (`@crucible/api/testing`):
// all-in-one's end-to-end tests.
export * from './processes.js';
export { WsClient } from './ws-client.js';

// `@crucible/notify`: what a notification looks like on each channel, and the dispatcher that sends the outbox.
export * from './backoff.js';
export * from './dispatcher.js';
export * from './email.js';
export * from './providers.js';
export * from './send.js';
export * from './settings.js';
export * from './signing.js';
export * from './templates.js';
export * from './incidents.js';
export * from './links.js';
export * from './system-alerts.js';

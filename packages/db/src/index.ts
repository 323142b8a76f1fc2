export * from './types.js';
export * from './connection.js';
export * from './migrator.js';
export * from './auth.js';
export * from './repositories/users.repository.js';
export * from './repositories/api-keys.repository.js';
export * from './repositories/invitations.repository.js';
export * from './repositories/tests.repository.js';

// `@crucible/egress`: the one way the engines reach a target (SSRF guard, pinned addresses, timings).
export * from './policy.js';
export * from './client.js';

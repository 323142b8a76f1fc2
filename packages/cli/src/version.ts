import manifest from '../package.json' with { type: 'json' };

/** The CLI's version, from its package.json (bundled into dist/ at build time). */
export const version: string = manifest.version;

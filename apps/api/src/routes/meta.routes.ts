import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiRoutes } from '@crucible/contracts/api';

export interface MetaRoutesOptions {
  version: string;
  /** `PUBLIC_WS_URL`: an absolute `ws:`/`wss:` URL, or a path on the api's own address. */
  publicWsUrl: string;
}

/**
 * What any client may ask before signing in: the version, and where the gateway is, so the CLI and
 * the dashboard follow a distributed deployment's gateway (another host or port) as they follow the
 * all-in-one server's own `/ws`.
 */
export const metaRoutes: FastifyPluginAsyncTypebox<MetaRoutesOptions> = async (app, opts) => {
  const meta = { version: opts.version, wsUrl: opts.publicWsUrl };
  app.route({ ...ApiRoutes.meta, handler: async () => meta });
};

import { ApiClient, ApiError, CrucibleSocket, resolveWsUrl } from '@crucible/client';
import type { ApiRequest, ApiResponse, WebSocketConstructor } from '@crucible/client';
import type { ApiRouteName } from '@crucible/contracts/api';
import WebSocket from 'ws';
import { CliError, ExitCode, fromApiError } from './exit-codes.js';

/** The flags every command takes to reach Crucible. */
export interface ConnectionFlags {
  url?: string;
  token?: string;
  wsUrl?: string;
}

/** Longest wait for one HTTP answer before Crucible counts as unreachable. @defaultValue 30 s */
const REQUEST_TIMEOUT_MS = 30_000;

/** Where Crucible is and who we are, from the flags, then the environment, then the defaults. */
export class Connection {
  readonly baseUrl: string;
  readonly token: string | undefined;
  readonly #api: ApiClient;
  /** `--ws-url`/`CRUCIBLE_WS_URL`, which override what the API says. */
  readonly #wsUrl: string | undefined;
  #gateway: Promise<string> | undefined;

  constructor(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env) {
    this.baseUrl = parseUrl(
      flags.url ?? env.CRUCIBLE_URL ?? 'http://localhost:3000',
      ['http:', 'https:'],
      'url',
    )
      .toString()
      .replace(/\/+$/, '');
    const explicitWs = flags.wsUrl ?? env.CRUCIBLE_WS_URL;
    this.#wsUrl = explicitWs ? parseUrl(explicitWs, ['ws:', 'wss:'], 'ws-url').toString() : undefined;
    this.token = flags.token ?? env.CRUCIBLE_TOKEN ?? undefined;
    this.#api = new ApiClient({
      baseUrl: this.baseUrl,
      token: () => this.token,
      fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
    });
  }

  /** A test's page in the dashboard. */
  testPage(testId: string): string {
    return `${this.baseUrl}/tests/${testId}`;
  }

  /** One typed API call; a refusal becomes the {@link CliError} with its exit code. */
  async call<N extends ApiRouteName>(name: N, request?: ApiRequest<N>): Promise<ApiResponse<N>> {
    this.requireToken();
    try {
      return await (this.#api.call as (n: N, r?: ApiRequest<N>) => Promise<ApiResponse<N>>)(name, request);
    } catch (err) {
      throw fromApiError(err, this.baseUrl);
    }
  }

  /** The same, keeping the {@link ApiError} for callers that tell its codes apart. */
  async callRaw<N extends ApiRouteName>(name: N, request?: ApiRequest<N>): Promise<ApiResponse<N>> {
    this.requireToken();
    return (this.#api.call as (n: N, r?: ApiRequest<N>) => Promise<ApiResponse<N>>)(name, request);
  }

  /**
   * The gateway: `--ws-url`/`CRUCIBLE_WS_URL`, else where `GET /api/meta` says (asked once; a
   * distributed deployment's gateway may be on another host or port), else — a server older than
   * that route — `/ws` beside the API.
   */
  gatewayUrl(): Promise<string> {
    if (this.#wsUrl) return Promise.resolve(this.#wsUrl);
    this.#gateway ??= this.#askGateway().catch((err: unknown) => {
      this.#gateway = undefined;
      throw err;
    });
    return this.#gateway;
  }

  async #askGateway(): Promise<string> {
    let wsUrl: string;
    try {
      wsUrl = (await this.#api.call('meta')).wsUrl;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return resolveWsUrl('/ws', this.baseUrl);
      throw fromApiError(err, this.baseUrl);
    }
    try {
      return resolveWsUrl(wsUrl, this.baseUrl);
    } catch {
      throw new CliError(ExitCode.UNREACHABLE, `the API names a gateway that is not a URL: "${wsUrl}"`);
    }
  }

  /**
   * A socket to the gateway that reconnects and resumes by itself (`ws`: Node 20 has no WebSocket).
   * The gateway's address is asked before each attempt, so an API that does not answer yet only
   * delays the socket, as a gateway that does not.
   */
  socket(): CrucibleSocket {
    const token = this.requireToken();
    return new CrucibleSocket({
      url: () => this.gatewayUrl(),
      credential: () => ({ token }),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      initialReconnectMs: 250,
      maxReconnectMs: 5_000,
    });
  }

  requireToken(): string {
    if (!this.token) {
      throw new CliError(
        ExitCode.UNREACHABLE,
        "no token: set CRUCIBLE_TOKEN (an API key from the dashboard's Account page) or pass --token",
      );
    }
    return this.token;
  }
}

export { ApiError };

function parseUrl(raw: string, protocols: string[], flag: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(ExitCode.USAGE, `--${flag}: "${raw}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new CliError(ExitCode.USAGE, `--${flag}: "${raw}" must start with ${protocols.join(' or ')}//`);
  }
  return url;
}

import type { Static, TSchema } from '@sinclair/typebox';
import { ApiRoutes, WORKSPACE_HEADER } from '@crucible/contracts/api';
import type { ApiRoute, ApiRouteName } from '@crucible/contracts/api';

type Routes = typeof ApiRoutes;
type SchemaOf<N extends ApiRouteName> = Routes[N]['schema'];
type Responses<N extends ApiRouteName> = SchemaOf<N>['response'];
type SuccessCode<N extends ApiRouteName> = Extract<keyof Responses<N>, 200 | 201 | 202 | 204>;
type StaticOf<S> = S extends TSchema ? Static<S> : never;

/** What a successful call of route `N` resolves to (its 2xx response schema). */
export type ApiResponse<N extends ApiRouteName> = StaticOf<Responses<N>[SuccessCode<N>]>;

/** What a call of route `N` takes: exactly the parts its schema declares. */
export type ApiRequest<N extends ApiRouteName> = (SchemaOf<N> extends { params: infer P }
  ? { params: StaticOf<P> }
  : unknown) &
  (SchemaOf<N> extends { querystring: infer Q } ? { query?: Partial<StaticOf<Q>> } : unknown) &
  (SchemaOf<N> extends { headers: infer H } ? { headers?: Partial<StaticOf<H>> } : unknown) &
  (SchemaOf<N> extends { body: infer B } ? { body: StaticOf<B> } : unknown);

type CallArgs<N extends ApiRouteName> = keyof ApiRequest<N> extends never
  ? [request?: ApiRequest<N>]
  : [request: ApiRequest<N>];

/** An `application/problem+json` answer (DESIGN.md, "HTTP API"), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  /** Origin of the API, e.g. `http://localhost:3000`. @defaultValue '' (same origin, for browsers) */
  baseUrl?: string;
  /** Returns the bearer credential (session token or API key) to send, if any. */
  token?: () => string | null | undefined;
  /**
   * Returns the workspace every request acts in (`X-Crucible-Workspace`), unless the call names one
   * in its own headers. @defaultValue none (the API's default: an API key's own, else the personal one)
   */
  workspace?: () => string | null | undefined;
  /** Called when the API answers 401 to a request that carried a credential (expired or revoked). */
  onUnauthorized?: () => void;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** Fills `:name` segments of a route's path; every value is URI-encoded. */
export function routePath(url: string, params: Record<string, unknown> = {}): string {
  return url.replace(/:(\w+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === null || value === '') {
      throw new TypeError(`${url}: parameter ${name} is missing`);
    }
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * The typed HTTP client: `client.call('runTest', { body })` — method, path and types all come from
 * {@link ApiRoutes}, the table the API registers its routes from, so the two cannot drift apart.
 */
export class ApiClient {
  readonly #options: ApiClientOptions;

  constructor(options: ApiClientOptions = {}) {
    this.#options = options;
  }

  /** The absolute or same-origin URL of a route, as `call` would request it. */
  url<N extends ApiRouteName>(name: N, ...[request]: CallArgs<N>): string {
    const route: ApiRoute = ApiRoutes[name];
    const req = (request ?? {}) as { params?: Record<string, unknown>; query?: Record<string, unknown> };
    return `${this.#options.baseUrl ?? ''}${routePath(route.url, req.params)}${queryString(req.query)}`;
  }

  async call<N extends ApiRouteName>(name: N, ...args: CallArgs<N>): Promise<ApiResponse<N>> {
    const route: ApiRoute = ApiRoutes[name];
    const request = (args[0] ?? {}) as { body?: unknown; headers?: Record<string, string | undefined> };
    const token = this.#options.token?.();
    const headers: Record<string, string> = { accept: 'application/json' };
    const workspace = this.#options.workspace?.();
    if (workspace) headers[WORKSPACE_HEADER] = workspace;
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (value !== undefined) headers[name] = value;
    }
    if (token) headers.authorization = `Bearer ${token}`;
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const doFetch = this.#options.fetch ?? globalThis.fetch;
    let response: Response;
    try {
      response = await doFetch(this.url(name, ...args), {
        method: route.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
      });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', 'Network error', 'The server could not be reached', { cause: err });
    }
    if (response.status === 204) return null as ApiResponse<N>;
    const text = await response.text();
    let payload: unknown = null;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = null;
      }
    }
    if (!response.ok) {
      if (response.status === 401 && token) this.#options.onUnauthorized?.();
      const problem = (payload ?? {}) as Partial<Record<'code' | 'title' | 'detail', string>>;
      throw new ApiError(
        response.status,
        problem.code ?? 'HTTP_ERROR',
        problem.title ?? response.statusText,
        problem.detail ?? `The server answered ${response.status}`,
      );
    }
    return payload as ApiResponse<N>;
  }
}

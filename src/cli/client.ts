import { ADMIN_PREFIX } from '../admin/router';
import { shownValue } from '../core/text';
import { findToken, resolveRegistry } from './npmrc';

/** A client of the admin API, authenticated with npm's token for the registry. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    /** The answer shows the CLI is pointed at the wrong server (not a gatekeeper, a redirect): bad configuration, exit 2. */
    readonly configuration = false,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Client {
  registry: string;
  token: string | undefined;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/** How long one call may take, as npm-registry-fetch allowed before. */
const TIMEOUT_MS = 30_000;

const SET_URL = 'Set GATEKEEPER_URL (or --registry) to the address of the gatekeeper itself, e.g. http://gatekeeper.internal:4873/';

/**
 * One JSON call to the registry at `registry` (`path` from its root, which may have a path of
 * its own). Redirects are never followed: the admin API never redirects, and following one
 * would send the token (or a password) to wherever it points, a port or scheme change
 * included. `admin` says the path is the admin API's: a 404 without the gatekeeper's error
 * code, or an answer that is not JSON, then means the server is no gatekeeper.
 */
export async function callRegistry<T>(registry: string, method: string, path: string, opts: { token?: string; body?: unknown; admin?: boolean } = {}): Promise<T> {
  const url = `${registry.replace(/\/?$/, '/')}${path.replace(/^\//, '')}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const where = `${method} ${path.split('?')[0]}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new ApiError(
      `[EUNREACHABLE] cannot reach the gatekeeper at ${registry} (${shownValue(why, 200)}). Check that it runs and that GATEKEEPER_URL (or --registry) is its address`,
      0,
      e.cause?.code ?? 'EUNREACHABLE',
    );
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    const location = res.headers.get('location');
    throw new ApiError(
      `[EREDIRECT] the server at ${registry} answered ${where} with ${res.status}, a redirect to ${location ? shownValue(location, 300) : '(no location)'}; ` +
        `the gatekeeper command follows no redirect (the admin API never redirects, and the token must not go elsewhere). ${SET_URL}`,
      res.status,
      'EREDIRECT',
      true,
    );
  }
  const text = await res.text();
  let body: unknown;
  let isJson = true;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    isJson = false;
  }
  const answer = body !== null && typeof body === 'object' ? (body as { error?: unknown; code?: unknown }) : undefined;
  const code = typeof answer?.code === 'string' ? answer.code : undefined;
  if (opts.admin && ((res.status === 404 && !code) || (res.ok && !isJson))) {
    throw new ApiError(
      `[ENOTGATEKEEPER] the server at ${registry} answered ${where} with ${res.status}${res.ok ? ' and no JSON' : ''}: it has no gatekeeper admin API, so it is likely not a gatekeeper (an npm registry, a proxy?). ${SET_URL}`,
      res.status,
      'ENOTGATEKEEPER',
      true,
    );
  }
  if (!res.ok) {
    const message = typeof answer?.error === 'string' ? answer.error : `the server at ${registry} answered ${where} with ${res.status} ${res.statusText}`;
    throw new ApiError(message, res.status, code);
  }
  return body as T;
}

export function createClient(flags: { registry?: string }, env: NodeJS.ProcessEnv = process.env): Client {
  const registry = resolveRegistry(flags.registry, env);
  const token = findToken(registry, env);
  return {
    registry,
    token,
    request<T>(method: string, path: string, body?: unknown): Promise<T> {
      return callRegistry<T>(registry, method, `${ADMIN_PREFIX}${path}`, { token, body, admin: true });
    },
  };
}

export const enc = encodeURIComponent;

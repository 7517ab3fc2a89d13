import npmFetch from 'npm-registry-fetch';
import { ADMIN_PREFIX } from '../admin/router';
import { findToken, nerfDart, resolveRegistry } from './npmrc';

/** A client of the admin API, authenticated with npm's token for the registry. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
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

export function createClient(flags: { registry?: string }, env: NodeJS.ProcessEnv = process.env): Client {
  const registry = resolveRegistry(flags.registry, env);
  const token = findToken(registry, env);
  return {
    registry,
    token,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const opts: Record<string, unknown> = {
        registry,
        method,
        cache: 'no-store',
        preferOnline: true,
        retry: { retries: 0 },
        headers: { accept: 'application/json' },
      };
      if (token) opts[`${nerfDart(registry)}:_authToken`] = token;
      if (body !== undefined) opts.body = body;
      try {
        return (await npmFetch.json(`${ADMIN_PREFIX}${path}`, opts as npmFetch.Options)) as T;
      } catch (err) {
        const e = err as { statusCode?: number; body?: { error?: string; code?: string }; message: string; code?: string };
        if (e.statusCode) {
          throw new ApiError(e.body?.error ?? `${e.statusCode} ${e.message}`, e.statusCode, e.body?.code);
        }
        throw new ApiError(`cannot reach the gatekeeper at ${registry}: ${e.message}`, 0, e.code);
      }
    },
  };
}

export const enc = encodeURIComponent;

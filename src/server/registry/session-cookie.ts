import type { IncomingMessage } from 'node:http';
import { SESSION_COOKIE } from '../../services/sessions';

/** The console's cookie: only under /-/gatekeeper/ (the admin API and the console), never sent to npm's routes. */
export const COOKIE_PATH = '/-/gatekeeper/';

/** The value of the request's first cookie called `name`, if it has the shape `valid` allows. */
export function cookieOf(req: IncomingMessage, name: string, valid: RegExp): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return valid.test(value) ? value : undefined;
  }
  return undefined;
}

/** The session cookie's value, if the request carries one. */
export function sessionCookieOf(req: IncomingMessage): string | undefined {
  return cookieOf(req, SESSION_COOKIE, /^[A-Za-z0-9_-]{1,200}$/);
}

function secure(req: { protocol?: string }): string {
  return req.protocol === 'https' ? '; Secure' : '';
}

export function sessionCookie(req: { protocol?: string }, value: string, maxAgeMs: number): string {
  return `${SESSION_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${Math.floor(maxAgeMs / 1000)}; HttpOnly; SameSite=Strict${secure(req)}`;
}

export function clearedSessionCookie(req: { protocol?: string }): string {
  return `${SESSION_COOKIE}=; Path=${COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict${secure(req)}`;
}

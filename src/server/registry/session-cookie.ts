import type { IncomingMessage } from 'node:http';
import { SESSION_COOKIE } from '../../services/sessions';

/**
 * The console's session cookie (docs/security.md#the-consoles-session-cookie).
 *
 * Cookies ignore ports, and a sibling subdomain may set one for the parent domain: a page on
 * another port of this host, or on another host of the parent domain, can set a cookie of our
 * name that the browser then sends to us, with a more specific Path before ours. So:
 *
 * - When the console is reached over HTTPS (the public URL is https, or the request came over
 *   TLS), the cookie is `__Host-gk_session`: the browser takes it only with `Secure`, `Path=/`
 *   and no `Domain`, so no other host and no plain-HTTP page can set it, and none can sit at
 *   a more specific path beside ours.
 * - Whatever its name, a request that carries more than one session cookie is authenticated by
 *   none of them (ESESSIONCOOKIES): nothing decides which one is ours.
 * - Signing in and out, and such a refusal, clear our cookie's name at every path it could be
 *   sent with (see strayPaths); a cookie set for a parent domain cannot be cleared from here.
 */

/** The console's cookie over plain HTTP: only under /-/gatekeeper/ (the admin API and the console), never sent to npm's routes. */
export const COOKIE_PATH = '/-/gatekeeper/';
/** Its name over HTTPS: `__Host-` makes the browser require Secure, Path=/ and no Domain. */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
/** The session's shape (services/sessions.ts makes `gks_` and 43 base64url characters). */
const SESSION_VALUE = /^[A-Za-z0-9_-]{1,200}$/;

/** What the cookie's attributes depend on: the configured public URL and the request's protocol. */
export interface CookieSite {
  settings: { publicUrl?: string };
  requestProtocol(req: IncomingMessage): string;
}

interface CookieAttributes {
  name: string;
  path: string;
  secure: boolean;
}

/** Secure (and `__Host-`) when the public URL is https, or this request came over TLS. */
export function sessionCookieAttributes(site: CookieSite, req: IncomingMessage): CookieAttributes {
  const secure = (site.settings.publicUrl ?? '').toLowerCase().startsWith('https:') || site.requestProtocol(req) === 'https';
  return secure ? { name: SECURE_SESSION_COOKIE, path: '/', secure } : { name: SESSION_COOKIE, path: COOKIE_PATH, secure };
}

/** Every value of the request's cookies called `name`, in the order the browser sent them. */
export function cookieValues(req: IncomingMessage, name: string): string[] {
  const header = req.headers.cookie;
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/**
 * The value of the request's one cookie called `name`, if it has the shape `valid` allows.
 * Several cookies of that name (one may have been set by another page of this host) give none.
 */
export function cookieOf(req: IncomingMessage, name: string, valid: RegExp): string | undefined {
  const values = [...new Set(cookieValues(req, name))];
  return values.length === 1 && valid.test(values[0]) ? values[0] : undefined;
}

export type SessionCookies = { kind: 'none' } | { kind: 'one'; value: string } | { kind: 'several'; count: number };

/**
 * The request's session cookies: none (or one that is no session's shape), exactly one, or
 * several different ones, which authenticate nothing (the caller refuses the request).
 */
export function sessionCookiesOf(site: CookieSite, req: IncomingMessage): SessionCookies {
  const values = [...new Set(cookieValues(req, sessionCookieAttributes(site, req).name))];
  if (values.length > 1) return { kind: 'several', count: values.length };
  if (values.length === 1 && SESSION_VALUE.test(values[0])) return { kind: 'one', value: values[0] };
  return { kind: 'none' };
}

function cookie(attributes: CookieAttributes, path: string, value: string, maxAgeSeconds: number): string {
  return `${attributes.name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${attributes.secure ? '; Secure' : ''}`;
}

/** The paths the console's API requests are sent to and signing in is made at: strays there are cleared. */
const SIGN_IN_PATH = '/-/gatekeeper/v1/session';

/**
 * Every cookie path a browser sends with a request for `requestPath` (RFC 6265 5.1.4: `/`, and
 * each leading part, with and without its trailing slash), and those of the sign-in path.
 */
export function strayPaths(requestPath: string): string[] {
  const paths = new Set<string>();
  for (const full of [SIGN_IN_PATH, requestPath]) {
    // A path that could break the header (or is not one of ours) adds nothing.
    if (!full.startsWith('/') || full.length > 500 || /[^\x21-\x7e]|[;,]/.test(full)) continue;
    paths.add('/');
    for (let i = 1; i < full.length; i++) {
      if (full[i] !== '/') continue;
      paths.add(full.slice(0, i));
      paths.add(full.slice(0, i + 1));
    }
    paths.add(full);
  }
  // Only those an admin API request can carry: a cookie elsewhere never reaches the API.
  return [...paths].filter((path) => COOKIE_PATH.startsWith(path) || path.startsWith(COOKIE_PATH));
}

/** The request's path as sent (cookie paths match it before any decoding). */
function rawPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Set-Cookie headers that clear a cookie of our name at every path it could be sent with to
 * this request or to sign-in, except our own cookie's: another page of this host may have set
 * one there. Over HTTPS there are none (a `__Host-` cookie has Path=/ only, which is ours).
 */
export function clearedStrayCookies(site: CookieSite, req: IncomingMessage): string[] {
  const attributes = sessionCookieAttributes(site, req);
  if (attributes.name === SECURE_SESSION_COOKIE) return [];
  return strayPaths(rawPath(req))
    .filter((path) => path !== attributes.path)
    .map((path) => cookie(attributes, path, '', 0));
}

/** Sign-in's Set-Cookie headers: the session, and every stray of its name cleared. */
export function sessionCookie(site: CookieSite, req: IncomingMessage, value: string, maxAgeMs: number): string[] {
  const attributes = sessionCookieAttributes(site, req);
  return [...clearedStrayCookies(site, req), cookie(attributes, attributes.path, value, Math.floor(maxAgeMs / 1000))];
}

/** Sign-out's (and an ended session's) Set-Cookie headers: the session's cookie and every stray cleared. */
export function clearedSessionCookie(site: CookieSite, req: IncomingMessage): string[] {
  const attributes = sessionCookieAttributes(site, req);
  return [...clearedStrayCookies(site, req), cookie(attributes, attributes.path, '', 0)];
}

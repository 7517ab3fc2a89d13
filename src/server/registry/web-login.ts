import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { asGatekeeperError, GatekeeperError, statusText } from '../../core/errors';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SSO_COOKIE, SSO_COOKIE_PATH, SSO_PATHS } from '../../services/sso';
import { writeAnyError, writeError } from '../http/write-error';
import type { GatekeeperRuntime } from '../runtime';
import { actorOf } from './identity';
import { routeOf } from './routes';
import { cookieOf, sessionCookie, sessionCookieAttributes } from './session-cookie';

/**
 * npm's web login and the console's sign-in through the identity provider (docs/sso.md):
 *
 * - `POST /-/v1/login`                  npm asks for a login: `{loginUrl, doneUrl}`
 * - `GET  /-/v1/login/sso/start/:login`  the loginUrl, in the browser: who asked and when, and a
 *                                        button (POST, same URL) on to the IdP
 * - `GET  /-/v1/login/sso/console`       the console's "Sign in with …": to the IdP
 * - `GET  /-/v1/login/sso/callback`      the IdP's redirect back (the redirect URI)
 * - `GET  /-/v1/login/done/:secret`      npm polls: 202 with Retry-After, then 200 `{token}` once
 *
 * Without SSO, `POST /-/v1/login` answers 404, and npm falls back to its password login.
 */

function handler(runtime: GatekeeperRuntime, what: string, fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res) => {
    fn(req, res).catch((err) =>
      writeAnyError(res, err, (e) => {
        runtime.logger.error({ err: e }, `${what} failed`);
        return new GatekeeperError('EINTERNAL', `${what} failed inside the gatekeeper. Try again; the server log has the details`);
      }),
    );
  };
}

function ssoOf(runtime: GatekeeperRuntime) {
  if (!runtime.sso) {
    throw new GatekeeperError('ENOTFOUND', 'web login is not offered here (no identity provider is configured). npm falls back to the password login');
  }
  return runtime.sso;
}

/**
 * A sign-in cookie's name and attributes. Over HTTPS (as the session cookie decides it,
 * session-cookie.ts) it is `__Host-<name>` at Path=/: the browser takes it only with Secure and
 * no Domain, so no sibling subdomain, other port or plain-HTTP page of this host can plant one.
 * A planted verifier would tie the IdP's callback to the attacker's login (their npm login
 * would get the victim's token, or the victim's browser their session). Over plain HTTP,
 * where nothing can stop that, it is the name alone, under the sign-in paths.
 */
function signInCookie(runtime: GatekeeperRuntime, req: IncomingMessage, base: string): { name: string; attributes: string } {
  return sessionCookieAttributes(runtime, req).secure ? { name: `__Host-${base}`, attributes: 'Path=/; Secure' } : { name: base, attributes: `Path=${SSO_COOKIE_PATH}` };
}

const loginTtlSeconds = (runtime: GatekeeperRuntime) => Math.floor((runtime.sso?.options.loginTtlMs ?? 600_000) / 1000);

/** The PKCE verifier's cookie (cleared: empty, Max-Age=0): HttpOnly, Lax (the IdP's redirect back is a cross-site navigation). */
function verifierCookie(runtime: GatekeeperRuntime, req: IncomingMessage, verifier: string, maxAge = loginTtlSeconds(runtime)): string {
  const { name, attributes } = signInCookie(runtime, req, SSO_COOKIE);
  return `${name}=${verifier}; ${attributes}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax`;
}

const clearedVerifierCookie = (runtime: GatekeeperRuntime, req: IncomingMessage): string => verifierCookie(runtime, req, '', 0);

/** The sign-in cookies' values: random, base64url. */
const SIGN_IN_COOKIE_VALUE = /^[A-Za-z0-9_-]{43,128}$/;

const verifierOf = (runtime: GatekeeperRuntime, req: IncomingMessage) => cookieOf(req, signInCookie(runtime, req, SSO_COOKIE).name, SIGN_IN_COOKIE_VALUE);

/**
 * The loginUrl's confirmation: the page sets this cookie (SameSite=Strict, so another site's
 * form cannot send it) and its button posts the same value back in the query.
 */
const CONFIRM_COOKIE = 'gk_sso_confirm';

function confirmCookie(runtime: GatekeeperRuntime, req: IncomingMessage, value: string): string {
  const { name, attributes } = signInCookie(runtime, req, CONFIRM_COOKIE);
  return `${name}=${value}; ${attributes}; Max-Age=${loginTtlSeconds(runtime)}; HttpOnly; SameSite=Strict`;
}

/** The page a loginUrl opens: who asked, when, and a button on to the IdP. */
function confirmPage(idp: string, action: string, createdAt: Date, clientIp: string | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in to npm · npm-gatekeeper</title></head>
<body><main><h1>Log in to npm</h1>
<p>An <code>npm login</code> asked to log in at ${escapeHtml(createdAt.toISOString())}${clientIp ? ` from ${escapeHtml(clientIp)}` : ''}.
Continue only if you just ran it yourself: whoever ran it receives a token that acts as you.</p>
<form method="post" action="${escapeHtml(action)}"><button type="submit">Continue with ${escapeHtml(idp)}</button></form>
</main></body></html>
`;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page the browser ends on after an npm web login. */
function donePage(username: string, role: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed in · npm-gatekeeper</title></head>
<body><main><h1>Signed in</h1>
<p>You are signed in as <strong>${escapeHtml(username)}</strong> (${escapeHtml(role)}). Go back to the terminal: npm finishes the login. You can close this window.</p>
</main></body></html>
`;
}

const NO_STORE = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };

/**
 * The headers of the pages shown here (the loginUrl's confirmation, the done page): no script,
 * no other origin, and never in a frame (another site could overlay the confirmation's button
 * and have it pressed), like the console's pages.
 */
function pageHeaders(formAction: boolean): Record<string, string> {
  return {
    ...NO_STORE,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; ${formAction ? "form-action 'self'; " : ''}base-uri 'none'; frame-ancestors 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
  };
}

export function webLoginHandlers(runtime: GatekeeperRuntime): { webLogin: RequestHandler; webLoginDone: RequestHandler; sso: RequestHandler } {
  return {
    webLogin: handler(runtime, 'starting a web login', async (req, res) => {
      const sso = ssoOf(runtime);
      const urls = await sso.createNpmLogin(actorOf(req).ip);
      res.set(NO_STORE).status(200).json(urls);
    }),

    webLoginDone: handler(runtime, 'checking a web login', async (req, res) => {
      const sso = ssoOf(runtime);
      let result: Awaited<ReturnType<typeof sso.done>>;
      try {
        result = await sso.done(routeOf(req)?.params.secret ?? '', actorOf(req).ip);
      } catch (err) {
        const known = asGatekeeperError(err);
        if (!known) throw err;
        // npm takes any 4xx here for "web login not supported" and prints no body, but it
        // prints an npm-notice header: the reason, before its fallback prompt.
        writeError(res, known, { 'npm-notice': statusText(`gatekeeper: ${known.toBody().error}`) });
        return;
      }
      if (result.pending) {
        res.set({ ...NO_STORE, 'retry-after': '1' }).status(202).json({});
        return;
      }
      runtime.logger.info({ username: result.user.username }, 'token issued through npm web login');
      res.set(NO_STORE).status(200).json({ token: result.token });
    }),

    sso: handler(runtime, 'signing in through the identity provider', async (req, res) => {
      const sso = ssoOf(runtime);
      const match = routeOf(req);
      const ip = actorOf(req).ip;
      if (match?.route.name === 'sso_start' && req.method !== 'POST') {
        const loginId = match.params.login ?? '';
        const login = await sso.describeNpmLogin(loginId);
        const confirm = randomBytes(32).toString('base64url');
        res
          .set({ ...pageHeaders(true), 'set-cookie': confirmCookie(runtime, req, confirm) })
          .status(200)
          .send(confirmPage(sso.name, `${SSO_PATHS.start}${loginId}?confirm=${confirm}`, login.createdAt, login.clientIp));
        return;
      }
      if (match?.route.name === 'sso_start' || match?.route.name === 'sso_console') {
        if (match.route.name === 'sso_start') {
          const expected = cookieOf(req, signInCookie(runtime, req, CONFIRM_COOKIE).name, SIGN_IN_COOKIE_VALUE);
          const given = match.query.get('confirm') ?? '';
          const [a, b] = [Buffer.from(expected ?? ''), Buffer.from(given)];
          // Compared as bytes: a value of the same length in characters can differ in bytes (timingSafeEqual would throw).
          if (!expected || a.length !== b.length || !timingSafeEqual(a, b)) {
            throw new GatekeeperError('ESSOINVALID', 'this login was not confirmed on its page. Open the link npm printed and press the button there');
          }
        }
        const started =
          match.route.name === 'sso_start' ? await sso.startNpmLogin(match.params.login ?? '') : await sso.startConsoleLogin(match.query.get('next') ?? undefined, ip);
        res.set({ ...NO_STORE, 'set-cookie': verifierCookie(runtime, req, started.verifier), location: started.location }).status(302).end();
        return;
      }
      // The callback: every parameter once (a repeated one is refused by openid-client's checks).
      const params: Record<string, string> = {};
      for (const [key, value] of match?.query ?? []) {
        if (key in params) throw new GatekeeperError('ESSOINVALID', `the parameter '${key}' came twice. Start the sign-in again`);
        params[key] = value;
      }
      res.setHeader('set-cookie', clearedVerifierCookie(runtime, req));
      const result = await sso.callback(params, verifierOf(runtime, req), ip);
      if (result.kind === 'console') {
        res.set({ ...NO_STORE, 'set-cookie': [clearedVerifierCookie(runtime, req), ...sessionCookie(runtime, req, result.session, runtime.sessions.ttlMs)], location: result.next }).status(303).end();
        return;
      }
      res
        .set(pageHeaders(false))
        .status(200)
        .send(donePage(result.user.username, result.user.role));
    }),
  };
}

import express, { NextFunction, Request, Response } from 'express';
import { parseSize } from '../../core/duration';
import { writeError } from '../http/write-error';
import { BodyKind, JSON_BODY_LIMIT, noRoute, routeOf } from './routes';
import { asGatekeeperError, GatekeeperError } from '../../core/errors';
import type { Actor } from '../../services/audit';
import type { Principal } from '../../services/identity';
import type { GatekeeperRuntime } from '../runtime';
import { CSRF_HEADER, csrfMatches, isSessionValue } from '../../services/sessions';
import { clearedSessionCookie, clearedStrayCookies, SessionCookies, sessionCookiesOf } from './session-cookie';

/**
 * Resolves the caller of every request from our own tokens (Bearer) or a username and
 * password (Basic), on every request, so a revoked token or a disabled user is refused on
 * its next use. Installed as the auth plugin's `apiJWTmiddleware`, replacing Verdaccio's.
 */

const PRINCIPAL = Symbol.for('npm-gatekeeper.principal');

type WithPrincipal = Request & { [PRINCIPAL]?: Principal; remote_user?: unknown };

export function principalOfRequest(req: Request): Principal | undefined {
  return (req as WithPrincipal)[PRINCIPAL];
}

const SESSION = Symbol.for('npm-gatekeeper.session');

/** The console session cookie that authenticated this request (undefined: a token, Basic, or anonymous). */
export function sessionOfRequest(req: Request): string | undefined {
  return (req as Request & { [SESSION]?: string })[SESSION];
}

/** Methods that change nothing: a cookie-authenticated call needs no CSRF token for these. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The methods admin changes use (any other is the admin router's 405). */
const ADMIN_WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The console's sign-in: the one admin call that ignores a session cookie (it makes a new one). */
function isSignIn(req: Request): boolean {
  return req.method === 'POST' && routeOf(req)?.params['*'] === 'session';
}

/** The routes that sign someone in (npm's web login, the IdP's callback): credentials they carry are ignored. */
const LOGIN_HANDLERS = new Set(['webLogin', 'webLoginDone', 'sso']);

/** The handlers under /-/gatekeeper/ (routes.ts): their answers carry no CORS headers. */
const SAME_ORIGIN_HANDLERS = new Set(['admin', 'console', 'metrics']);

/** The header a caller of the admin API (the console) gives its reason for a change in, URI-encoded. */
export const REASON_HEADER = 'x-gatekeeper-reason';

/** Who is calling, from where. Registry requests (npm's) carry no reason: their entries' `reason` is the gatekeeper's own (a refusal's message). */
export function actorOf(req: Request): Actor {
  return { username: principalOfRequest(req)?.username ?? '$anonymous', ip: req.ip ?? req.socket.remoteAddress ?? null };
}

/** An admin API caller, with the reason it gave for its change (X-Gatekeeper-Reason), recorded as `reason` in every audit entry the change writes. */
export function adminActorOf(req: Request): Actor {
  const actor = actorOf(req);
  const reason = reasonOf(req.headers[REASON_HEADER]);
  if (reason) actor.reason = reason;
  return actor;
}

function reasonOf(header: unknown): string | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  let text: string;
  try {
    text = decodeURIComponent(header);
  } catch {
    text = header;
  }
  // Audit details are sanitised when stored; this only bounds and trims.
  text = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 1000);
  return text || undefined;
}

export interface RemoteUserHelpers {
  createRemoteUser(name: string, groups: string[]): unknown;
  createAnonymousRemoteUser(): unknown;
}

function parseAuthorization(header: string): { scheme: string; value: string } | undefined {
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  return { scheme: header.slice(0, space).toLowerCase(), value: header.slice(space + 1).trim() };
}

async function resolve(runtime: GatekeeperRuntime, header: string, ip: string | null | undefined): Promise<Principal> {
  const parsed = parseAuthorization(header);
  if (parsed?.scheme === 'bearer' && parsed.value) {
    // A console session lives in its cookie only, where it expires and needs its CSRF token.
    if (isSessionValue(parsed.value)) throw new GatekeeperError('EUNAUTHENTICATED', 'a console session is not a token. Use a token from npm login or gatekeeper login');
    return runtime.identity.resolveToken(parsed.value);
  }
  if (parsed?.scheme === 'basic' && parsed.value) {
    const decoded = Buffer.from(parsed.value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return runtime.identity.resolveBasic(decoded.slice(0, colon), decoded.slice(colon + 1), ip);
  }
  throw new GatekeeperError('EUNAUTHENTICATED', "the Authorization header is not a Bearer token or Basic credentials. Log in with 'npm login', or send 'Authorization: Bearer <token>'");
}

/**
 * Bodies are read only once the caller is known, and only as large as the matched route
 * allows (see routes.ts). Verdaccio's request logger listens for 'data', which would set the
 * stream flowing; the stream is paused until the credential check is done, so nothing is
 * lost and nothing is buffered meanwhile. body-parser marks what it parsed (`req._body`), so
 * every later parser, ours or Verdaccio's, uses `req.body` as it is.
 */
function bodyReader(runtime: GatekeeperRuntime) {
  const parsers = new Map<string, ReturnType<typeof express.json>>();
  const parserFor = (limit: string) => {
    let parser = parsers.get(limit);
    if (!parser) {
      parser = express.json({ limit, type: ['application/json', 'application/*+json'], strict: false });
      parsers.set(limit, parser);
    }
    return parser;
  };
  const limits: Record<Exclude<BodyKind, 'none' | 'stream'>, string> = { json: JSON_BODY_LIMIT, publish: runtime.settings.maxBodySize };
  return (req: Request, res: Response, kind: BodyKind, next: () => void): void => {
    if (kind === 'none' || kind === 'stream') return next();
    if (hasEmptyBody(req) || req.readableEnded) {
      // An empty body has nothing to parse: it is marked as parsed (no body, as body-parser
      // marks a request without one), so no later parser reads the stream. A paused stream keeps
      // every byte of a body buffered, but an empty one (a chunked body of no chunks too) may
      // have ended meanwhile: readable.resume() reads nothing, sees the end and emits it, and
      // body-parser would then fail with 'stream is not readable'.
      markParsed(req);
      return next();
    }
    const limit = limits[kind];
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > parseSize(limit)) {
      res.setHeader('connection', 'close');
      writeError(res, tooLarge(kind, limit));
      return;
    }
    parserFor(limit)(req, res, (err?: unknown) => {
      if (!err) return next();
      const e = err as { type?: string; message?: string };
      res.setHeader('connection', 'close');
      writeError(
        res,
        e.type === 'entity.too.large'
          ? tooLarge(kind, limit)
          : e.type === 'encoding.unsupported' || e.type === 'charset.unsupported'
            ? new GatekeeperError('EUNSUPPORTEDMEDIATYPE', `the request body's encoding is not supported (${e.message ?? ''}). Send JSON as UTF-8, plain or gzip`)
            : e.type === 'entity.parse.failed'
              ? new GatekeeperError('EVALIDATION', `the request body is not valid JSON (${e.message ?? 'parse error'}). Check what the client sent`)
              : // A stream error (aborted, not readable) says nothing the client can act on.
                new GatekeeperError('EVALIDATION', 'the request body could not be read to its end. Send the request again, with its whole body'),
      );
    });
  };
}

/** body-parser's own mark (`req._body`): every later parser, ours or Verdaccio's, takes `req.body` as it is. */
function markParsed(req: Request): void {
  const parsed = req as Request & { _body?: boolean };
  parsed._body = true;
  if (parsed.body === undefined) parsed.body = {};
}

/** A request that declares no body: `content-length: 0` and no chunked transfer. */
function hasEmptyBody(req: { headers: Record<string, string | string[] | undefined> }): boolean {
  return req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined;
}

function tooLarge(kind: BodyKind, limit: string): GatekeeperError {
  return new GatekeeperError(
    'EPAYLOADTOOLARGE',
    kind === 'publish'
      ? `the request body is larger than the ${limit} this registry accepts for a publish (GATEKEEPER_MAX_BODY_SIZE). Publish a smaller package or ask the operator`
      : `the request body is larger than the ${limit} this route accepts. Send less`,
  );
}

/** The refusal of a request with several console session cookies: none of them is taken. */
export function severalSessionCookies(count: number): GatekeeperError {
  return new GatekeeperError(
    'ESESSIONCOOKIES',
    `this request carries ${count} different console session cookies, and none of them is used: another page of this host may have set one. Sign in again; if this keeps happening, clear this site's cookies in the browser and serve the console over HTTPS (docs/security.md)`,
  );
}

/** The admin API's answer to a caller without credentials. */
export function adminLoginRequired(): GatekeeperError {
  return new GatekeeperError('EUNAUTHENTICATED', "this route needs a token: log in with 'gatekeeper login' or 'npm login'");
}

export function createIdentityMiddleware(runtime: GatekeeperRuntime, helpers: RemoteUserHelpers) {
  const readBody = bodyReader(runtime);
  return function identify(req: Request, res: Response, next: NextFunction): void {
    const match = routeOf(req);
    if (!match) {
      // The request listener refuses what the route table does not list; fail closed anyway.
      writeError(res, noRoute(req));
      return;
    }
    // The admin API, the console and the metrics are same-origin only: Verdaccio's CORS
    // middleware (before ours) allows every origin to read every answer; not these.
    if (SAME_ORIGIN_HANDLERS.has(match.route.handler)) res.removeHeader('access-control-allow-origin');
    const kind = match.route.body;
    // Logging in needs no credentials: a stale token npm still sends must not refuse the login.
    const header = LOGIN_HANDLERS.has(match.route.handler) ? undefined : req.headers.authorization;
    if (kind === 'publish' && !header) {
      // Anonymous callers cannot publish: refused before a byte of the body is read.
      res.setHeader('connection', 'close');
      writeError(res, new GatekeeperError('EUNAUTHENTICATED', `publishing needs a login. Run 'npm login --registry ${runtime.publicUrl(req)}'`));
      return;
    }
    // The console's session cookie counts for the admin API only (the cookie's path is
    // /-/gatekeeper/ too); npm's routes never see it.
    const cookies: SessionCookies = !header && match.route.handler === 'admin' && !isSignIn(req) ? sessionCookiesOf(runtime, req) : { kind: 'none' };
    if (cookies.kind === 'several') {
      // Another page of this host may have set one (cookies ignore ports; a sibling subdomain can
      // set one for the parent domain): none is taken. The others are cleared where they can be;
      // ours stays until sign-in replaces it (clearing it could leave only a stray we cannot clear).
      res.setHeader('connection', 'close');
      writeError(res, severalSessionCookies(cookies.count), { 'set-cookie': clearedStrayCookies(runtime, req) });
      return;
    }
    const session = cookies.kind === 'one' ? cookies.value : undefined;
    if (!header && !session) {
      if (match.route.handler === 'admin' && ADMIN_WRITES.has(req.method) && match.params['*'] !== 'session') {
        // Every admin change but signing in and out needs a login: refused before its body is read.
        res.setHeader('connection', 'close');
        writeError(res, adminLoginRequired());
        return;
      }
      setAnonymous(req, res);
      return readBody(req, res, kind, next);
    }
    req.pause();
    const resolved: Promise<Principal> = session
      ? runtime.sessions.resolve(session).then((info) => {
          if (!SAFE_METHODS.has(req.method) && !csrfMatches(session, req.headers[CSRF_HEADER])) {
            throw new GatekeeperError('ECSRF', `a change made with the console's session needs its CSRF token in the ${CSRF_HEADER} header. Reload the console, or sign in again`);
          }
          (req as Request & { [SESSION]?: string })[SESSION] = session;
          return { username: info.username, role: info.role, tokenId: info.tokenId };
        })
      : resolve(runtime, header as string, actorOf(req).ip);
    resolved.then(
      (principal) => {
        const request = req as WithPrincipal;
        request[PRINCIPAL] = principal;
        request.remote_user = helpers.createRemoteUser(principal.username, [principal.role]);
        res.locals.remote_user = request.remote_user;
        req.resume();
        readBody(req, res, kind, next);
      },
      (err) => {
        const known = asGatekeeperError(err);
        if (!known) runtime.logger.error({ err }, 'resolving credentials failed');
        res.setHeader('connection', 'close');
        // An ended or expired session's cookie is cleared, so the console shows its sign-in.
        const clear = session && known && known.code !== 'ECSRF' ? { 'set-cookie': clearedSessionCookie(runtime, req) } : undefined;
        writeError(res, known ?? new GatekeeperError('EDATABASE', `credentials could not be checked (${(err as Error).message}). Try again later`), clear);
      },
    );
  };

  function setAnonymous(req: Request, res: Response): void {
    const request = req as WithPrincipal;
    request.remote_user = helpers.createAnonymousRemoteUser();
    res.locals.remote_user = request.remote_user;
  }
}

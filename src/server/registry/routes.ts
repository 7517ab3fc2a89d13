import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RefusableWrite } from '../../core/audit-actions';
import { ErrorCode, GatekeeperError, isErrorCode } from '../../core/errors';
import { can } from '../../core/roles';
import { scopeAllowsWrite } from '../../core/sso';
import { canonicalTarget, compileRoutes, HttpMethod, RouteMatch } from '../../core/route-table';
import type { GatekeeperRuntime } from '../runtime';
import { writeAnyError, writeError } from '../http/write-error';
import { actorOf, principalOfRequest } from './identity';

/**
 * The registry's HTTP surface: every method and path it answers, one line each, with the
 * handler that answers it, who may call it and what body it takes. A request that matches
 * no line is refused (404, or 405 with `Allow`) before express, body parsing or Verdaccio
 * see it; Verdaccio is reached only through the lines whose handler passes a request on
 * (publish and other writes, after our checks). test/integration/routes.test.ts enumerates
 * Verdaccio's own routes and proves each one is here or refused.
 *
 * Access:
 * - `public`: anyone (login, logout, ping).
 * - `read`: the `install` permission; anonymous callers only when GATEKEEPER_REQUIRE_AUTH is off.
 * - `login`: any authenticated user.
 * - `publish`: an authenticated user; which names they may write is the write guard's decision.
 * - `own`: the admin API, whose every route checks the caller's role itself.
 * - `metrics`: an admin, or a connection from an address in GATEKEEPER_METRICS_ALLOW.
 *
 * Bodies (read only after the caller's credentials are checked):
 * - `none`: no body is read;
 * - `json`: JSON up to JSON_BODY_LIMIT;
 * - `publish`: JSON up to GATEKEEPER_MAX_BODY_SIZE, for authenticated callers only;
 * - `stream`: passed on as a stream, up to GATEKEEPER_MAX_BODY_SIZE, never buffered whole.
 */

export type Access = 'public' | 'read' | 'login' | 'publish' | 'own' | 'metrics';
export type BodyKind = 'none' | 'json' | 'publish' | 'stream';

export type HandlerName =
  | 'ping'
  | 'whoami'
  | 'login'
  | 'logout'
  | 'webLogin'
  | 'webLoginDone'
  | 'sso'
  | 'npmTokens'
  | 'profile'
  | 'search'
  | 'audit'
  | 'admin'
  | 'distTags'
  | 'distTagWrite'
  | 'packument'
  | 'version'
  | 'tarball'
  | 'publish'
  | 'change'
  | 'unpublish'
  | 'removeTarball'
  | 'root'
  | 'console'
  | 'metrics'
  | 'unsupported';

export interface RegistryRoute {
  name: string;
  methods: readonly HttpMethod[];
  path: string;
  handler: HandlerName;
  access: Access;
  body: BodyKind;
}

const route = (name: string, methods: HttpMethod[], path: string, handler: HandlerName, access: Access, body: BodyKind = 'none'): RegistryRoute => ({
  name,
  methods,
  path,
  handler,
  access,
  body,
});

/** Every method: the admin router answers each path's own methods, OPTIONS, and 405 with its `Allow`. */
const ANY: HttpMethod[] = ['*'];

// prettier-ignore
export const REGISTRY_ROUTES: readonly RegistryRoute[] = [
  route('root',              ['GET'],         '/',                                  'root',          'public'),
  route('ping',              ['GET'],         '/-/ping',                            'ping',          'public'),
  route('whoami',            ['GET'],         '/-/whoami',                          'whoami',        'login'),
  route('login',             ['PUT'],         '/-/user/:user',                      'login',         'public',  'json'),
  route('logout',            ['DELETE'],      '/-/user/token/:token',               'logout',        'public'),
  route('web_login',         ['POST'],        '/-/v1/login',                        'webLogin',      'public',  'json'),
  route('web_login_done',    ['GET'],         '/-/v1/login/done/:secret',           'webLoginDone',  'public'),
  route('sso_start',         ['GET', 'POST'], '/-/v1/login/sso/start/:login',       'sso',           'public'),
  route('sso_console',       ['GET'],         '/-/v1/login/sso/console',            'sso',           'public'),
  route('sso_callback',      ['GET'],         '/-/v1/login/sso/callback',           'sso',           'public'),
  route('list_tokens',       ['GET'],         '/-/npm/v1/tokens',                   'npmTokens',     'login'),
  route('create_token',      ['POST'],        '/-/npm/v1/tokens',                   'npmTokens',     'login',   'json'),
  route('revoke_token',      ['DELETE'],      '/-/npm/v1/tokens/token/:key',        'npmTokens',     'login'),
  route('profile',           ['GET', 'POST'], '/-/npm/v1/user',                     'profile',       'login',   'json'),
  route('search',            ['GET'],         '/-/v1/search',                       'search',        'read'),
  route('audit_bulk',        ['POST'],        '/-/npm/v1/security/advisories/bulk', 'audit',         'read',    'stream'),
  route('audit_quick',       ['POST'],        '/-/npm/v1/security/audits/quick',    'audit',         'read',    'stream'),
  route('audit_full',        ['POST'],        '/-/npm/v1/security/audits',          'audit',         'read',    'stream'),
  route('console',           ['GET'],         '/-/gatekeeper/ui/*',                 'console',       'public'),
  route('metrics',           ['GET'],         '/-/gatekeeper/metrics',              'metrics',       'metrics'),
  route('admin_api',         ANY,             '/-/gatekeeper/v1/*',                 'admin',         'own',     'json'),
  route('get_dist_tags',     ['GET'],         '/-/package/:package/dist-tags',      'distTags',      'read'),
  route('set_dist_tag',      ['PUT', 'POST'], '/-/package/:package/dist-tags/:tag', 'distTagWrite',  'publish', 'json'),
  route('remove_dist_tag',   ['DELETE'],      '/-/package/:package/dist-tags/:tag', 'distTagWrite',  'publish'),
  route('packument',         ['GET'],         '/:package',                          'packument',     'read'),
  route('publish',           ['PUT'],         '/:package',                          'publish',       'publish', 'publish'),
  route('version',           ['GET'],         '/:package/:version',                 'version',       'read'),
  route('legacy_dist_tag',   ['PUT'],         '/:package/:tag',                     'distTagWrite',  'publish', 'json'),
  route('tarball',           ['GET'],         '/:package/-/:filename',              'tarball',       'read'),
  route('scoped_tarball',    ['GET'],         '/:package/-/:scope/:filename',       'tarball',       'read'),
  route('unpublish_versions',['PUT'],         '/:package/-rev/:rev',                'change',        'publish', 'publish'),
  route('unpublish_package', ['DELETE'],      '/:package/-rev/:rev',                'unpublish',     'publish'),
  route('remove_tarball',    ['DELETE'],      '/:package/-/:filename/-rev/:rev',    'removeTarball', 'publish'),
  // npm owner add/rm (their user lookup), npm access, npm team and npm org: refused with ENOTSUPPORTED.
  route('npm_user',          ['GET'],         '/-/user/:user',                      'unsupported',   'public'),
  route('npm_user_packages', ['GET'],         '/-/user/:user/package',              'unsupported',   'public'),
  route('npm_access',        ['GET', 'POST', 'PUT'], '/-/package/:package/access',  'unsupported',   'public'),
  route('npm_visibility',    ['GET'],         '/-/package/:package/visibility',     'unsupported',   'public'),
  route('npm_collaborators', ['GET'],         '/-/package/:package/collaborators',  'unsupported',   'public'),
  route('npm_org',           ['GET', 'PUT', 'POST', 'DELETE'], '/-/org/*',          'unsupported',   'public'),
  route('npm_team',          ['GET', 'PUT', 'POST', 'DELETE'], '/-/team/*',         'unsupported',   'public'),
];

/**
 * The refusal of the npm commands this registry does not support: `npm owner` (its user lookup,
 * and `npm owner ls`'s packument read, which npm marks with `npm-command: owner`), `npm access`,
 * `npm team` and `npm org`. Who may publish is decided by publish rules.
 */
export function unsupportedCommand(): GatekeeperError {
  return new GatekeeperError(
    'ENOTSUPPORTED',
    'npm owner, access, team and org are not supported by this registry: publish rules decide who may publish a package. ' +
      "See them with 'gatekeeper publish-rule list'; an admin grants publishing with 'gatekeeper publish-rule add <name|@scope/*> --role R' (or --user U)",
  );
}

/** The handler of the `unsupported` routes. */
export const refuseUnsupported: RequestHandler = (_req, res) => writeError(res, unsupportedCommand());

/**
 * The handlers that may pass a request on, after their checks: to Verdaccio (writes, the
 * unfiltered `?write=true` packument) or to the admin API's router. Tarballs never reach
 * Verdaccio: the gate serves them from storage or fetches them itself. Every other handler answers itself; if it called `next()`, the request is refused.
 */
export const PASSES_ON: ReadonlySet<HandlerName> = new Set<HandlerName>([
  'admin',
  'packument',
  'publish',
  'change',
  'unpublish',
  'removeTarball',
  'distTagWrite',
]);

/**
 * The audit action of a refused write, by handler: every refusal of an authenticated caller
 * is audited as `${write}_refused` (anonymous ones, refused with 401 before anything is read,
 * are not, so nobody can fill the audit log without a login). The publish handler refines
 * its own: a PUT without a tarball is a deprecation or a star.
 */
export const REFUSED_WRITE: Readonly<Partial<Record<HandlerName, RefusableWrite>>> = {
  publish: 'package.publish',
  change: 'package.change',
  unpublish: 'package.unpublish',
  removeTarball: 'package.remove_tarball',
  distTagWrite: 'package.dist_tag',
};

const ACCESS_TEXT: Record<Access, string> = {
  public: 'anyone',
  read: 'install permission (anyone unless GATEKEEPER_REQUIRE_AUTH)',
  login: 'a login',
  publish: 'a login; publish rules decide the name',
  own: 'per admin route (see openapi.json)',
  metrics: 'an admin, or a connection from GATEKEEPER_METRICS_ALLOW (docs/metrics.md)',
};

const BODY_TEXT: Record<BodyKind, string> = {
  none: 'none read',
  json: 'JSON, at most 1 MB',
  publish: 'JSON, at most GATEKEEPER_MAX_BODY_SIZE, after the login',
  stream: 'streamed, at most GATEKEEPER_MAX_BODY_SIZE',
};

/** The table as docs/security.md shows it (a test keeps the two the same). */
export function routeTableMarkdown(): string {
  const rows = REGISTRY_ROUTES.map((r) => `| ${r.methods[0] === '*' ? 'any (its router answers 405)' : r.methods.join(', ')} | \`${r.path}\` | ${r.name} | ${r.handler}${PASSES_ON.has(r.handler) && r.handler !== 'admin' ? ', may pass on to Verdaccio' : ''} | ${ACCESS_TEXT[r.access]} | ${BODY_TEXT[r.body]} |`);
  return ['| methods | path | route | handler | requires | body |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** JSON bodies of every route but publish: small, and refused before they are read when larger. */
export const JSON_BODY_LIMIT = '1mb';

export const registryRoutes = compileRoutes(REGISTRY_ROUTES);

export type RegistryMatch = Extract<RouteMatch<RegistryRoute>, { kind: 'match' }>;

const MATCH = Symbol.for('npm-gatekeeper.route');

/** The route the request was matched to before express (undefined: it was refused). */
export function routeOf(req: IncomingMessage): RegistryMatch | undefined {
  return (req as IncomingMessage & { [MATCH]?: RegistryMatch })[MATCH];
}

/**
 * Matches a raw request against the table. A match is remembered on the request for the
 * identity middleware (body limits) and the dispatcher; anything else is refused here, with
 * a code, and true is returned when the response was written.
 */
export function matchOrRefuse(req: IncomingMessage, res: import('node:http').ServerResponse): RegistryMatch | undefined {
  const found = registryRoutes.match(req.method ?? 'GET', req.url ?? '/');
  switch (found.kind) {
    case 'match':
      if (!isHostHeader(req.headers.host)) {
        writeError(res, new GatekeeperError('EVALIDATION', `the Host header is not a host name with an optional port. Send the registry's host, as npm does (tarball URLs are built from it)`));
        return undefined;
      }
      (req as IncomingMessage & { [MATCH]?: RegistryMatch })[MATCH] = found;
      return found;
    case 'method':
      writeError(
        res,
        new GatekeeperError('EMETHODNOTALLOWED', `${req.method} is not allowed on ${pathOf(req)}; it answers ${found.allow.join(', ')}`),
        { allow: found.allow.join(', ') },
      );
      return undefined;
    case 'invalid':
      writeError(res, new GatekeeperError('EVALIDATION', `${found.reason}. Check the package name and the URL`));
      return undefined;
    case 'none':
      writeError(res, noRoute(req));
      return undefined;
  }
}

/** A DNS name's labels (Verdaccio refuses an underscore and a trailing dot too). */
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
let lastHost = '';

/**
 * Whether the Host header may be used: it becomes part of tarball URLs, messages and cache
 * keys, so anything but a host and port is refused. No Host (HTTP/1.0) is allowed: the public
 * URL then comes from the listening address. A host is a DNS name whose last label is not all
 * digits, an IPv4 address or an [IPv6] address; a port is 1 to 65535: what Verdaccio's own
 * check (`isHost` in @verdaccio/url, which throws on anything else while it builds tarball
 * URLs) accepts, so nothing accepted here fails there.
 */
export function isHostHeader(host: string | undefined): boolean {
  if (host === undefined || host === lastHost) return true;
  if (host.length > 260 || !isHostAndPort(host)) return false;
  lastHost = host;
  return true;
}

function isHostAndPort(host: string): boolean {
  let name: string;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1 || !isIPv6(host.slice(1, end))) return false;
    const rest = host.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return false;
    port = rest === '' ? undefined : rest.slice(1);
  } else {
    const parts = host.split(':');
    if (parts.length > 2) return false;
    [name, port] = parts;
    if (!isIPv4(name) && !(HOST_NAME.test(name) && !/^[0-9]+$/.test(name.slice(name.lastIndexOf('.') + 1)))) return false;
  }
  return port === undefined || (/^[0-9]{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)).slice(0, 200);
}

/** Who may call a route, checked once the caller is known. Throws the refusal. */
export function checkAccess(runtime: GatekeeperRuntime, req: Request, access: Access): void {
  const principal = principalOfRequest(req);
  switch (access) {
    case 'public':
    case 'own':
      return;
    case 'read':
      if (runtime.settings.requireAuth && !principal) throw loginRequired(runtime, req);
      if (principal && !can(principal.role, 'install')) throw new GatekeeperError('EFORBIDDEN', `${principal.username} (${principal.role}) may not install packages. Ask an admin for another role`);
      return;
    case 'login':
      if (!principal) throw loginRequired(runtime, req, false);
      return;
    case 'publish': {
      if (!principal) throw loginRequired(runtime, req, false);
      // A scoped token (a service account's) writes only what its scope names.
      const name = routeOf(req)?.params.package ?? '';
      if (principal.scope && !scopeAllowsWrite(principal.scope, name)) {
        throw new GatekeeperError(
          'ETOKENSCOPE',
          principal.scope.kind === 'read'
            ? `this token of ${principal.username} is read-only: it may not change ${name}. Use a token with a publish scope`
            : `this token of ${principal.username} may publish only in ${principal.scope.scopes.join(', ')}, not ${name}. Ask an admin for a token with that scope`,
        );
      }
      return;
    }
    case 'metrics':
      // The connection's own address: scrapers reach each instance directly, not through a proxy.
      if (runtime.metrics.allows(req.socket.remoteAddress)) return;
      if (!principal) {
        throw new GatekeeperError(
          'EUNAUTHENTICATED',
          "the metrics are for admins and for the addresses in GATEKEEPER_METRICS_ALLOW. Send an admin's token (Authorization: Bearer) or Basic credentials, or add the scraper's address to metricsAllow",
        );
      }
      if (principal.role !== 'admin') {
        throw new GatekeeperError('EFORBIDDEN', `${principal.username} (${principal.role}) may not read the metrics. Use an admin's token, or scrape from an address in GATEKEEPER_METRICS_ALLOW`);
      }
      return;
  }
}

/**
 * The refusal of an anonymous caller: for a read under GATEKEEPER_REQUIRE_AUTH, how to log in
 * and the setting that makes each client send its saved token on every read
 * (docs/clients.md); for a route that always needs a login (`forReads` false: whoami, tokens,
 * writes), how to log in, without saying the whole registry needs one.
 */
export function loginRequired(runtime: GatekeeperRuntime, req: Request, forReads = true): GatekeeperError {
  const url = runtime.publicUrl(req);
  if (!forReads) {
    return new GatekeeperError('EUNAUTHENTICATED', `this needs a login. Run 'npm login --registry ${url}' (with yarn 4: 'yarn npm login'), then try again`);
  }
  return new GatekeeperError(
    'EUNAUTHENTICATED',
    `this registry requires a login. Run 'npm login --registry ${url}': npm, pnpm and bun then send the token it saves in .npmrc; ` +
      `yarn 1 sends it only with always-auth=true in .npmrc; yarn 4 needs 'yarn npm login' and npmAlwaysAuth: true in .yarnrc.yml (see docs/clients.md)`,
  );
}

/**
 * The dispatcher, mounted first among our middlewares: checks access for the matched route
 * and calls its handler. Handlers that pass a request on (writes, after their checks) call
 * `next()`; errors Verdaccio reports on those are written by our error writer too.
 */
export function createDispatcher(runtime: GatekeeperRuntime, handlers: Record<HandlerName, RequestHandler>) {
  return function dispatch(req: Request, res: Response, next: NextFunction): void {
    const match = routeOf(req);
    if (!match) {
      // Cannot happen: the request listener refuses unmatched requests. Fail closed anyway.
      writeError(res, noRoute(req));
      return;
    }
    try {
      checkAccess(runtime, req, match.route.access);
    } catch (err) {
      const write = REFUSED_WRITE[match.route.handler];
      // A write refused to someone logged in (a token's scope) is audited like any other refused write.
      if (write && principalOfRequest(req) && err instanceof GatekeeperError) {
        runtime.publishing
          .recordRefusedWrite(actorOf(req), write, match.params.package ?? '', err)
          .catch((e) => runtime.logger.error({ err: e }, 'auditing a refused write failed'))
          .finally(() => writeAnyError(res, err, internal(runtime)));
        return;
      }
      writeAnyError(res, err, internal(runtime));
      return;
    }
    // Verdaccio reports errors through res.locals.report_error; ours writes them instead.
    res.locals.report_error = (err: unknown) => writeAnyError(res, fromVerdaccio(err), internal(runtime));
    const passesOn = PASSES_ON.has(match.route.handler);
    // Verdaccio's router reads the raw path: it gets the one the table matched, spelled once (canonicalTarget).
    // (Verdaccio's logger puts originalUrl back into url: both are set.)
    if (passesOn && match.route.handler !== 'admin') req.url = req.originalUrl = canonicalTarget(req.url, match.params.package) ?? req.url;
    const onward: NextFunction = passesOn
      ? next
      : (err?: unknown) =>
          writeAnyError(res, err ?? noRoute(req), internal(runtime));
    try {
      const result = handlers[match.route.handler](req, res, onward) as unknown;
      if (result && typeof (result as Promise<void>).catch === 'function') {
        (result as Promise<void>).catch((err) => writeAnyError(res, err, internal(runtime)));
      }
    } catch (err) {
      writeAnyError(res, err, internal(runtime));
    }
  };
}

function internal(runtime: Pick<GatekeeperRuntime, 'logger'>) {
  return (err: unknown): GatekeeperError => {
    runtime.logger.error({ err }, 'registry request failed');
    return new GatekeeperError('EINTERNAL', 'the request failed inside the gatekeeper. Try again; the server log has the details');
  };
}

/** The refusal of a request no route (or no handler behind one) answers. */
export function noRoute(req: IncomingMessage): GatekeeperError {
  return new GatekeeperError('ENOTFOUND', `this registry has no route ${req.method} ${pathOf(req)}. docs/security.md lists the routes it answers`);
}

/**
 * What express would leave to its final handler (an HTML page, no code): a request no
 * middleware answered (Verdaccio's router included), or an error none wrote. Our error writer
 * writes it instead.
 */
export function writeUnanswered(runtime: Pick<GatekeeperRuntime, 'logger'>, req: IncomingMessage, res: import('node:http').ServerResponse, err?: unknown): void {
  writeAnyError(res, err ?? noRoute(req), internal(runtime));
}

const CODE_IN_MESSAGE = /^\[([A-Z]+)\]\s*/;

/**
 * Verdaccio's errors (http-errors with a status) as ours: a `[CODE]` the message starts
 * with (our plugins' refusals) wins, else the status picks a code.
 */
export function fromVerdaccio(err: unknown): unknown {
  const e = err as { status?: unknown; statusCode?: unknown; message?: unknown; name?: unknown } | null;
  if (!e || typeof e !== 'object' || e.name === 'GatekeeperError') return err;
  const status = Number(e.status ?? e.statusCode);
  const message = typeof e.message === 'string' ? e.message : 'the registry refused the request';
  const coded = CODE_IN_MESSAGE.exec(message);
  if (coded && isErrorCode(coded[1])) return new GatekeeperError(coded[1], message.slice(coded[0].length));
  const code =
    status === 400 ? 'EVALIDATION'
    : status === 401 ? 'EUNAUTHENTICATED'
    : status === 403 ? 'EFORBIDDEN'
    : status === 404 ? 'ENOTFOUND'
    : status === 409 ? 'ECONFLICT'
    : status === 413 ? 'EPAYLOADTOOLARGE'
    : status === 415 ? 'EUNSUPPORTEDMEDIATYPE'
    : status >= 400 && status < 500 ? 'EVALIDATION'
    : status >= 500 && status < 600 ? 'EUPSTREAM'
    : undefined;
  if (!code) return err;
  return new GatekeeperError(code, withNextStep(code, message));
}

/** What to do next after one of Verdaccio's refusals, whose messages say only what happened. */
const NEXT_STEP: Partial<Record<ErrorCode, string>> = {
  EVALIDATION: 'Check what the client sent: npm, pnpm, yarn and bun send what this registry takes',
  EUNAUTHENTICATED: "Log in with 'npm login' and try again",
  EFORBIDDEN: 'Ask an admin for the access this needs',
  ENOTFOUND: 'Check the name and version (npm view <name> versions lists them)',
  ECONFLICT: 'Read the package again (npm view) and retry; a published version is never replaced, so publish a new one',
  EPAYLOADTOOLARGE: 'Send a smaller request',
  EUNSUPPORTEDMEDIATYPE: 'Send JSON with Content-Type: application/json',
  EUPSTREAM: 'Try again later; the server log has the details',
};

/** Verdaccio's message, with the next step its code calls for when it has none (one sentence only). */
function withNextStep(code: ErrorCode, message: string): string {
  const said = message.trim().replace(/[.\s]+$/, '');
  const next = NEXT_STEP[code];
  return next && !/[.!?]\s+\S/.test(said) ? `${said}. ${next}` : message;
}

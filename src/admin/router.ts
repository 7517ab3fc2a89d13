import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { NextFunction, Request, Response, Router } from 'express';
import { asGatekeeperError, GatekeeperError } from '../core/errors';
import { can } from '../core/roles';
import { shownValue } from '../core/text';
import { mapDbError } from '../db/errors';
import { writeAnyError, writeError } from '../server/http/write-error';
import type { GatekeeperRuntime } from '../server/runtime';
import { adminActorOf, adminLoginRequired, principalOfRequest } from '../server/registry/identity';
import { assertCleanJson, assertCleanParams, assertCleanQuery } from './input';
import { openApiDocument } from './openapi';
import { successStatuses, type RouteDef } from './route';
import * as advisoryRoutes from './routes/advisories';
import * as catalogueRoutes from './routes/catalogue';
import * as consoleRoutes from './routes/console';
import * as identityRoutes from './routes/identity';
import * as licenseRoutes from './routes/licenses';
import * as policyRoutes from './routes/policy';
import * as publishingRoutes from './routes/publishing';
import * as requestRoutes from './routes/requests';
import * as systemRoutes from './routes/system';
import * as webhookRoutes from './routes/webhooks';

export const ADMIN_PREFIX = '/-/gatekeeper/v1';

export const ROUTES: readonly RouteDef[] = [
  ...Object.values(systemRoutes),
  ...Object.values(identityRoutes),
  ...Object.values(policyRoutes),
  ...Object.values(publishingRoutes),
  ...Object.values(licenseRoutes),
  ...Object.values(requestRoutes),
  ...Object.values(advisoryRoutes),
  ...Object.values(catalogueRoutes),
  ...Object.values(webhookRoutes),
  ...Object.values(consoleRoutes).filter((value): value is RouteDef => typeof value === 'object' && value !== null && 'handler' in value),
];

function authorize(route: RouteDef, req: Request): void {
  if (route.access === 'public') return;
  const principal = principalOfRequest(req);
  if (!principal) {
    throw adminLoginRequired();
  }
  if (route.access !== 'authenticated' && !can(principal.role, route.access)) {
    throw new GatekeeperError('EFORBIDDEN', `${principal.username} (${principal.role}) may not call ${route.name}. Ask an admin for a role that may (openapi.json names each route's x-required-role)`);
  }
  // A scoped token (a service account's) only reads the admin API: its scope is about packages.
  if (principal.scope && route.method !== 'get' && !route.onlyAsks?.((req.body ?? {}) as Record<string, unknown>)) {
    throw new GatekeeperError('ETOKENSCOPE', `this token of ${principal.username} is scoped (${principal.scope.kind}); it may not call ${route.name}. Use a user's token`);
  }
}

/**
 * A body with a field the route does not take is refused, not ignored: a misspelt `expires`
 * would otherwise make a permanent approval. A route that declares no body fields takes none:
 * a body with fields is refused too (an empty object, or no body, is fine). Routes whose body
 * is a document of its own (an OSV import) declare `(body)` and are not checked here.
 */
function assertKnownFields(route: RouteDef, body: unknown): void {
  if (body === undefined || route.body?.some((p) => p.name.startsWith('('))) return;
  const known = (route.body ?? []).map((p) => p.name);
  const takes = known.length > 0 ? `It takes ${known.join(', ')} (see openapi.json)` : 'It takes no body: send none, or {}';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    const what = body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`;
    throw new GatekeeperError(
      'EVALIDATION',
      known.length > 0 ? `the body of ${route.name} is a JSON object with the fields ${known.join(', ')} (see openapi.json), not ${what}` : `${route.name} takes no body, not ${what}: send none, or {}`,
    );
  }
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const named = unknown.slice(0, 5).map((k) => (k.length > 40 ? `${k.slice(0, 37)}...` : k)).join(', ');
  throw new GatekeeperError('EVALIDATION', `${route.name} does not take ${unknown.length === 1 ? 'the field' : 'the fields'} ${named}. ${takes}`, {
    fields: unknown.slice(0, 20),
  });
}

/**
 * A query parameter the route does not take is refused, not ignored (`/bans?tag=x` would
 * otherwise list every ban), and a flag is `true` or `false`: `?mine=1` must not mean false.
 */
function assertKnownQuery(route: RouteDef, query: Record<string, string | undefined>): void {
  const declared = route.query ?? [];
  const known = declared.map((q) => q.name);
  const unknown = Object.keys(query).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((k) => shownValue(k, 40)).join(', ');
    const takes = known.length === 0 ? `It takes no query parameters; leave ${unknown.length === 1 ? 'it' : 'them'} out` : `It takes ${known.join(', ')} (see openapi.json)`;
    throw new GatekeeperError('EVALIDATION', `${route.name} does not take the query ${unknown.length === 1 ? 'parameter' : 'parameters'} ${named}. ${takes}`, {
      field: `query parameter '${shownValue(unknown[0], 40)}'`,
      parameters: unknown.slice(0, 20),
    });
  }
  for (const q of declared) {
    const value = query[q.name];
    if (q.type === 'boolean' && value !== undefined && value !== 'true' && value !== 'false') {
      throw new GatekeeperError('EVALIDATION', `query parameter '${q.name}' is a flag: give ${q.name}=true or ${q.name}=false, not '${shownValue(value, 40)}'`, { field: `query parameter '${q.name}'` });
    }
  }
}

/**
 * The admin API's body limit (the registry's route table reads no larger JSON body either).
 * The largest bodies our clients send are a lockfile's entries: `gatekeeper check` sends each
 * with its integrity, about 230 bytes, so 1 MB holds about 4,000 of them (a 2,000-entry
 * lockfile is about 460 KB); `request --lockfile` and `license report` send name and version,
 * about 45 bytes, so for them the entry cap (MAX_BATCH_ENTRIES, 5,000) comes first. Larger
 * bodies are a 413 EPAYLOADTOOLARGE.
 */
export const ADMIN_BODY_LIMIT = '1mb';
export const ADMIN_BODY_LIMIT_BYTES = 1024 * 1024;

const JSON_TYPES = ['application/json', 'application/*+json'];

const tooLarge = () =>
  new GatekeeperError('EPAYLOADTOOLARGE', `the request body is larger than the ${ADMIN_BODY_LIMIT} the admin API accepts; send fewer entries per request`);

/**
 * Body checks before routing. The registry's identity middleware may have parsed the JSON
 * already (under the registry-wide GATEKEEPER_MAX_BODY_SIZE, for publishes); the admin limit
 * is then applied from Content-Length, or for a chunked body from its size as JSON.
 */
function checkBody(req: Request, _res: Response, next: NextFunction): void {
  // A method the path does not answer is refused with 405 (below the routes), whatever its body.
  if (!allowedMethods(req.path).includes(req.method)) {
    next();
    return;
  }
  if (req.is(JSON_TYPES) === false) {
    next(new GatekeeperError('EUNSUPPORTEDMEDIATYPE', `the admin API takes JSON bodies, not ${String(req.headers['content-type'] ?? 'a body without a Content-Type').slice(0, 80)}; send Content-Type: application/json`));
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > ADMIN_BODY_LIMIT_BYTES) {
    next(tooLarge());
    return;
  }
  if (req.headers['content-length'] === undefined && req.body !== undefined && typeof req.body === 'object') {
    try {
      assertCleanJson(req.body, 'body'); // bounds the depth before serialising
      if (Buffer.byteLength(JSON.stringify(req.body) ?? '') > ADMIN_BODY_LIMIT_BYTES) {
        next(tooLarge());
        return;
      }
    } catch (err) {
      next(err);
      return;
    }
  }
  next();
}

/**
 * Anything thrown that is not a GatekeeperError: the request parsers' client errors (bad JSON,
 * too large, bad percent-encoding in the path) are the client's; database errors are mapped by
 * SQLSTATE (a lost connection is EDATABASE); everything else is EINTERNAL, logged.
 */
function adminFallback(runtime: GatekeeperRuntime, req: Request) {
  return (err: unknown): GatekeeperError => {
    const e = (err ?? {}) as { type?: unknown; status?: unknown; statusCode?: unknown; message?: unknown };
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    if (status !== undefined && status >= 400 && status < 500) {
      runtime.logger.debug({ err, path: req.path }, 'admin API: malformed request');
      if (status === 413 || e.type === 'entity.too.large' || e.type === 'parameters.too.many') return tooLarge();
      if (status === 415) return new GatekeeperError('EUNSUPPORTEDMEDIATYPE', `the request body's encoding or charset is not supported: ${String(e.message)}; send UTF-8 JSON`);
      if (e.type === 'entity.parse.failed') return new GatekeeperError('EVALIDATION', `the request body is not valid JSON (${String(e.message)}). Send one JSON object with Content-Type: application/json`);
      return new GatekeeperError('EVALIDATION', `the request is malformed (${String(e.message)}); check its path, query and body`);
    }
    const mapped = asGatekeeperError(mapDbError(err, 'the request'));
    if (mapped) {
      runtime.logger.warn({ err, path: req.path }, 'admin API: database error');
      return mapped;
    }
    runtime.logger.error({ err, method: req.method, path: req.path }, 'admin API error');
    return new GatekeeperError('EINTERNAL', 'an internal error occurred; the server log has the details');
  };
}

/** The one error handler: every error response is written by writeError, its status from the code. */
export function adminErrorHandler(runtime: GatekeeperRuntime) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    writeAnyError(res, err, adminFallback(runtime, req));
  };
}

interface PathPattern {
  regex: RegExp;
  methods: Set<string>;
}

/** Which methods each route path answers (GET also HEAD), to tell a 405 from a 404. */
function pathPatterns(routes: readonly RouteDef[]): PathPattern[] {
  const byPath = new Map<string, PathPattern>();
  const add = (path: string, method: string) => {
    const key = path.replace(/:[A-Za-z_]+/g, ':');
    let pattern = byPath.get(key);
    if (!pattern) {
      const source = path
        .split('/')
        .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      pattern = { regex: new RegExp(`^${source}/?$`, 'i'), methods: new Set() };
      byPath.set(key, pattern);
    }
    pattern.methods.add(method.toUpperCase());
    if (method === 'get') pattern.methods.add('HEAD');
  };
  add('/openapi.json', 'get');
  for (const route of routes) add(route.path, route.method);
  return [...byPath.values()];
}

const shownPath = (path: string) => (path.length > 200 ? `${path.slice(0, 197)}...` : path);
const PATTERNS = pathPatterns(ROUTES);

/** The methods an admin path (below ADMIN_PREFIX) answers, sorted; empty when no route has that path. */
function allowedMethods(path: string): string[] {
  return [...new Set(PATTERNS.filter((p) => p.regex.test(path)).flatMap((p) => [...p.methods]))].sort();
}

/**
 * OPTIONS on an admin path, answered before express (whose CORS middleware would answer it
 * for every method): 204 with the path's `Allow`, or the 404 any unknown admin path gets.
 */
export function answerAdminOptions(req: IncomingMessage, res: ServerResponse): true {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).slice(ADMIN_PREFIX.length) || '/';
  const allow = allowedMethods(path);
  if (allow.length === 0) {
    writeError(res, new GatekeeperError('ENOTFOUND', `no admin route OPTIONS ${ADMIN_PREFIX}${shownPath(path)}; see ${ADMIN_PREFIX}/openapi.json`));
  } else {
    res.writeHead(204, { allow: allow.join(', '), 'cache-control': 'no-store' });
    res.end();
  }
  return true;
}

export function createAdminRouter(runtime: GatekeeperRuntime, version: string): Router {
  const router = Router();
  router.use(express.json({ limit: ADMIN_BODY_LIMIT_BYTES, type: JSON_TYPES, strict: false }));
  router.use(checkBody);
  const document = openApiDocument(ROUTES, version);
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  for (const route of ROUTES) {
    router[route.method](route.path, (req: Request, res: Response, next: NextFunction) => {
      Promise.resolve()
        .then(async () => {
          authorize(route, req);
          // One check for every route, before its handler: see ./input.ts.
          assertCleanParams(req.params as Record<string, string>);
          const query = assertCleanQuery(req.query as Record<string, unknown>);
          assertKnownQuery(route, query);
          assertCleanJson(req.body, 'body');
          const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
          assertKnownFields(route, req.body);
          const result = await route.handler({
            req,
            runtime,
            principal: principalOfRequest(req),
            actor: adminActorOf(req),
            params: req.params as Record<string, string>,
            query,
            body,
          });
          res.setHeader('cache-control', 'no-store');
          for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
          res.status(result.status ?? successStatuses(route)[0]).json(result.body);
        })
        .catch(next);
    });
  }
  router.use((req: Request, res: Response) => {
    const allowed = allowedMethods(req.path);
    if (allowed.length > 0) {
      const allow = allowed.join(', ');
      writeError(res, new GatekeeperError('EMETHODNOTALLOWED', `${ADMIN_PREFIX}${shownPath(req.path)} does not answer ${req.method}; it answers ${allow}`, { allow: allowed }), { allow });
      return;
    }
    writeError(res, new GatekeeperError('ENOTFOUND', `no admin route ${req.method} ${ADMIN_PREFIX}${shownPath(req.path)}; see ${ADMIN_PREFIX}/openapi.json`));
  });
  router.use(adminErrorHandler(runtime));
  return router;
}

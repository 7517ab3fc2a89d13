import express, { NextFunction, Request, Response } from 'express';
import { parseSize } from '../../core/duration';
import { writeError } from '../http/write-error';
import { BodyKind, JSON_BODY_LIMIT, routeOf } from './routes';
import { asGatekeeperError, GatekeeperError } from '../../core/errors';
import type { Actor } from '../../services/audit';
import type { Principal } from '../../services/identity';
import type { GatekeeperRuntime } from '../runtime';

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

export function actorOf(req: Request): Actor {
  return { username: principalOfRequest(req)?.username ?? '$anonymous', ip: req.ip ?? req.socket.remoteAddress ?? null };
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
  if (parsed?.scheme === 'bearer' && parsed.value) return runtime.identity.resolveToken(parsed.value);
  if (parsed?.scheme === 'basic' && parsed.value) {
    const decoded = Buffer.from(parsed.value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return runtime.identity.resolveBasic(decoded.slice(0, colon), decoded.slice(colon + 1), ip);
  }
  throw new GatekeeperError('EUNAUTHENTICATED', 'the Authorization header is not a Bearer token or Basic credentials');
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
            : new GatekeeperError('EVALIDATION', `the request body is not valid JSON (${e.message ?? 'parse error'}). Check what the client sent`),
      );
    });
  };
}

function tooLarge(kind: BodyKind, limit: string): GatekeeperError {
  return new GatekeeperError(
    'EPAYLOADTOOLARGE',
    kind === 'publish'
      ? `the request body is larger than the ${limit} this registry accepts for a publish (GATEKEEPER_MAX_BODY_SIZE). Publish a smaller package or ask the operator`
      : `the request body is larger than the ${limit} this route accepts. Send less`,
  );
}

export function createIdentityMiddleware(runtime: GatekeeperRuntime, helpers: RemoteUserHelpers) {
  const readBody = bodyReader(runtime);
  return function identify(req: Request, res: Response, next: NextFunction): void {
    const match = routeOf(req);
    if (!match) {
      // The request listener refuses what the route table does not list; fail closed anyway.
      writeError(res, new GatekeeperError('ENOTFOUND', `this registry has no route ${req.method} ${req.path}`));
      return;
    }
    const kind = match.route.body;
    const header = req.headers.authorization;
    if (kind === 'publish' && !header) {
      // Anonymous callers cannot publish: refused before a byte of the body is read.
      res.setHeader('connection', 'close');
      writeError(res, new GatekeeperError('EUNAUTHENTICATED', `publishing needs a login. Run 'npm login --registry ${runtime.publicUrl(req)}'`));
      return;
    }
    if (!header) {
      setAnonymous(req, res);
      return readBody(req, res, kind, next);
    }
    req.pause();
    resolve(runtime, header, actorOf(req).ip).then(
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
        writeError(res, known ?? new GatekeeperError('EDATABASE', `credentials could not be checked (${(err as Error).message}). Try again later`));
      },
    );
  };

  function setAnonymous(req: Request, res: Response): void {
    const request = req as WithPrincipal;
    request.remote_user = helpers.createAnonymousRemoteUser();
    res.locals.remote_user = request.remote_user;
  }
}

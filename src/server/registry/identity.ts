import express, { NextFunction, Request, Response } from 'express';
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

async function resolve(runtime: GatekeeperRuntime, header: string): Promise<Principal> {
  const parsed = parseAuthorization(header);
  if (parsed?.scheme === 'bearer' && parsed.value) return runtime.identity.resolveToken(parsed.value);
  if (parsed?.scheme === 'basic' && parsed.value) {
    const decoded = Buffer.from(parsed.value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return runtime.identity.resolveBasic(decoded.slice(0, colon), decoded.slice(colon + 1));
  }
  throw new GatekeeperError('EUNAUTHENTICATED', 'the Authorization header is not a Bearer token or Basic credentials');
}

/**
 * Verdaccio's request logger listens for 'data', which puts the body stream in flowing mode:
 * a body not read before our asynchronous credential check would be gone by the time a route
 * parses it. So JSON bodies are parsed here first; body-parser marks them (`req._body`) and
 * every later parser, ours or Verdaccio's, uses `req.body` as it is.
 */
function bodyParser(runtime: GatekeeperRuntime) {
  const parse = express.json({ limit: runtime.settings.maxBodySize, type: ['application/json', 'application/*+json'], strict: false });
  return (req: Request, res: Response, next: () => void): void => {
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      const e = err as { type?: string; message?: string };
      const failure =
        e.type === 'entity.too.large'
          ? new GatekeeperError('EPAYLOADTOOLARGE', `the request body is larger than the ${runtime.settings.maxBodySize} this registry accepts (GATEKEEPER_MAX_BODY_SIZE)`)
          : new GatekeeperError('EVALIDATION', `the request body is not valid JSON: ${e.message ?? 'parse error'}`);
      res.status(failure.status).json(failure.toBody());
    });
  };
}

export function createIdentityMiddleware(runtime: GatekeeperRuntime, helpers: RemoteUserHelpers) {
  const parseBody = bodyParser(runtime);
  return function identify(req: Request, res: Response, next: NextFunction): void {
    parseBody(req, res, () => resolveCaller(req, res, next));
  };

  function resolveCaller(req: Request, res: Response, next: NextFunction): void {
    const request = req as WithPrincipal;
    const header = req.headers.authorization;
    if (!header) {
      request.remote_user = helpers.createAnonymousRemoteUser();
      res.locals.remote_user = request.remote_user;
      return next();
    }
    resolve(runtime, header).then(
      (principal) => {
        request[PRINCIPAL] = principal;
        request.remote_user = helpers.createRemoteUser(principal.username, [principal.role]);
        res.locals.remote_user = request.remote_user;
        next();
      },
      (err) => {
        const known = asGatekeeperError(err);
        const failure = known ?? new GatekeeperError('EDATABASE', `credentials could not be checked: ${(err as Error).message}`);
        if (!known) runtime.logger.error({ err }, 'resolving credentials failed');
        res.status(failure.status).setHeader('cache-control', 'no-store');
        res.json(failure.toBody());
      },
    );
  }
}

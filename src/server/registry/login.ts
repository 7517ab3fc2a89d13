import express, { NextFunction, Request, Response, Router } from 'express';
import { GatekeeperError } from '../../core/errors';
import { writeAnyError, writeError } from '../http/write-error';
import type { GatekeeperRuntime } from '../runtime';
import { actorOf } from './identity';

/**
 * npm's legacy ("couch") login and adduser: `PUT /-/user/org.couchdb.user:<name>` with the
 * name and password in the body. We answer with one of our own tokens (stored hashed), not
 * with Verdaccio's, so that it can be listed and revoked. `npm logout` revokes it.
 * Password checks are throttled (ETOOMANYATTEMPTS with Retry-After; see LoginThrottle).
 */
export function createLoginRouter(runtime: GatekeeperRuntime): Router {
  const router = Router();
  const json = express.json({ limit: '64kb' });

  router.put('/-/user/:id', json, async (req, res) => {
    const id = req.params.id;
    const match = /^org\.couchdb\.user:(.+)$/.exec(id);
    const body = (req.body ?? {}) as { name?: unknown; password?: unknown; email?: unknown };
    const username = match ? match[1] : undefined;
    try {
      if (!username || (body.name !== undefined && body.name !== username)) {
        throw new GatekeeperError('EVALIDATION', "the user document's name does not match the URL. Log in with 'npm login'");
      }
      const { token, user, created } = await runtime.identity.login({
        username,
        password: body.password,
        email: typeof body.email === 'string' ? body.email : null,
        ip: actorOf(req).ip,
      });
      runtime.logger.info({ username: user.username, created }, created ? 'user registered' : 'user logged in');
      res.status(201).json({ ok: `you are authenticated as '${user.username}'`, id: `org.couchdb.user:${user.username}`, token });
    } catch (err) {
      writeAnyError(res, err, (e) => {
        runtime.logger.error({ err: e }, 'login failed');
        return new GatekeeperError('EDATABASE', 'the login could not be checked. Try again later');
      });
    }
  });

  router.delete('/-/user/token/:token', async (req, res) => {
    try {
      await runtime.identity.revokeTokenValue(actorOf(req), req.params.token);
      res.status(200).json({ ok: 'logged out' });
    } catch (err) {
      writeAnyError(res, err, (e) => {
        runtime.logger.error({ err: e }, 'logout failed');
        return new GatekeeperError('EDATABASE', 'the logout could not be recorded. Try again later');
      });
    }
  });

  router.use(jsonBodyErrors);
  return router;
}

/** Errors express.json reports (router-level error middleware), as ours. */
export function jsonBodyErrors(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const e = (err ?? {}) as { type?: string; message?: string };
  const failure =
    e.type === 'entity.too.large'
      ? new GatekeeperError('EPAYLOADTOOLARGE', 'the request body is too large for this route. Send less')
      : e.type === 'entity.parse.failed'
        ? new GatekeeperError('EVALIDATION', `the request body is not valid JSON (${e.message ?? 'parse error'}). Check what the client sent`)
        : e.type === 'encoding.unsupported' || e.type === 'charset.unsupported'
          ? new GatekeeperError('EUNSUPPORTEDMEDIATYPE', `the request body's encoding is not supported (${e.message ?? ''}). Send JSON as UTF-8`)
          : undefined;
  if (failure) writeError(res, failure);
  else writeAnyError(res, err, () => new GatekeeperError('EINTERNAL', 'the request failed inside the gatekeeper. Try again; the server log has the details'));
}

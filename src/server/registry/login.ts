import express, { Router } from 'express';
import { asGatekeeperError, errorBody } from '../../core/errors';
import type { GatekeeperRuntime } from '../runtime';
import { actorOf } from './identity';

/**
 * npm's legacy ("couch") login and adduser: `PUT /-/user/org.couchdb.user:<name>` with the
 * name and password in the body. We answer with one of our own tokens (stored hashed), not
 * with Verdaccio's, so that it can be listed and revoked. `npm logout` revokes it.
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
        res.status(400).json(errorBody('EVALIDATION', 'the user document name does not match the URL'));
        return;
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
      const known = asGatekeeperError(err);
      if (!known) runtime.logger.error({ err }, 'login failed');
      const failure = known ?? { status: 503, toBody: () => errorBody('EDATABASE', 'the login could not be checked; try again later') };
      res.status(failure.status).json(failure.toBody());
    }
  });

  router.delete('/-/user/token/:token', async (req, res) => {
    try {
      await runtime.identity.revokeTokenValue(actorOf(req), req.params.token);
      res.status(200).json({ ok: 'logged out' });
    } catch (err) {
      const known = asGatekeeperError(err);
      res.status(known?.status ?? 503).json(known?.toBody() ?? errorBody('EDATABASE', 'logout failed; try again later'));
    }
  });

  return router;
}

import express, { Request, RequestHandler, Response, Router } from 'express';
import { GatekeeperError } from '../../core/errors';
import type { Token } from '../../db/repositories/tokens';
import type { Principal } from '../../services/identity';
import { writeAnyError } from '../http/write-error';
import type { GatekeeperRuntime } from '../runtime';
import { actorOf, principalOfRequest } from './identity';
import { jsonBodyErrors } from './login';

/**
 * npm's token and profile commands against our own token store (not Verdaccio's):
 *
 * - `GET    /-/npm/v1/tokens`            `npm token list`: the caller's live tokens, never their values
 * - `POST   /-/npm/v1/tokens`            `npm token create`: the caller's password (throttled) -> a new token
 * - `DELETE /-/npm/v1/tokens/token/:key` `npm token revoke`: by npm's key (or the token itself)
 * - `GET    /-/npm/v1/user`              `npm profile get`
 * - `POST   /-/npm/v1/user`              `npm profile set password`: the caller's own, with the
 *                                        current one; every other property is refused
 *
 * Every one needs a login. Each handler is its own function, for a route table.
 */

function requirePrincipal(runtime: GatekeeperRuntime, req: Request): Principal {
  const principal = principalOfRequest(req);
  if (!principal) {
    throw new GatekeeperError('EUNAUTHENTICATED', `this needs a login. Run 'npm login --registry ${runtime.publicUrl(req)}'`);
  }
  return principal;
}

/**
 * Tokens are made and revoked with a user's own token: a scoped token (a service account's)
 * writes nothing but what its scope names, as on the admin API.
 */
function refuseScoped(principal: Principal, what: string): void {
  if (principal.scope) {
    throw new GatekeeperError('ETOKENSCOPE', `this token of ${principal.username} is scoped (${principal.scope.kind}); it may not ${what}. Ask an admin to manage the service account's tokens (gatekeeper token ...)`);
  }
}

/** Runs a handler; whatever it throws is written by the one error writer. */
function handler(runtime: GatekeeperRuntime, what: string, fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res) => {
    fn(req, res).catch((err) =>
      writeAnyError(res, err, (e) => {
        runtime.logger.error({ err: e }, `${what} failed`);
        return new GatekeeperError('EDATABASE', `${what} could not be completed. Try again later`);
      }),
    );
  };
}

/** One entry of npm's token list (`npm token list` reads `key`, `token`, `created`, `readonly`, `cidr_whitelist`, `name`). */
function npmTokenEntry(token: Token, key: string) {
  return {
    key,
    token: token.prefix,
    name: token.createdFrom ?? '',
    readonly: token.readonly,
    cidr_whitelist: null,
    created: token.createdAt.toISOString(),
    updated: (token.lastUsedAt ?? token.createdAt).toISOString(),
  };
}

export function listNpmTokens(runtime: GatekeeperRuntime): RequestHandler {
  return handler(runtime, 'listing tokens', async function listNpmTokens(req, res) {
    const principal = requirePrincipal(runtime, req);
    const tokens = await runtime.identity.listLiveTokensWithKeys(principal.username);
    res.setHeader('cache-control', 'no-store');
    res.status(200).json({ objects: tokens.map((t) => npmTokenEntry(t.token, t.key)), total: tokens.length, urls: {} });
  });
}

/** Restrictions npm can ask for that our tokens cannot carry: refused rather than ignored, so no token is stronger than asked. */
function unsupportedRestriction(body: Record<string, unknown>): string | undefined {
  const nonEmpty = (v: unknown) => v !== undefined && v !== null && v !== false && v !== '' && !(Array.isArray(v) && v.length === 0);
  if (body.readonly === true) return 'read-only tokens are not supported here (a token acts with its user\'s role). Create the token without --read-only';
  // Anything else that is not "no" may mean yes to some client: never a full token for it.
  if (body.readonly !== undefined && body.readonly !== null && body.readonly !== false) return 'readonly must be true or false. Send false (or leave it out) for a token that acts with your role';
  if (nonEmpty(body.cidr_whitelist)) return 'tokens limited to addresses (CIDR whitelists) are not supported here. Create the token without --cidr';
  for (const field of ['packages', 'packages_all', 'scopes', 'orgs', 'packages_and_scopes_permission', 'orgs_permission', 'expires']) {
    if (nonEmpty(body[field])) {
      return `granular access tokens (${field}) are not supported here; a token acts with its user's role. Create the token without --packages, --scopes, --orgs or --expires`;
    }
  }
  return undefined;
}

/** A token name for the list: printable, short. */
function tokenName(raw: unknown): string {
  if (typeof raw !== 'string') return 'npm token create';
  const cleaned = raw.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 100);
  return cleaned ? `npm token create: ${cleaned}` : 'npm token create';
}

export function createNpmToken(runtime: GatekeeperRuntime): RequestHandler {
  return handler(runtime, 'creating a token', async function createNpmToken(req, res) {
    const principal = requirePrincipal(runtime, req);
    refuseScoped(principal, 'create tokens');
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const refused = unsupportedRestriction(body);
    if (refused) throw new GatekeeperError('EVALIDATION', refused);
    const actor = actorOf(req);
    const created = await runtime.identity.createTokenWithPassword(actor, principal, body.password, tokenName(body.name));
    runtime.logger.info({ username: principal.username, tokenId: created.id }, 'token created through npm token create');
    res.setHeader('cache-control', 'no-store');
    res.status(201).json({
      token: created.token,
      key: created.key,
      readonly: false,
      cidr_whitelist: [],
      created: created.createdAt.toISOString(),
      updated: created.createdAt.toISOString(),
    });
  });
}

export function revokeNpmToken(runtime: GatekeeperRuntime): RequestHandler {
  return handler(runtime, 'revoking a token', async function revokeNpmToken(req, res) {
    const principal = requirePrincipal(runtime, req);
    refuseScoped(principal, 'revoke tokens');
    const key = req.params.key ?? decodeURIComponent(req.path.split('/').pop() ?? '');
    const token = key ? await runtime.identity.findTokenByNpmKey(key) : undefined;
    // Someone else's token is "not found" for a non-admin: keys say nothing about other users.
    if (!token || (principal.role !== 'admin' && token.username !== principal.username)) {
      throw new GatekeeperError('ENOTFOUND', "there is no token of yours with this id. List your tokens with 'npm token list'");
    }
    await runtime.identity.revokeToken(actorOf(req), token.id, principal);
    res.setHeader('cache-control', 'no-store');
    res.status(204).end();
  });
}

/** What `npm profile get` shows; npm sends it back to `npm profile set` with the one property it changes. */
function npmProfile(user: { username: string; email: string | null; role: string; createdAt: Date }) {
  return {
    name: user.username,
    email: user.email ?? '',
    email_verified: false,
    tfa: false,
    fullname: '',
    role: user.role,
    created: user.createdAt.toISOString(),
    updated: user.createdAt.toISOString(),
  };
}

export function getNpmProfile(runtime: GatekeeperRuntime): RequestHandler {
  return handler(runtime, 'reading the profile', async function getNpmProfile(req, res) {
    const principal = requirePrincipal(runtime, req);
    const user = await runtime.identity.findUser(principal.username);
    if (!user) throw new GatekeeperError('ENOTFOUND', `there is no user '${principal.username}'. Log in again`);
    res.setHeader('cache-control', 'no-store');
    res.status(200).json(npmProfile(user));
  });
}

/**
 * `npm profile set password`: npm reads the current password and the new one (twice) from its
 * prompt and POSTs the whole profile (what `npm profile get` showed) with
 * `password: {old, new}`. The current password is checked like every password (throttled); the
 * new one follows the rules of user creation. Any other property npm sends changed (email,
 * fullname, …) is refused: those are not kept here.
 */
export function changeNpmProfile(runtime: GatekeeperRuntime): RequestHandler {
  return handler(runtime, 'changing the password', async function changeNpmProfile(req, res) {
    const principal = requirePrincipal(runtime, req);
    const body = (req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {}) as Record<string, unknown>;
    const user = await runtime.identity.findUser(principal.username);
    if (!user) throw new GatekeeperError('ENOTFOUND', `there is no user '${principal.username}'. Log in again`);
    const current = npmProfile(user) as Record<string, unknown>;
    const changed = Object.keys(body).filter((key) => key !== 'password' && body[key] !== null && body[key] !== '' && body[key] !== current[key]);
    if (changed.length > 0 || body.password === undefined) {
      const what = changed.length > 0 ? changed.map((k) => `'${k.slice(0, 40)}'`).join(', ') : 'that';
      throw new GatekeeperError('ENOTSUPPORTED', `the profile's ${what} cannot be changed here: this registry keeps no such profile. Only the password can be changed, with 'npm profile set password'`);
    }
    refuseScoped(principal, 'change a password');
    const password = body.password as Record<string, unknown> | null;
    if (!password || typeof password !== 'object' || Array.isArray(password)) {
      throw new GatekeeperError('EVALIDATION', "the password change is {\"password\": {\"old\": \"…\", \"new\": \"…\"}}. Use 'npm profile set password', which asks for both");
    }
    const { user: changedUser } = await runtime.identity.changeOwnPassword(actorOf(req), principal, { old: password.old, new: password.new }, 'npm profile set password');
    runtime.logger.info({ username: principal.username }, 'password changed through npm profile set password');
    res.setHeader('cache-control', 'no-store');
    res.status(200).json(npmProfile(changedUser));
  });
}

/**
 * The two handler names the registry route table uses (`npmTokens`, `profile`), each
 * choosing by method among the handlers above.
 */
export function npmTokenHandlers(runtime: GatekeeperRuntime): { npmTokens: RequestHandler; profile: RequestHandler } {
  const list = listNpmTokens(runtime);
  const create = createNpmToken(runtime);
  const revoke = revokeNpmToken(runtime);
  const get = getNpmProfile(runtime);
  const change = changeNpmProfile(runtime);
  return {
    npmTokens: (req, res, next) => (req.method === 'POST' ? create : req.method === 'DELETE' ? revoke : list)(req, res, next),
    profile: (req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? get : change)(req, res, next),
  };
}

export function createNpmTokenRouter(runtime: GatekeeperRuntime): Router {
  const router = Router();
  const json = express.json({ limit: '64kb' });
  router.get('/-/npm/v1/tokens', listNpmTokens(runtime));
  router.post('/-/npm/v1/tokens', json, createNpmToken(runtime));
  router.delete('/-/npm/v1/tokens/token/:key', revokeNpmToken(runtime));
  router.get('/-/npm/v1/user', getNpmProfile(runtime));
  router.post('/-/npm/v1/user', json, changeNpmProfile(runtime));
  router.use(jsonBodyErrors);
  return router;
}

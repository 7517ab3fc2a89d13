import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BaseClient, custom, errors as oidcErrors, generators, Issuer } from 'openid-client';
import { GatekeeperError } from '../core/errors';
import type { Role } from '../core/roles';
import {
  externalSubject,
  GroupRoles,
  groupsOf,
  isDemotion,
  roleForGroups,
  safeConsolePath,
  usernameFromClaims,
  isPlainClaim,
} from '../core/sso';
import type { SsoLogin, SsoLoginKind } from '../db/repositories/sso-logins';
import { NO_PASSWORD, User } from '../db/repositories/users';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import type { IdentityService } from './identity';
import type { SessionInfo, SessionService } from './sessions';

/**
 * Single sign-on through an OpenID Connect provider (docs/sso.md), for `npm login
 * --auth-type=web` and the web console. openid-client (a certified relying party) does the
 * protocol: the authorization code flow with PKCE (S256), `state` and `nonce`, the `iss`
 * authorization response parameter, and the ID token's issuer, audience, signature and
 * expiry. What is ours:
 *
 * - Every URL handed out (loginUrl, doneUrl, the redirect URI) is built from the configured
 *   public URL, never from a request; the console's `next` is a console path or nothing.
 * - A sign-in is one `sso_logins` row. npm's login has two secrets: the id in the loginUrl
 *   (the browser's) and the secret in the doneUrl (only the npm process that asked knows it);
 *   both are stored as SHA-256 only. The doneUrl yields the token once (`taken`), within
 *   the login's lifetime.
 * - The PKCE verifier lives in the browser that started the sign-in (an HttpOnly cookie), its
 *   hash in the row: a callback from another browser, or without the cookie, is refused.
 * - The state is used up by its first callback.
 * - The discovery document must name the configured issuer.
 * - No IdP token is kept: the ID token's claims (and userinfo's, when the groups claim is not
 *   in the ID token) decide the user and role, then the token set is dropped.
 * - The role follows the IdP's groups at every sign-in; a demotion revokes the user's tokens.
 * - Failed and refused sign-ins count against the client address's login throttle.
 */

export const SSO_PATHS = {
  start: '/-/v1/login/sso/start/',
  console: '/-/v1/login/sso/console',
  callback: '/-/v1/login/sso/callback',
  done: '/-/v1/login/done/',
} as const;
/** The cookie with the PKCE verifier: sent only to the sign-in paths. */
export const SSO_COOKIE = 'gk_sso';
export const SSO_COOKIE_PATH = '/-/v1/login/sso/';

/** Created from: the token list names where each token came from. */
export const WEB_LOGIN_ORIGIN = 'npm web login';

export interface SsoOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** The IdP's name for people (the console's button). */
  name: string;
  scopes: string;
  groupsClaim: string;
  usernameClaim: string;
  groupRoles: GroupRoles;
  defaultRole: Role;
  refuseUnmapped: boolean;
  loginTtlMs: number;
  /** The configured public URL (or the listening address), with a trailing slash. */
  publicUrl: () => string;
  /** How long one call to the IdP may take. */
  timeoutMs?: number;
}

export type CallbackResult =
  | { kind: 'npm'; user: User }
  | { kind: 'console'; user: User; session: string; info: SessionInfo; next: string };

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const secret = () => randomBytes(32).toString('base64url');
const SECRET = /^[A-Za-z0-9_-]{20,100}$/;

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Text from the IdP (error descriptions) as it may appear in our messages: printable, short. */
function idpText(value: unknown): string {
  return String(value ?? '')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .slice(0, 200)
    .trim();
}

const normalizeIssuer = (url: string) => url.replace(/\/+$/, '');

/** Open logins one client address may have at once: anonymous callers cannot fill the table. */
export const MAX_OPEN_LOGINS_PER_ADDRESS = 100;

export class SsoService {
  private client: Promise<BaseClient> | undefined;

  constructor(
    private readonly store: Store,
    private readonly identity: IdentityService,
    private readonly sessions: SessionService,
    readonly options: SsoOptions,
  ) {}

  get name(): string {
    return this.options.name;
  }

  redirectUri(): string {
    return new URL(SSO_PATHS.callback.slice(1), this.options.publicUrl()).toString();
  }

  private url(path: string): string {
    return new URL(path.slice(1), this.options.publicUrl()).toString();
  }

  /**
   * The relying party, from the IdP's discovery document (asked once; again after a
   * failure). The document must name the configured issuer: a tampered or wrong document is
   * refused, and openid-client then checks every ID token's `iss` against it.
   */
  private relyingParty(): Promise<BaseClient> {
    this.client ??= (async () => {
      const timeout = this.options.timeoutMs ?? 10_000;
      Issuer[custom.http_options] = (_url, options) => ({ ...options, timeout });
      let issuer: Issuer<BaseClient>;
      try {
        issuer = await Issuer.discover(this.options.issuer);
      } catch (err) {
        throw new GatekeeperError('ESSOUNAVAILABLE', `the identity provider's discovery document could not be read from ${this.options.issuer} (${idpText((err as Error).message)}). Try again later, or ask the operator to check sso_issuer`);
      }
      if (normalizeIssuer(String(issuer.metadata.issuer)) !== normalizeIssuer(this.options.issuer)) {
        throw new GatekeeperError(
          'ESSOUNAVAILABLE',
          `the identity provider's discovery document names the issuer '${idpText(issuer.metadata.issuer)}', not the configured '${this.options.issuer}'; sign-ins are refused. Ask the operator to check sso_issuer`,
        );
      }
      const client = new issuer.Client({
        client_id: this.options.clientId,
        ...(this.options.clientSecret ? { client_secret: this.options.clientSecret } : { token_endpoint_auth_method: 'none' }),
        redirect_uris: [this.redirectUri()],
        response_types: ['code'],
      });
      client[custom.http_options] = (_url, options) => ({ ...options, timeout });
      return client;
    })();
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  // ---------------------------------------------------------------- npm web login

  /** `POST /-/v1/login`: a new login, its loginUrl (for the browser) and doneUrl (for this npm only). */
  async createNpmLogin(ip: string | null | undefined): Promise<{ loginUrl: string; doneUrl: string }> {
    this.prune();
    await this.limitOpen(ip);
    const loginId = secret();
    const doneSecret = secret();
    await this.store.repos.ssoLogins.create({ kind: 'npm', loginHash: sha256(loginId), doneHash: sha256(doneSecret), clientIp: ip ?? null, ttlMs: this.options.loginTtlMs });
    return { loginUrl: this.url(`${SSO_PATHS.start}${loginId}`), doneUrl: this.url(`${SSO_PATHS.done}${doneSecret}`) };
  }

  /**
   * The loginUrl, opened in the browser: the login it belongs to, for the page that asks the
   * person to confirm that they started it (someone else's loginUrl would give them a token).
   */
  async describeNpmLogin(loginId: string): Promise<{ createdAt: Date; clientIp: string | null }> {
    const login = SECRET.test(loginId) ? await this.store.repos.ssoLogins.findByLoginHash(sha256(loginId)) : undefined;
    this.assertOpen(login);
    return { createdAt: (login as SsoLogin).createdAt, clientIp: (login as SsoLogin).clientIp };
  }

  /** The loginUrl, confirmed: to the IdP. */
  async startNpmLogin(loginId: string): Promise<{ location: string; verifier: string }> {
    const login = SECRET.test(loginId) ? await this.store.repos.ssoLogins.findByLoginHash(sha256(loginId)) : undefined;
    this.assertOpen(login);
    return this.sendToIdp(login as SsoLogin);
  }

  /** The console's "Sign in with …": a new login whose end is a console session. */
  async startConsoleLogin(next: unknown, ip: string | null | undefined): Promise<{ location: string; verifier: string }> {
    this.prune();
    await this.limitOpen(ip);
    const id = await this.store.repos.ssoLogins.create({ kind: 'console', nextPath: safeConsolePath(next), clientIp: ip ?? null, ttlMs: this.options.loginTtlMs });
    return this.sendToIdp((await this.store.repos.ssoLogins.find(id)) as SsoLogin);
  }

  private async limitOpen(ip: string | null | undefined): Promise<void> {
    if (!ip) return;
    if ((await this.store.repos.ssoLogins.countOpenFrom(ip)) >= MAX_OPEN_LOGINS_PER_ADDRESS) {
      const seconds = Math.ceil(this.options.loginTtlMs / 1000);
      throw new GatekeeperError(
        'ETOOMANYREQUESTS',
        `${MAX_OPEN_LOGINS_PER_ADDRESS} logins from your address are still open. Finish one, or wait until they expire (Retry-After)`,
        undefined,
        { retryAfter: seconds },
      );
    }
  }

  private assertOpen(login: SsoLogin | undefined): void {
    if (!login) throw new GatekeeperError('ELOGINSESSION', "this login link is unknown. Run 'npm login' again and open the link it prints");
    if (login.expiresAt.getTime() <= Date.now()) throw new GatekeeperError('ELOGINSESSION', "this login has expired. Run 'npm login' again");
    if (login.status !== 'pending' && login.status !== 'started') {
      throw new GatekeeperError('ELOGINSESSION', "this login link was used already. Run 'npm login' again");
    }
  }

  private async sendToIdp(login: SsoLogin): Promise<{ location: string; verifier: string }> {
    const client = await this.relyingParty();
    const state = generators.state();
    const nonce = generators.nonce();
    const verifier = generators.codeVerifier();
    if (!(await this.store.repos.ssoLogins.start(login.id, { stateHash: sha256(state), verifierHash: sha256(verifier), nonce }))) {
      throw new GatekeeperError('ELOGINSESSION', "this login has expired or was used already. Start again ('npm login', or the console's sign-in)");
    }
    const scopes = new Set(['openid', ...this.options.scopes.split(/\s+/).filter(Boolean)]);
    const location = client.authorizationUrl({
      scope: [...scopes].join(' '),
      state,
      nonce,
      code_challenge: generators.codeChallenge(verifier),
      code_challenge_method: 'S256',
      redirect_uri: this.redirectUri(),
    });
    return { location, verifier };
  }

  /**
   * The doneUrl, polled by npm: pending until the browser's sign-in is done, then the token,
   * once. A refused sign-in is refused here too.
   */
  async done(doneSecret: string, ip: string | null | undefined): Promise<{ pending: true } | { pending: false; token: string; user: User }> {
    const login = SECRET.test(doneSecret) ? await this.store.repos.ssoLogins.findByDoneHash(sha256(doneSecret)) : undefined;
    if (!login || login.kind !== 'npm') throw new GatekeeperError('ELOGINSESSION', "this login is unknown. Run 'npm login' again");
    if (login.status === 'taken') throw new GatekeeperError('ELOGINSESSION', "this login's token was handed out already; a login gives one token. Run 'npm login' again");
    if (login.status === 'refused') throw new GatekeeperError('ESSOREFUSED', login.refusal ?? 'the sign-in was refused. Ask an admin');
    if (login.expiresAt.getTime() <= Date.now()) throw new GatekeeperError('ELOGINSESSION', "this login has expired before the sign-in finished. Run 'npm login' again");
    if (login.status !== 'done') return { pending: true };
    if (!(await this.store.repos.ssoLogins.transition(login.id, 'done', 'taken'))) {
      throw new GatekeeperError('ELOGINSESSION', "this login's token was handed out already; a login gives one token. Run 'npm login' again");
    }
    const user = login.userId === null ? undefined : await this.store.repos.users.findById(login.userId);
    if (!user || user.disabledAt) throw new GatekeeperError('ESSOREFUSED', 'the user of this login is disabled or gone. Ask an admin');
    const actor: Actor = { username: user.username, ip: ip ?? null };
    const token = await this.identity.issueToken(actor, user, WEB_LOGIN_ORIGIN);
    return { pending: false, token, user };
  }

  // ---------------------------------------------------------------- the callback

  /**
   * The IdP's redirect back: checks state (used up here), the browser's PKCE verifier, then
   * lets openid-client exchange the code and check the ID token. Throttled per address:
   * every failure and refusal counts.
   */
  async callback(params: Record<string, unknown>, verifierCookie: string | undefined, ip: string | null | undefined): Promise<CallbackResult> {
    const attempt = await this.identity.throttle.begin(undefined, ip);
    let login: SsoLogin | undefined;
    try {
      const result = await this.checkCallback(params, verifierCookie, ip, (l) => (login = l));
      await attempt.release();
      return result;
    } catch (err) {
      const known = err instanceof GatekeeperError ? err : undefined;
      if (known && (known.code === 'ESSOINVALID' || known.code === 'ESSOREFUSED' || known.code === 'ELOGINSESSION')) {
        await attempt.failed(`sso: ${known.code}`).catch(() => undefined);
        if (login) await this.store.repos.ssoLogins.transition(login.id, 'started', 'refused', { refusal: known.message }).catch(() => undefined);
        await this.store.repos.audit
          .save(auditEntry({ username: '$anonymous', ip: ip ?? null }, 'user.sso_refused', { details: { code: known.code, reason: known.message.slice(0, 300), kind: login?.kind ?? null } }))
          .catch(() => undefined);
      } else {
        await attempt.release().catch(() => undefined);
      }
      throw err;
    }
  }

  private async checkCallback(
    params: Record<string, unknown>,
    verifierCookie: string | undefined,
    ip: string | null | undefined,
    found: (login: SsoLogin) => void,
  ): Promise<CallbackResult> {
    const state = typeof params.state === 'string' ? params.state : undefined;
    if (!state || !SECRET.test(state)) throw new GatekeeperError('ESSOINVALID', 'the identity provider sent no valid state. Start the sign-in again');
    const login = await this.store.repos.ssoLogins.findByStateHash(sha256(state));
    if (!login || login.status !== 'started') {
      throw new GatekeeperError('ESSOINVALID', 'this state is unknown or was used already (a sign-in answers once). Start the sign-in again');
    }
    if (login.expiresAt.getTime() <= Date.now()) throw new GatekeeperError('ELOGINSESSION', 'this sign-in has expired. Start it again');
    // Used up now: a second callback with the same state finds nothing.
    if (!(await this.store.repos.ssoLogins.consumeState(login.id, sha256(state)))) {
      throw new GatekeeperError('ESSOINVALID', 'this state was used already (a sign-in answers once). Start the sign-in again');
    }
    found(login);
    if (typeof params.error === 'string') {
      throw new GatekeeperError('ESSOREFUSED', `the identity provider refused the sign-in: ${idpText(params.error)}${params.error_description ? ` (${idpText(params.error_description)})` : ''}`);
    }
    if (!verifierCookie || !login.verifierHash || !sameHash(sha256(verifierCookie), login.verifierHash)) {
      throw new GatekeeperError('ESSOINVALID', "the PKCE verifier of this sign-in is missing or is another sign-in's: finish the sign-in in the browser that started it. Start it again");
    }
    const client = await this.relyingParty();
    let claims: Record<string, unknown>;
    try {
      const callbackParams: Record<string, string> = {};
      for (const [key, value] of Object.entries(params)) if (typeof value === 'string') callbackParams[key] = value;
      const tokens = await client.callback(this.redirectUri(), callbackParams, { state, nonce: login.nonce ?? undefined, code_verifier: verifierCookie, response_type: 'code' });
      claims = { ...tokens.claims() };
      // Providers that keep profile claims out of the ID token (OIDC's default for the code
      // flow) send them from userinfo: asked only then, for the same subject, never overriding.
      const missing = claims[this.options.groupsClaim] === undefined || claims[this.options.usernameClaim] === undefined;
      if (missing && tokens.access_token && client.issuer.metadata.userinfo_endpoint) {
        const info = await client.userinfo(tokens.access_token);
        if (info.sub === claims.sub) {
          for (const [key, value] of Object.entries(info)) if (claims[key] === undefined) claims[key] = value;
        }
      }
      // Nothing of the token set is kept.
    } catch (err) {
      throw this.oidcFailure(err);
    }
    const kind = login.kind;
    const { user, changed } = await this.applySignIn(claims, kind, ip);
    if (changed) await this.identity.tokenCache?.invalidated();
    if (kind === 'npm') {
      if (!(await this.store.repos.ssoLogins.transition(login.id, 'started', 'done', { userId: user.id }))) {
        throw new GatekeeperError('ELOGINSESSION', "this login expired while signing in. Run 'npm login' again");
      }
      return { kind: 'npm', user };
    }
    const { session, info } = await this.sessions.createFor(user, ip, 'sso');
    await this.store.repos.ssoLogins.transition(login.id, 'started', 'taken', { userId: user.id });
    return { kind: 'console', user, session, info, next: safeConsolePath(login.nextPath) };
  }

  private oidcFailure(err: unknown): GatekeeperError {
    if (err instanceof GatekeeperError) return err;
    if (err instanceof oidcErrors.OPError) {
      return new GatekeeperError('ESSOINVALID', `the identity provider refused the code exchange: ${idpText(err.error)}${err.error_description ? ` (${idpText(err.error_description)})` : ''}. Start the sign-in again`);
    }
    if (err instanceof oidcErrors.RPError) {
      return new GatekeeperError('ESSOINVALID', `the identity provider's answer failed a check: ${idpText(err.message)}. Start the sign-in again`);
    }
    return new GatekeeperError('ESSOUNAVAILABLE', `the identity provider could not be reached (${idpText((err as Error)?.message)}). Try again later`);
  }

  /**
   * Creates or updates the user of a checked sign-in: role from the groups (refused when
   * unmapped and so configured); a demotion revokes the user's tokens. One transaction.
   */
  private async applySignIn(claims: Record<string, unknown>, kind: SsoLoginKind, ip: string | null | undefined): Promise<{ user: User; changed: boolean }> {
    const sub = isPlainClaim(claims.sub, 1000) ? claims.sub : undefined;
    if (!sub) throw new GatekeeperError('ESSOINVALID', 'the ID token carries no usable subject. Ask the operator to check the identity provider');
    const subject = externalSubject(normalizeIssuer(this.options.issuer), sub);
    const groups = groupsOf(claims[this.options.groupsClaim]);
    const decision = roleForGroups(groups, this.options.groupRoles, { defaultRole: this.options.defaultRole, refuseUnmapped: this.options.refuseUnmapped });
    const email = isPlainClaim(claims.email, 320) ? claims.email : null;
    const shownGroups = groups.slice(0, 20).map((g) => g.slice(0, 100));
    let changed = false;
    const user = await this.store.transaction(async (repos) => {
      const existing = await repos.users.findBySubject(subject);
      const username = existing?.username ?? usernameFromClaims(claims, this.options.usernameClaim) ?? usernameFromClaims(claims, 'email');
      const actor: Actor = { username: username ?? '$anonymous', ip: ip ?? null };
      if (decision.kind === 'refused') {
        throw new GatekeeperError('ESSOREFUSED', `${username ?? 'this user'} is in no group that gives a role here (groups: ${shownGroups.join(', ') || 'none'}). Ask an admin to add you to a group that gives a role`);
      }
      if (!username) throw new GatekeeperError('ESSOREFUSED', `the identity provider gave no usable username in the '${this.options.usernameClaim}' or email claim. Ask the operator`);
      let user: User;
      if (existing) {
        if (existing.disabledAt) throw new GatekeeperError('ESSOREFUSED', `the user '${existing.username}' is disabled here; ask an admin`);
        user = existing;
        if (existing.role !== decision.role) {
          user = (await repos.users.update(existing.username, { role: decision.role })) as User;
          changed = true;
          const demoted = isDemotion(existing.role, decision.role);
          const revoked = demoted ? await repos.tokens.revokeAllOf(existing.id, '$sso') : [];
          await repos.audit.save(auditEntry(actor, 'user.sso_role', { details: { username: existing.username, from: existing.role, to: decision.role, groups: shownGroups, revokedTokens: revoked.length } }));
          if (revoked.length > 0) {
            await repos.audit.saveMany(revoked.map((tokenId) => auditEntry(actor, 'token.revoke', { details: { tokenId, username: existing.username, reason: `demoted at an SSO sign-in (${existing.role} to ${decision.role})` } })));
          }
        }
        if (email && email !== existing.email) await repos.users.update(existing.username, { email });
      } else {
        // Without regard to case: 'Alice' from the IdP is not a second 'alice'.
        if (await repos.users.findIgnoringCase(username)) {
          throw new GatekeeperError('ESSOREFUSED', `the username '${username}' belongs to another user here (a local or another IdP user). Ask an admin`);
        }
        user = await repos.users.save({ username, passwordHash: NO_PASSWORD, role: decision.role, email, kind: 'sso', externalSubject: subject });
        await repos.audit.save(auditEntry(actor, 'user.create', { details: { username, role: decision.role, via: 'sso' } }));
      }
      await repos.audit.save(
        auditEntry(actor, 'user.sso_sign_in', { details: { username: user.username, role: user.role, groups: shownGroups, mapped: decision.mapped, created: !existing, kind } }),
      );
      return user;
    });
    return { user, changed };
  }

  private lastPrune = 0;

  private prune(): void {
    if (Date.now() - this.lastPrune < 60_000) return;
    this.lastPrune = Date.now();
    this.store.repos.ssoLogins.prune().catch(() => {
      this.lastPrune = 0;
    });
  }
}

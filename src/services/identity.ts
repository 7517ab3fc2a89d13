import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { GatekeeperError } from '../core/errors';
import { isRole, Role } from '../core/roles';
import { parseDuration } from '../core/duration';
import { formatTokenScope, parseTokenScope, TokenScope } from '../core/sso';
import { isUniqueViolation, mapDbError } from '../db/errors';
import type { Token, TokenWithKey } from '../db/repositories/tokens';
import { NO_PASSWORD, User, UserWithHash } from '../db/repositories/users';
import type { Repositories, Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle, LoginThrottleLimits } from './login-throttle';
import type { TokenCache } from './token-cache';
import type { TokenUse } from './token-use';
import { isUsername } from '../core/names';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** The authenticated caller of a request. */
export interface Principal {
  username: string;
  role: Role;
  tokenId?: number;
  /** A token narrower than the role (service accounts): checked on every write. */
  scope?: TokenScope;
  /** When the token stops working (ms since the epoch); checked on every request, cached or not. */
  expiresAt?: number;
}

/** Whether a principal's token has expired (the token cache may hold it; this check needs no query). */
export function isExpired(principal: Principal, now = Date.now()): boolean {
  return principal.expiresAt !== undefined && principal.expiresAt <= now;
}

const EXPIRED = 'this token has expired. Ask an admin for a new one (gatekeeper token create --service-account …), or log in again';

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 64 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export type PasswordVerifier = (password: string, stored: string) => Promise<boolean>;

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random secret with the same scrypt parameters as real ones: an unknown
 * username is checked against it, so that it costs as long as a wrong password.
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64')).catch((err) => {
    dummyHash = undefined;
    throw err;
  });
  return dummyHash;
}

/**
 * Checks a password against a user's hash, or against the dummy hash when there is no user:
 * the same work either way, and never true without a user.
 */
export async function checkPassword(password: string, stored: string | undefined, verify: PasswordVerifier = verifyPassword): Promise<boolean> {
  // A user without a password (SSO, service account) costs what an unknown user costs.
  const usable = stored !== undefined && stored !== NO_PASSWORD;
  const ok = await verify(password, usable ? stored : await dummyPasswordHash());
  return usable && ok;
}

/** Tokens are 32 random bytes; only their SHA-256 is stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return `gk_${randomBytes(32).toString('base64url')}`;
}


export function assertUsername(username: unknown): string {
  if (typeof username !== 'string' || !isUsername(username)) {
    throw new GatekeeperError('EVALIDATION', 'a username is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
  }
  return username;
}

export function assertPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < 8 || password.length > 1024) {
    throw new GatekeeperError('EVALIDATION', 'a password must be 8 to 1024 characters long');
  }
  return password;
}

export interface IdentityOptions {
  allowSelfRegistration: boolean;
  /** Role given to users who register themselves through `npm adduser`. */
  selfRegistrationRole?: Role;
  /** Limits on failed password checks (defaults: DEFAULT_LOGIN_THROTTLE). */
  loginThrottle?: Partial<LoginThrottleLimits>;
  /** How a password is compared with a stored hash (tests record the calls). */
  verifyPassword?: PasswordVerifier;
  /** false: every password check is refused with EPASSWORDLOGINOFF (SSO only; docs/sso.md). Default true. */
  passwordLogin?: boolean;
}

/** What a console session's token was created from (services/sessions.ts): a password change revokes these. */
export const CONSOLE_SESSION_ORIGIN = 'console session';

const BAD_CREDENTIALS = "the username or password is wrong. Check both; if you have no account here, ask an admin to run 'gatekeeper user add'";

/** The refusal of a disabled user's login or new token. */
function userDisabled(username: string): GatekeeperError {
  return new GatekeeperError('EUSERDISABLED', `the user '${username}' is disabled; ask an admin`);
}

/** A service account or an SSO user has no password of ours: setting one is ECONFLICT. */
function refusePasswordless(existing: { username: string; kind?: string | null }): void {
  if (existing.kind === 'service') {
    throw new GatekeeperError('ECONFLICT', `'${existing.username}' is a service account: it has no password, only scoped tokens. Create a token for it instead ('gatekeeper token create --service-account ${existing.username} …')`);
  }
  if (existing.kind === 'sso') {
    throw new GatekeeperError('ECONFLICT', `'${existing.username}' signs in through the identity provider and has no password here. Change the password at the identity provider`);
  }
}

export class IdentityService {
  readonly throttle: LoginThrottle;
  /**
   * Resolved tokens in memory (see TokenCache), set by the composition root once the LISTEN
   * connection is up. Without it every token is looked up in the database.
   */
  tokenCache: TokenCache | undefined;
  /** Notes each token use for its last-used time (see TokenUse); set by the composition root. */
  tokenUse: TokenUse | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: IdentityOptions,
  ) {
    this.throttle = new LoginThrottle(store, { ...DEFAULT_LOGIN_THROTTLE, ...options.loginThrottle });
    // Made now, so that not even the first unknown user costs more than a wrong password.
    dummyPasswordHash().catch(() => undefined);
  }

  async createUser(actor: Actor, input: { username: unknown; password: unknown; role: unknown; email?: string | null }): Promise<User> {
    const username = assertUsername(input.username);
    const password = assertPassword(input.password);
    if (!isRole(input.role)) throw new GatekeeperError('EVALIDATION', `role must be one of admin, publisher, developer, reader. Send one of them`);
    const role = input.role;
    const passwordHash = await hashPassword(password);
    try {
      return await this.store.transaction(async (repos) => {
        await assertUsernameFree(repos, username, 'Choose another username');
        const user = await repos.users.save({ username, passwordHash, role, email: input.email ?? null });
        await repos.audit.save(auditEntry(actor, 'user.create', { details: { username, role } }));
        return user;
      });
    } catch (err) {
      if (isUniqueViolation(err, USERNAME_LOWER_INDEX)) throw usernameTaken(username, undefined, 'Choose another username');
      throw mapDbError(err, `user '${username}'`);
    }
  }

  /**
   * An admin changes a user: the role, the password (a reset: the old one is not needed) and
   * whether the user is disabled, any of them, in one transaction, so a change refused on one
   * part (the last active admin, a user without a password of ours) changes nothing. Each part
   * is audited as its own action (user.role, user.password, user.disable or user.enable); every
   * process applies it on the user's next request.
   *
   * - The role: the last active admin keeps it; a service account's follows its tokens' scope.
   * - The password: the same rules as at creation, stored as an scrypt hash; ends the user's
   *   console sessions (npm tokens stay).
   * - Disabling revokes every live token of the user, npm tokens and console sessions alike
   *   (each audited as token.revoke, their count in user.disable), so that enabling the user
   *   again brings none of them back. The last active admin cannot be disabled.
   */
  async updateUser(actor: Actor, username: string, change: { role?: unknown; password?: unknown; disabled?: boolean }): Promise<User> {
    if (change.role !== undefined && !isRole(change.role)) throw new GatekeeperError('EVALIDATION', 'role must be one of admin, publisher, developer, reader. Send one of them');
    const role = change.role as Role | undefined;
    const password = change.password === undefined ? undefined : assertPassword(change.password);
    const find = async (repos: Repositories): Promise<UserWithHash> => {
      const existing = await repos.users.find(username);
      if (!existing) throw new GatekeeperError('ENOTFOUND', `there is no user '${username}'. Check the name ('gatekeeper user list' lists them)`);
      return existing;
    };
    // Refused before the password's hashing, which is slow and held outside the transaction.
    if (password !== undefined) refusePasswordless(await find(this.store.repos));
    const passwordHash = password === undefined ? undefined : await hashPassword(password);
    let announce = false;
    const user = await this.store.transaction(async (repos) => {
      let user: User | undefined;
      if (role !== undefined) {
        const changed = await this.setRoleIn(repos, actor, await find(repos), role);
        announce ||= changed !== undefined;
        user = changed;
      }
      if (passwordHash !== undefined) {
        const set = await this.setPasswordIn(repos, actor, await find(repos), passwordHash, { by: 'admin' });
        announce ||= set.revokedSessions > 0;
        user = set.user;
      }
      if (change.disabled !== undefined) {
        const changed = await this.setDisabledIn(repos, actor, await find(repos), change.disabled);
        announce ||= changed !== undefined;
        user = changed ?? user;
      }
      if (user) return user;
      const { passwordHash: _hash, ...rest } = await find(repos);
      return rest;
    });
    if (announce) await this.tokenCache?.invalidated();
    return user;
  }

  /** The role change of updateUser; undefined when the user has the role already. */
  private async setRoleIn(repos: Repositories, actor: Actor, existing: UserWithHash, role: Role): Promise<User | undefined> {
    const username = existing.username;
    if (existing.role === role) return undefined;
    if (existing.kind === 'service' && role !== 'reader' && role !== 'publisher') {
      throw new GatekeeperError('ECONFLICT', `'${username}' is a service account: its role follows its tokens' scope (reader or publisher). Give the role to a user instead`);
    }
    if (isCountedAdmin(existing) && (await repos.users.countActiveAdmins({ lock: true })) <= 1) {
      throw new GatekeeperError('ECONFLICT', `'${username}' is the last active admin and keeps the admin role. Make another user admin first`);
    }
    const updated = await repos.users.update(username, { role });
    await repos.audit.save(auditEntry(actor, 'user.role', { details: { username, from: existing.role, to: role } }));
    return updated as User;
  }

  /**
   * Disabling (every live token revoked) or enabling, for updateUser; undefined when the user
   * is so already (disabled_at keeps when they were really disabled).
   */
  private async setDisabledIn(repos: Repositories, actor: Actor, existing: UserWithHash, disabled: boolean): Promise<User | undefined> {
    const username = existing.username;
    if ((existing.disabledAt !== null) === disabled) return undefined;
    if (disabled && isCountedAdmin(existing) && (await repos.users.countActiveAdmins({ lock: true })) <= 1) {
      throw new GatekeeperError('ECONFLICT', `'${username}' is the last active admin and cannot be disabled. Make another user admin first`);
    }
    const user = await repos.users.update(username, { disabledAt: disabled ? new Date() : null });
    if (!disabled) {
      await repos.audit.save(auditEntry(actor, 'user.enable', { details: { username } }));
      return user as User;
    }
    const revoked = await repos.tokens.revokeAllOf(existing.id, actor.username);
    await repos.audit.save(auditEntry(actor, 'user.disable', { details: { username, revokedTokens: revoked.length } }));
    if (revoked.length > 0) {
      await repos.audit.saveMany(revoked.map((tokenId) => auditEntry(actor, 'token.revoke', { details: { tokenId, username, reason: 'the user was disabled' } })));
    }
    return user as User;
  }

  /**
   * A user changes their own password with the current one (`npm profile set password`): the
   * current one is checked like every password (throttled per username and address, after the
   * new one passed the rules, so a refused new password costs no attempt). Ends the user's
   * console sessions; npm tokens stay.
   */
  async changeOwnPassword(actor: Actor, principal: Principal, input: { old: unknown; new: unknown }, via: string): Promise<{ user: User; revokedSessions: number }> {
    if (typeof input.old !== 'string' || input.old.length === 0) {
      throw new GatekeeperError('EVALIDATION', 'the current password is required to change it. Enter the password you log in with now');
    }
    const next = assertPassword(input.new);
    if (next === input.old) throw new GatekeeperError('EVALIDATION', 'the new password is the current one. Choose another');
    let user: User;
    try {
      user = await this.authenticatePassword(principal.username, input.old, actor.ip);
    } catch (err) {
      if (err instanceof GatekeeperError && err.code === 'EBADCREDENTIALS') {
        throw new GatekeeperError('EBADCREDENTIALS', `the current password of ${principal.username} is wrong, so it was not changed. Enter the password you log in with now; if you forgot it, ask an admin to run 'gatekeeper user password ${principal.username}'`);
      }
      throw err;
    }
    const existing = (await this.store.repos.users.find(user.username)) as UserWithHash;
    return this.setPassword(actor, existing, next, { by: 'self', via });
  }

  /** The new hash, the user's console sessions revoked, and user.password (with a token.revoke for each session): one transaction. */
  private async setPassword(actor: Actor, existing: UserWithHash, password: string, how: { by: 'admin' | 'self'; via?: string }): Promise<{ user: User; revokedSessions: number }> {
    refusePasswordless(existing);
    const passwordHash = await hashPassword(password);
    const result = await this.store.transaction((repos) => this.setPasswordIn(repos, actor, existing, passwordHash, how));
    if (result.revokedSessions > 0) await this.tokenCache?.invalidated();
    return result;
  }

  /** setPassword's writes, in the caller's transaction. */
  private async setPasswordIn(repos: Repositories, actor: Actor, existing: UserWithHash, passwordHash: string, how: { by: 'admin' | 'self'; via?: string }): Promise<{ user: User; revokedSessions: number }> {
    refusePasswordless(existing);
    const user = (await repos.users.update(existing.username, { passwordHash })) as User;
    const revoked = await repos.tokens.revokeAllOf(existing.id, actor.username, [], { createdFrom: CONSOLE_SESSION_ORIGIN });
    await repos.audit.save(auditEntry(actor, 'user.password', { details: { username: existing.username, by: how.by, ...(how.via ? { via: how.via } : {}), revokedSessions: revoked.length } }));
    if (revoked.length > 0) {
      await repos.audit.saveMany(revoked.map((tokenId) => auditEntry(actor, 'token.revoke', { details: { tokenId, username: existing.username, reason: 'the password was changed' } })));
    }
    return { user, revokedSessions: revoked.length };
  }

  listUsers(): Promise<User[]> {
    return this.store.repos.users.list();
  }

  /**
   * Checks a username and password, throttled per username and client address (see
   * LoginThrottle): over a limit it refuses with ETOOMANYATTEMPTS before hashing anything.
   * An unknown user and a wrong password fail alike (EBADCREDENTIALS, after the same scrypt
   * work); only the right password of a disabled user learns that it is disabled.
   */
  async authenticatePassword(username: string, password: string, ip?: string | null): Promise<User> {
    if (this.options.passwordLogin === false) {
      throw new GatekeeperError('EPASSWORDLOGINOFF', "password login is turned off here. Log in through the identity provider: 'npm login' (web login), or the console's sign-in button");
    }
    const attempt = await this.throttle.begin(username, ip);
    let user: UserWithHash | undefined;
    let ok: boolean;
    try {
      user = isUsername(username) ? await this.store.repos.users.find(username) : undefined;
      ok = await checkPassword(password, user?.passwordHash, this.options.verifyPassword);
    } catch (err) {
      await attempt.release().catch(() => undefined);
      throw err;
    }
    if (!user || !ok) {
      // The audit (admins only) may tell the two apart; the caller cannot.
      await attempt.failed(user ? 'wrong password' : 'unknown user');
      throw new GatekeeperError('EBADCREDENTIALS', BAD_CREDENTIALS);
    }
    if (user.disabledAt) {
      // Counted as a failure too, so that a disabled user cannot fill the audit log.
      await attempt.failed('disabled user');
      throw userDisabled(user.username);
    }
    await attempt.release();
    return user;
  }

  /**
   * `npm login` / `npm adduser`: checks the password (or registers the user when
   * self-registration is on and there is no such user) and issues a new token. With
   * self-registration off, an unknown user fails exactly like a wrong password.
   */
  async login(input: { username: unknown; password: unknown; email?: string | null; ip?: string | null }): Promise<{ token: string; user: User; created: boolean }> {
    const username = assertUsername(input.username);
    if (typeof input.password !== 'string' || input.password.length === 0) {
      throw new GatekeeperError('EVALIDATION', 'a password is required. Send the password with the request');
    }
    const actor: Actor = { username, ip: input.ip };
    let created = false;
    let user: User;
    if (this.options.allowSelfRegistration && this.options.passwordLogin !== false && !(await this.store.repos.users.find(username))) {
      user = await this.createUser(actor, {
        username,
        password: input.password,
        role: this.options.selfRegistrationRole ?? 'developer',
        email: input.email,
      });
      created = true;
    } else {
      user = await this.authenticatePassword(username, input.password, input.ip);
    }
    const token = await this.issueToken(actor, user, 'npm login');
    return { token, user, created };
  }

  /**
   * `npm token create`: the caller confirms their password (throttled like a login) and gets
   * a new token of ours. Returns its id and npm's key for it.
   */
  async createTokenWithPassword(
    actor: Actor,
    principal: Principal,
    password: unknown,
    createdFrom: string,
  ): Promise<{ token: string; id: number; key: string; createdAt: Date }> {
    if (typeof password !== 'string' || password.length === 0) {
      throw new GatekeeperError('EVALIDATION', "a password is required; 'npm token create' asks for it");
    }
    const user = await this.authenticatePassword(principal.username, password, actor.ip);
    return this.issueTokenRecord(actor, user, createdFrom);
  }

  async issueToken(actor: Actor, user: User, createdFrom: string): Promise<string> {
    return (await this.issueTokenRecord(actor, user, createdFrom)).token;
  }

  issueTokenRecord(
    actor: Actor,
    user: User,
    createdFrom: string,
    limits: { expiresAt?: Date; scope?: TokenScope } = {},
  ): Promise<{ token: string; id: number; key: string; createdAt: Date }> {
    return this.store.transaction((repos) => this.saveTokenRecord(repos, actor, user, createdFrom, limits));
  }

  /** issueTokenRecord's work inside the caller's transaction: the token and its token.create entry. */
  private async saveTokenRecord(
    repos: Repositories,
    actor: Actor,
    user: User,
    createdFrom: string,
    limits: { expiresAt?: Date; scope?: TokenScope },
  ): Promise<{ token: string; id: number; key: string; createdAt: Date }> {
    // The password was checked before this transaction: a disabling since then is seen here, or waits and revokes this token too.
    if (!(await repos.users.holdIfEnabled(user.id))) throw userDisabled(user.username);
    const token = generateToken();
    const scope = limits.scope ? formatTokenScope(limits.scope) : null;
    const id = await repos.tokens.save({ userId: user.id, tokenHash: hashToken(token), prefix: token.slice(0, 10), createdFrom, expiresAt: limits.expiresAt ?? null, scope, readonly: limits.scope?.kind === 'read' });
    const details: Record<string, unknown> = { tokenId: id, username: user.username, createdFrom };
    if (scope) details.scope = scope;
    if (limits.expiresAt) details.expiresAt = limits.expiresAt.toISOString();
    await repos.audit.save(auditEntry(actor, 'token.create', { details }));
    const saved = (await repos.tokens.findWithKey(id)) as TokenWithKey;
    return { token, id, key: saved.key, createdAt: saved.token.createdAt };
  }

  /**
   * A token for a service account: a CI user that is no IdP user and has no password, created
   * at its first token (audited `user.service_account`). Its tokens always carry a scope
   * (`read`, or `publish:@a,@b`) and an expiry, both checked on every request; its role is the
   * least the scope needs (reader, or publisher). A publish token for a reader account raises
   * it to publisher: audited as `user.role` (from, to), in the same transaction as the token.
   */
  async createServiceAccountToken(
    actor: Actor,
    input: { name: unknown; scope: unknown; expires: unknown },
  ): Promise<{ token: string; id: number; username: string; scope: string; expiresAt: string; created: boolean }> {
    const username = assertUsername(input.name);
    const scope = parseTokenScope(input.scope);
    if (!scope) throw new GatekeeperError('EVALIDATION', "scope must be 'read' or 'publish:@scope[,@scope…]'. Send one of those forms");
    if (typeof input.expires !== 'string' || input.expires.trim() === '') {
      throw new GatekeeperError('EVALIDATION', 'expires is required: a service account token needs an expiry, like 30d or 12h (at most 400d)');
    }
    let ms: number;
    try {
      ms = parseDuration(input.expires.trim());
    } catch {
      throw new GatekeeperError('EVALIDATION', `'${input.expires.slice(0, 50)}' is not a duration; use e.g. 30d or 12h`);
    }
    if (ms <= 0 || ms > 400 * 24 * 60 * 60 * 1000) throw new GatekeeperError('EVALIDATION', 'a service account token expires after more than 0 and at most 400 days. Give an expiry like 30d or 12h');
    const role: Role = scope.kind === 'read' ? 'reader' : 'publisher';
    const expiresAt = new Date(Date.now() + ms);
    let created = false;
    let roleChanged = false;
    // The account (made, or its role raised), the token and their audit entries: one transaction.
    const issue = () =>
      this.store.transaction(async (repos) => {
        created = false;
        roleChanged = false;
        const user = await this.serviceAccount(repos, actor, username, role, {
          created: () => (created = true),
          roleChanged: () => (roleChanged = true),
        });
        return this.saveTokenRecord(repos, actor, user, 'service account', { expiresAt, scope });
      });
    let issued: Awaited<ReturnType<typeof issue>>;
    try {
      issued = await issue();
    } catch (err) {
      // Two first tokens at once: the other call made the account (its insert won the unique
      // index, or it committed between this call's lookup and its case-insensitive check, which
      // then names the account itself). Once more, finding it.
      const raced = (err as { code?: unknown }).code === '23505' || (err instanceof GatekeeperError && err.code === 'ECONFLICT' && err.details?.existing === username);
      if (!raced) throw err;
      issued = await issue();
    }
    // Its other tokens resolve with the new role from their next request, in every process.
    if (roleChanged) await this.tokenCache?.invalidated();
    return { token: issued.token, id: issued.id, username, scope: formatTokenScope(scope), expiresAt: expiresAt.toISOString(), created };
  }

  /** The service account a token is issued for: made at its first token, its role raised to what a publish scope needs. */
  private async serviceAccount(repos: Repositories, actor: Actor, username: string, role: Role, events: { created(): void; roleChanged(): void }): Promise<User> {
    const existing = await repos.users.find(username);
    if (existing) {
      if (existing.kind !== 'service') throw new GatekeeperError('ECONFLICT', `'${username}' is a user, not a service account. Pick another name for the service account`);
      if (existing.disabledAt) throw new GatekeeperError('ECONFLICT', `the service account '${username}' is disabled. Enable it first`);
      const { passwordHash: _hash, ...rest } = existing;
      // A publish scope needs the publisher role; a read token never narrows it.
      if (role !== 'publisher' || existing.role === 'publisher') return rest;
      const updated = (await repos.users.update(username, { role })) as User;
      await repos.audit.save(auditEntry(actor, 'user.role', { details: { username, from: existing.role, to: role, why: 'a token with a publish scope was issued for the service account' } }));
      events.roleChanged();
      return updated;
    }
    await assertUsernameFree(repos, username, 'Pick another name for the service account');
    const user = await repos.users.save({ username, passwordHash: NO_PASSWORD, role, kind: 'service' });
    await repos.audit.save(auditEntry(actor, 'user.service_account', { details: { username, role } }));
    events.created();
    return user;
  }

  /**
   * Resolves a bearer token on every request, so a revoked token or a disabled user is
   * refused on the next request: from the token cache while it is trusted (revocations and
   * user changes empty it in every process, see TokenCache), else with one indexed query.
   * Its use is noted unless `noteUse` is false (the caller checks more first, then notes it).
   */
  async resolveToken(token: string, options: { noteUse?: boolean } = {}): Promise<Principal> {
    const note = options.noteUse !== false;
    const hash = hashToken(token);
    const cached = this.tokenCache?.get(hash);
    if (cached) {
      if (isExpired(cached)) throw new GatekeeperError('ETOKENEXPIRED', EXPIRED);
      if (note) this.tokenUse?.note(cached.tokenId);
      return cached;
    }
    const ticket = this.tokenCache?.ticket();
    const credential = await this.store.repos.tokens.findCredential(hash);
    if (!credential) {
      throw new GatekeeperError(
        'ETOKENREVOKED',
        "this token is not valid: it was revoked, its user was disabled, or it never existed. Log in again with 'npm login'",
      );
    }
    const principal: Principal = { username: credential.user.username, role: credential.user.role, tokenId: credential.tokenId };
    if (credential.expiresAt) principal.expiresAt = credential.expiresAt.getTime();
    const scope = credential.scope ? parseTokenScope(credential.scope) : undefined;
    // A stored scope that cannot be read narrows to read-only, never widens to the role.
    if (credential.scope) principal.scope = scope ?? { kind: 'read' };
    if (isExpired(principal)) throw new GatekeeperError('ETOKENEXPIRED', EXPIRED);
    this.tokenCache?.put(hash, principal, ticket);
    if (note) this.tokenUse?.note(principal.tokenId);
    return principal;
  }

  /** Notes a token's use (its last-used time), for a caller that resolved it with `noteUse: false` and then checked more. */
  noteUse(tokenId: number | undefined): void {
    this.tokenUse?.note(tokenId);
  }

  /**
   * A token's principal when the token cache holds it and may be trusted; never asks the
   * database (the registry's fast path; anything else takes resolveToken). An expired token
   * is not served from here (resolveToken refuses it).
   */
  cachedPrincipal(token: string): Principal | undefined {
    const principal = this.tokenCache?.get(hashToken(token));
    if (!principal || isExpired(principal)) return undefined;
    this.tokenUse?.note(principal.tokenId);
    return principal;
  }

  /** Basic credentials on a request: a password check like any other, throttled. */
  async resolveBasic(username: string, password: string, ip?: string | null): Promise<Principal> {
    const user = await this.authenticatePassword(username, password, ip);
    return { username: user.username, role: user.role };
  }

  listTokens(filter: { username?: string } = {}): Promise<Token[]> {
    return this.store.repos.tokens.list(filter);
  }

  /** A user's live tokens with npm's key for each (`npm token list`). */
  listLiveTokensWithKeys(username: string): Promise<TokenWithKey[]> {
    return this.store.repos.tokens.listWithKeys({ username, live: true });
  }

  /** The token npm names by its key, or by its value (`npm token revoke` accepts either). */
  async findTokenByNpmKey(key: string): Promise<Token | undefined> {
    if (/^[0-9a-f]{64}$/.test(key)) return (await this.store.repos.tokens.findByKey(key))?.token;
    const credential = await this.store.repos.tokens.findCredential(hashToken(key));
    return credential ? this.store.repos.tokens.find(credential.tokenId) : undefined;
  }

  async findUser(username: string): Promise<User | undefined> {
    const user = await this.store.repos.users.find(username);
    if (!user) return undefined;
    const { passwordHash: _hash, ...rest } = user;
    return rest;
  }

  /** Revokes a token; every process refuses it on its next request (see TokenCache). */
  async revokeToken(actor: Actor, id: number, principal?: Principal): Promise<Token> {
    let changed = false;
    const result = await this.store.transaction(async (repos) => {
      const token = await repos.tokens.find(id);
      // Someone else's token is "not found" for a non-admin, in the same words as a missing one:
      // ids say nothing about other users' tokens (npm's own revoke route answers alike).
      const anyone = !principal || principal.role === 'admin';
      if (!token || (!anyone && token.username !== principal?.username)) {
        throw new GatekeeperError('ENOTFOUND', anyone ? `there is no token ${id}. 'gatekeeper token list' lists tokens` : `there is no token ${id} of yours. 'gatekeeper token list' lists yours`);
      }
      if (token.revokedAt) return token;
      changed = await repos.tokens.revoke(id, actor.username);
      await repos.audit.save(auditEntry(actor, 'token.revoke', { details: { tokenId: id, username: token.username } }));
      return (await repos.tokens.find(id)) as Token;
    });
    if (changed) await this.tokenCache?.invalidated();
    return result;
  }

  /** `npm logout` sends the token itself. */
  async revokeTokenValue(actor: Actor, token: string): Promise<void> {
    const credential = await this.store.repos.tokens.findCredential(hashToken(token));
    if (credential) await this.revokeToken(actor, credential.tokenId);
  }

  /**
   * First start: if no admin exists, create `admin` with the given password, or a generated
   * one that the caller must show once and store safely.
   */
  async bootstrapAdmin(password: string | undefined): Promise<{ created: boolean; password?: string; generated: boolean }> {
    if ((await this.store.repos.users.countActiveAdmins()) > 0) return { created: false, generated: false };
    const existing = await this.store.repos.users.find('admin');
    if (existing) return { created: false, generated: false };
    const generated = !password;
    const secret = password ?? randomBytes(18).toString('base64url');
    try {
      await this.createUser({ username: '$system' }, { username: 'admin', password: secret, role: 'admin' });
    } catch (err) {
      // Gatekeepers started together on a new database: another one created it first.
      if (await this.store.repos.users.find('admin')) return { created: false, generated: false };
      throw err;
    }
    return { created: true, password: secret, generated };
  }
}

/** The unique index on lower(username) (migration 014). */
export const USERNAME_LOWER_INDEX = 'users_username_lower_unique';

function usernameTaken(username: string, existing: string | undefined, next: string): GatekeeperError {
  const other = existing === undefined ? 'another user has that name, in some letter case' : `the user '${existing}' exists`;
  return new GatekeeperError('ECONFLICT', `the username '${username}' is taken: ${other}, and usernames are unique without regard to case. ${next}`, {
    username,
    ...(existing === undefined ? {} : { existing }),
  });
}

/**
 * Refuses a new user's name that equals an existing one without regard to case (the unique
 * index on lower(username) makes it race-free; this names the user it clashes with).
 */
export async function assertUsernameFree(repos: Repositories, username: string, next: string): Promise<void> {
  const existing = await repos.users.findIgnoringCase(username);
  if (existing) throw usernameTaken(username, existing.username, next);
}

/** An enabled admin who counts towards the last-admin rule (see UsersRepository.countActiveAdmins). */
function isCountedAdmin(user: { role: string; disabledAt?: Date | null; kind?: string }): boolean {
  return user.role === 'admin' && !user.disabledAt && user.kind !== 'service';
}

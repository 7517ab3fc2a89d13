import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatekeeperError } from '../core/errors';
import type { Role } from '../core/roles';
import type { Store } from '../db/store';
import type { User } from '../db/repositories/users';
import { Actor, auditEntry } from './audit';
import { CONSOLE_SESSION_ORIGIN, hashToken, IdentityService, Principal } from './identity';

/**
 * The web console's sessions. A session is a token of ours (same table, stored as its
 * SHA-256, shown and revocable in the token list) marked `created_from = 'console session'`,
 * carried in an HttpOnly, SameSite=Strict cookie. It differs from an npm token in three ways:
 * - its value starts with `gks_`, and the registry never takes such a value as a Bearer token;
 * - it expires `ttlMs` after it was created: the expiry is stored with the token (the token list
 *   shows it) and checked on every request, before its use is noted;
 * - state-changing calls it authenticates need its CSRF token, derived from the secret (so an
 *   attacker who cannot read the cookie cannot compute it), given to the console at sign-in.
 * Sign-in is a password check like any other: throttled by the IdentityService.
 */

export const SESSION_ORIGIN = CONSOLE_SESSION_ORIGIN;
export const SESSION_PREFIX = 'gks_';
export const SESSION_COOKIE = 'gk_session';
export const CSRF_HEADER = 'x-gatekeeper-csrf';
export const DEFAULT_SESSION_TTL_MS = 8 * 60 * 60 * 1000;

export interface SessionInfo {
  username: string;
  role: Role;
  tokenId: number;
  csrfToken: string;
  expiresAt: string;
}

export function csrfTokenFor(session: string): string {
  return createHash('sha256').update(`gatekeeper-csrf:${session}`).digest('base64url');
}

/** Whether a CSRF header matches the session's token (constant time). */
export function csrfMatches(session: string, header: unknown): boolean {
  if (typeof header !== 'string' || header.length === 0) return false;
  const expected = Buffer.from(csrfTokenFor(session));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function isSessionValue(token: string): boolean {
  return token.startsWith(SESSION_PREFIX);
}

const ENDED = "this console session has ended: it was signed out, revoked, or its user was disabled. Sign in again";
const EXPIRED = 'this console session has expired. Sign in again';

export class SessionService {
  constructor(
    private readonly store: Store,
    private readonly identity: IdentityService,
    readonly ttlMs: number = DEFAULT_SESSION_TTL_MS,
  ) {}

  /** Username and password (throttled like every password check) to a new session. */
  async signIn(input: { username: unknown; password: unknown; ip?: string | null }): Promise<{ session: string; info: SessionInfo }> {
    if (typeof input.username !== 'string' || input.username.length === 0 || typeof input.password !== 'string' || input.password.length === 0) {
      throw new GatekeeperError('EVALIDATION', 'a username and a password are required. Fill in both');
    }
    const user = await this.identity.authenticatePassword(input.username, input.password, input.ip);
    return this.createFor(user, input.ip, 'password');
  }

  /** A new session for a user whose sign-in was checked (a password, or the identity provider). */
  async createFor(user: User, ip: string | null | undefined, via: 'password' | 'sso'): Promise<{ session: string; info: SessionInfo }> {
    const session = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
    const actor: Actor = { username: user.username, ip };
    // Stored with the token, so that the token list shows it and every check reads it.
    const expiresAt = new Date(Date.now() + this.ttlMs);
    const { id, createdAt } = await this.store.transaction(async (repos) => {
      const tokenId = await repos.tokens.save({ userId: user.id, tokenHash: hashToken(session), prefix: session.slice(0, 10), createdFrom: SESSION_ORIGIN, expiresAt });
      await repos.audit.save(auditEntry(actor, 'token.create', { details: { tokenId, username: user.username, createdFrom: SESSION_ORIGIN, via, expiresAt: expiresAt.toISOString() } }));
      const saved = await repos.tokens.find(tokenId);
      return { id: tokenId, createdAt: saved?.createdAt ?? new Date() };
    });
    return { session, info: this.info(session, { username: user.username, role: user.role, tokenId: id }, this.expiryOf({ createdAt, expiresAt })) };
  }

  /**
   * The session's principal, or a refusal: ended (revoked, user disabled), expired, or not a
   * session. Its use is noted (the token list's "last used") only once it passed every check.
   */
  async resolve(session: string): Promise<SessionInfo> {
    if (!isSessionValue(session)) throw new GatekeeperError('ETOKENREVOKED', ENDED);
    let principal: Principal;
    try {
      principal = await this.identity.resolveToken(session, { noteUse: false });
    } catch (err) {
      const code = (err as GatekeeperError).code;
      if (code === 'ETOKENREVOKED') throw new GatekeeperError('ETOKENREVOKED', ENDED);
      if (code === 'ETOKENEXPIRED') throw new GatekeeperError('EUNAUTHENTICATED', EXPIRED);
      throw err;
    }
    const token = principal.tokenId === undefined ? undefined : await this.store.repos.tokens.find(principal.tokenId);
    if (!token || token.revokedAt || token.createdFrom !== SESSION_ORIGIN) throw new GatekeeperError('ETOKENREVOKED', ENDED);
    const expiresAt = this.expiryOf(token);
    if (expiresAt.getTime() <= Date.now()) throw new GatekeeperError('EUNAUTHENTICATED', EXPIRED);
    this.identity.noteUse(token.id);
    return this.info(session, principal, expiresAt);
  }

  /**
   * When a session ends: its stored expiry, or its creation plus this service's lifetime when
   * that comes first (sessions made before expiries were stored, or a lifetime shortened since).
   */
  private expiryOf(token: { createdAt: Date; expiresAt?: Date | null }): Date {
    const byAge = token.createdAt.getTime() + this.ttlMs;
    const stored = token.expiresAt?.getTime();
    return new Date(stored === undefined || stored > byAge ? byAge : stored);
  }

  /** Ends the session (revokes its token); every process refuses it on its next request. */
  async signOut(actor: Actor, session: string): Promise<void> {
    const info = await this.resolve(session);
    await this.identity.revokeToken(actor, info.tokenId);
  }

  private info(session: string, principal: Principal, expiresAt: Date): SessionInfo {
    return {
      username: principal.username,
      role: principal.role,
      tokenId: principal.tokenId as number,
      csrfToken: csrfTokenFor(session),
      expiresAt: expiresAt.toISOString(),
    };
  }
}

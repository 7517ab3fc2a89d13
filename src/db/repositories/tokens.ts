import type { Knex } from 'knex';
import { toUser, User, Role } from './users';
import { announceIdentityChange } from './identity-channel';

export { IDENTITY_CHANNEL } from './identity-channel';

export interface Token {
  id: number;
  userId: number;
  username: string;
  prefix: string;
  readonly: boolean;
  createdFrom: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  /** When it stops working (null: never; migration 013). */
  expiresAt?: Date | null;
  /** Narrower than its user's role: `read`, or `publish:@a,@b` (null: the role). */
  scope?: string | null;
}

interface TokenRow {
  id: number;
  user_id: number;
  username: string;
  token_prefix: string;
  readonly: boolean;
  created_from: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  expires_at?: Date | null;
  scope?: string | null;
}

function toToken(row: TokenRow): Token {
  const token: Token = {
    id: row.id,
    userId: row.user_id,
    username: row.username,
    prefix: row.token_prefix,
    readonly: row.readonly,
    createdFrom: row.created_from,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
  if (row.expires_at !== undefined) token.expiresAt = row.expires_at;
  if (row.scope !== undefined) token.scope = row.scope;
  return token;
}

/** A token with npm's key for it (`npm token list`, `npm token revoke <id>`). */
export interface TokenWithKey {
  token: Token;
  key: string;
}

/**
 * npm names tokens by a `key`, and `npm token revoke` by any unambiguous prefix of it. Ours
 * is derived from the stored hash (never the hash itself), so it is opaque, fixed-length and
 * computed in one place: here, in SQL.
 */
const NPM_KEY = "encode(sha256(convert_to('npm-key:' || tokens.token_hash, 'UTF8')), 'hex')";

const TOKEN_COLUMNS = [
  'tokens.id',
  'tokens.user_id',
  'users.username',
  'tokens.token_prefix',
  'tokens.readonly',
  'tokens.created_from',
  'tokens.created_at',
  'tokens.last_used_at',
  'tokens.revoked_at',
  'tokens.revoked_by',
  'tokens.expires_at',
  'tokens.scope',
];

function withKeys(rows: Array<TokenRow & { npm_key: string }>): TokenWithKey[] {
  return rows.map((row) => ({ token: toToken(row), key: row.npm_key }));
}

export class TokenRepository {
  constructor(private readonly db: Knex) {}

  async save(token: { userId: number; tokenHash: string; prefix: string; readonly?: boolean; createdFrom?: string | null; expiresAt?: Date | null; scope?: string | null }): Promise<number> {
    const [row] = await this.db('tokens')
      .insert({
        user_id: token.userId,
        token_hash: token.tokenHash,
        token_prefix: token.prefix,
        readonly: token.readonly ?? false,
        created_from: token.createdFrom ?? null,
        expires_at: token.expiresAt ?? null,
        scope: token.scope ?? null,
      })
      .returning('id');
    return row.id as number;
  }

  /**
   * One round trip: the live token and its user, or nothing if revoked, unknown or disabled.
   * An expired token is returned (with its expiry), so that its refusal can say so.
   */
  async findCredential(tokenHash: string): Promise<{ tokenId: number; readonly: boolean; expiresAt: Date | null; scope: string | null; user: User } | undefined> {
    const row = await this.db('tokens')
      .join('users', 'users.id', 'tokens.user_id')
      .where('tokens.token_hash', tokenHash)
      .whereNull('tokens.revoked_at')
      .whereNull('users.disabled_at')
      .first<{ token_id: number; readonly: boolean; token_expires_at: Date | null; token_scope: string | null; id: number; username: string; role: Role; email: string | null; created_at: Date; disabled_at: Date | null }>(
        'tokens.id as token_id',
        'tokens.readonly',
        'tokens.expires_at as token_expires_at',
        'tokens.scope as token_scope',
        'users.id',
        'users.username',
        'users.role',
        'users.email',
        'users.created_at',
        'users.disabled_at',
      );
    return row ? { tokenId: row.token_id, readonly: row.readonly, expiresAt: row.token_expires_at, scope: row.token_scope, user: toUser(row) } : undefined;
  }

  async find(id: number): Promise<Token | undefined> {
    const row = await this.db('tokens').join('users', 'users.id', 'tokens.user_id').where('tokens.id', id).first<TokenRow>(TOKEN_COLUMNS);
    return row ? toToken(row) : undefined;
  }

  async findWithKey(id: number): Promise<TokenWithKey | undefined> {
    return withKeys(await this.selectWithKeys().where('tokens.id', id))[0];
  }

  /** The token whose npm key this is. */
  async findByKey(key: string): Promise<TokenWithKey | undefined> {
    return withKeys(await this.selectWithKeys().whereRaw(`${NPM_KEY} = ?`, [key]))[0];
  }

  async listWithKeys(filter: { username?: string; live?: boolean } = {}): Promise<TokenWithKey[]> {
    const query = this.selectWithKeys().orderBy('tokens.id');
    if (filter.username) query.where('users.username', filter.username);
    if (filter.live) query.whereNull('tokens.revoked_at');
    return withKeys(await query);
  }

  private selectWithKeys() {
    return this.db('tokens')
      .join('users', 'users.id', 'tokens.user_id')
      .select<Array<TokenRow & { npm_key: string }>>([...TOKEN_COLUMNS, this.db.raw(`${NPM_KEY} as npm_key`)]);
  }

  async list(filter: { username?: string } = {}): Promise<Token[]> {
    const query = this.db('tokens').join('users', 'users.id', 'tokens.user_id').select<TokenRow[]>(TOKEN_COLUMNS).orderBy('tokens.id');
    if (filter.username) query.where('users.username', filter.username);
    return (await query).map(toToken);
  }

  /** Revokes a token and announces it (IDENTITY_CHANNEL) in the same transaction. */
  async revoke(id: number, by: string): Promise<boolean> {
    const count = await this.db('tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: this.db.fn.now(), revoked_by: by });
    if (Number(count) > 0) await announceIdentityChange(this.db, `token:${id}`);
    return Number(count) > 0;
  }

  /**
   * Revokes every live token of a user but those listed (a demotion at an SSO sign-in, a user
   * disabled), or only those created from `createdFrom` (a password change ends the console
   * sessions), and announces it in the same transaction. Returns the revoked ids.
   */
  async revokeAllOf(userId: number, by: string, except: number[] = [], only: { createdFrom?: string } = {}): Promise<number[]> {
    const query = this.db('tokens').where({ user_id: userId }).whereNull('revoked_at');
    if (except.length > 0) query.whereNotIn('id', except);
    if (only.createdFrom !== undefined) query.where({ created_from: only.createdFrom });
    const rows = (await query.update({ revoked_at: this.db.fn.now(), revoked_by: by }).returning('id')) as Array<{ id: number }>;
    if (rows.length > 0) await announceIdentityChange(this.db, `user-tokens:${userId}`);
    return rows.map((r) => r.id);
  }

  async touch(id: number): Promise<void> {
    await this.db('tokens').where({ id }).update({ last_used_at: this.db.fn.now() });
  }

  /** Sets when each token was last used, in one statement (never moving a time back). */
  async touchMany(uses: ReadonlyArray<{ id: number; at: Date }>): Promise<void> {
    if (uses.length === 0) return;
    await this.db.raw(
      `update tokens set last_used_at = greatest(tokens.last_used_at, u.at)
         from (select unnest(?::bigint[]) as id, unnest(?::timestamptz[]) as at) u
        where tokens.id = u.id`,
      [uses.map((u) => u.id), uses.map((u) => u.at.toISOString())],
    );
  }
}

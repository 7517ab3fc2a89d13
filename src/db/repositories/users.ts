import type { Knex } from 'knex';

import type { Role } from '../../core/roles';
import { announceIdentityChange } from './identity-channel';

export type { Role };

/** local: a password of ours; sso: signs in through the identity provider; service: a CI account with scoped tokens (migration 013). */
export type UserKind = 'local' | 'sso' | 'service';

export interface User {
  id: number;
  username: string;
  role: Role;
  email: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  kind?: UserKind;
}

/** The password hash of users who have none (SSO and service users): no password matches it. */
export const NO_PASSWORD = '!';

export interface UserWithHash extends User {
  passwordHash: string;
}

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  email: string | null;
  created_at: Date;
  disabled_at: Date | null;
  kind?: UserKind;
  external_subject?: string | null;
}

export function toUser(row: Omit<UserRow, 'password_hash'>): User {
  const user: User = {
    id: row.id,
    username: row.username,
    role: row.role,
    email: row.email,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
  if (row.kind) user.kind = row.kind;
  return user;
}

export class UserRepository {
  constructor(private readonly db: Knex) {}

  async find(username: string): Promise<UserWithHash | undefined> {
    const row = await this.db<UserRow>('users').where({ username }).first();
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  /**
   * The user whose name equals this one without regard to case (the oldest, if an installation
   * holds several from before the rule: see migration 014).
   */
  async findIgnoringCase(username: string): Promise<User | undefined> {
    const row = await this.db<UserRow>('users').whereRaw('lower(username) = lower(?)', [username]).orderBy('id').first();
    return row ? toUser(row) : undefined;
  }

  async save(user: { username: string; passwordHash: string; role: Role; email?: string | null; kind?: UserKind; externalSubject?: string | null }): Promise<User> {
    const [row] = await this.db<UserRow>('users')
      .insert({
        username: user.username,
        password_hash: user.passwordHash,
        role: user.role,
        email: user.email ?? null,
        ...(user.kind ? { kind: user.kind } : {}),
        ...(user.externalSubject ? { external_subject: user.externalSubject } : {}),
      })
      .returning('*');
    return toUser(row);
  }

  async findById(id: number): Promise<User | undefined> {
    const row = await this.db<UserRow>('users').where({ id }).first();
    return row ? toUser(row) : undefined;
  }

  /** The user who signs in through the identity provider with this subject (`<issuer> <sub>`). */
  async findBySubject(subject: string): Promise<User | undefined> {
    const row = await this.db<UserRow>('users').where({ external_subject: subject }).first();
    return row ? toUser(row) : undefined;
  }

  /**
   * A change of role or of the disabled state changes what the user's tokens may do: it is
   * announced (IDENTITY_CHANNEL) in the same transaction, so cached tokens are dropped.
   */
  async update(username: string, changes: { role?: Role; passwordHash?: string; disabledAt?: Date | null; email?: string | null }): Promise<User | undefined> {
    const patch: Partial<UserRow> = {};
    if (changes.email !== undefined) patch.email = changes.email;
    if (changes.role !== undefined) patch.role = changes.role;
    if (changes.passwordHash !== undefined) patch.password_hash = changes.passwordHash;
    if (changes.disabledAt !== undefined) patch.disabled_at = changes.disabledAt;
    const [row] = await this.db<UserRow>('users').where({ username }).update(patch).returning('*');
    if (row && (changes.role !== undefined || changes.disabledAt !== undefined)) await announceIdentityChange(this.db, `user:${row.id}`);
    return row ? toUser(row) : undefined;
  }

  async list(): Promise<User[]> {
    const rows = await this.db<UserRow>('users').orderBy('username');
    return rows.map(toUser);
  }

  /**
   * Whether the user is enabled, holding their row (FOR SHARE) until the transaction ends: a
   * token issued in it then either sees a disabling that committed first, or holds the disabling
   * back until it commits, so the disabling revokes it with the rest.
   */
  async holdIfEnabled(id: number): Promise<boolean> {
    const row = await this.db('users').where({ id }).forShare().first('disabled_at');
    return row !== undefined && row.disabled_at === null;
  }

  /**
   * Enabled admins who can sign in and administer: service accounts do not count (their
   * tokens are scoped, and no one signs in as one). With `lock`, inside a transaction, their
   * rows stay locked until it ends, so two changes that each leave one admin cannot both pass:
   * the second waits and then counts what the first left.
   */
  async countActiveAdmins(options: { lock?: boolean } = {}): Promise<number> {
    const query = this.db('users').where({ role: 'admin' }).whereNull('disabled_at').whereNot({ kind: 'service' }).select('id');
    if (options.lock) query.forUpdate();
    return (await query).length;
  }
}

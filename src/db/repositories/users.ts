import type { Knex } from 'knex';

import type { Role } from '../../core/roles';
import { announceIdentityChange } from './identity-channel';

export type { Role };

export interface User {
  id: number;
  username: string;
  role: Role;
  email: string | null;
  createdAt: Date;
  disabledAt: Date | null;
}

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
}

export function toUser(row: Omit<UserRow, 'password_hash'>): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    email: row.email,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

export class UserRepository {
  constructor(private readonly db: Knex) {}

  async find(username: string): Promise<UserWithHash | undefined> {
    const row = await this.db<UserRow>('users').where({ username }).first();
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  async save(user: { username: string; passwordHash: string; role: Role; email?: string | null }): Promise<User> {
    const [row] = await this.db<UserRow>('users')
      .insert({ username: user.username, password_hash: user.passwordHash, role: user.role, email: user.email ?? null })
      .returning('*');
    return toUser(row);
  }

  /**
   * A change of role or of the disabled state changes what the user's tokens may do: it is
   * announced (IDENTITY_CHANNEL) in the same transaction, so cached tokens are dropped.
   */
  async update(username: string, changes: { role?: Role; passwordHash?: string; disabledAt?: Date | null }): Promise<User | undefined> {
    const patch: Partial<UserRow> = {};
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

  async countActiveAdmins(): Promise<number> {
    const [{ count }] = await this.db('users').where({ role: 'admin' }).whereNull('disabled_at').count<{ count: string }[]>('* as count');
    return Number(count);
  }
}

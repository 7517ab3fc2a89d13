import type { Knex } from 'knex';

/**
 * Changes that make a token stop being valid (a revocation; a user disabled, enabled or given
 * another role) are announced on this channel in the transaction that makes them, so every
 * process drops what it cached about tokens when the change commits (see TokenCache).
 */
export const IDENTITY_CHANNEL = 'gatekeeper_identity';

/** NOTIFY on IDENTITY_CHANNEL; delivered when the surrounding transaction commits. */
export async function announceIdentityChange(db: Knex, what: string): Promise<void> {
  await db.raw('select pg_notify(?, ?)', [IDENTITY_CHANNEL, what.slice(0, 200)]);
}

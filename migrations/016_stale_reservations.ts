import type { Knex } from 'knex';

/**
 * The publishing.reconcile job looks for reservations older than the stale window every few
 * minutes. A partial index holds only the reserved rows (a handful at any time), so the
 * look-up never scans every version ever published.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index published_versions_reserved_at on published_versions (reserved_at) where state = 'reserved'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists published_versions_reserved_at');
}

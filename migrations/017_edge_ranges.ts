import type { Knex } from 'knex';

/**
 * A version may declare one package twice under one type with two ranges: an alias beside the
 * real name (`"old": "npm:real@^1"`, `"real": "^2"`), or two aliases of it. Unresolved, both
 * edges had the same key, and the second was dropped; the range is part of the key now.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists dependency_edges_key');
  await knex.raw(`create unique index dependency_edges_key on dependency_edges (package, version, dep_name, dep_type, dep_range, (coalesce(resolved_version, '')))`);
}

export async function down(knex: Knex): Promise<void> {
  // The old key cannot hold two ranges of one name: the later rows of such pairs go.
  await knex.raw(`delete from dependency_edges e using dependency_edges f
    where e.package = f.package and e.version = f.version and e.dep_name = f.dep_name and e.dep_type = f.dep_type
      and coalesce(e.resolved_version, '') = coalesce(f.resolved_version, '') and e.ctid > f.ctid`);
  await knex.raw('drop index if exists dependency_edges_key');
  await knex.raw(`create unique index dependency_edges_key on dependency_edges (package, version, dep_name, dep_type, (coalesce(resolved_version, '')))`);
}

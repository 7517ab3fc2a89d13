import type { Knex } from 'knex';

/**
 * The catalogue (docs/catalogue.md): tags and who assigned them, the versions the gatekeeper
 * decided, requested or recorded with their declared dependencies (dependency edges, with
 * the resolved version where one is known), and what request limits need on
 * package_requests (a filing's batch, the rejected request a refiling follows).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tags', (t) => {
    t.increments('id').primary();
    t.text('name').notNullable();
    t.text('slug').notNullable();
    t.text('colour');
    t.text('description');
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('updated_by');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('deleted_by');
    t.timestamp('deleted_at', { useTz: true });
  });
  // Names (without regard to case) and slugs are unique among the tags not deleted: a deleted
  // tag keeps its row (and history) but frees its name.
  await knex.raw('create unique index tags_name_live on tags (lower(name)) where deleted_at is null');
  await knex.raw('create unique index tags_slug_live on tags (slug) where deleted_at is null');

  await knex.schema.createTable('catalogue_packages', (t) => {
    t.text('name').primary();
    t.text('first_source').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('package_tags', (t) => {
    t.integer('tag_id').notNullable().references('id').inTable('tags').onDelete('CASCADE');
    t.text('package').notNullable();
    t.text('assigned_by').notNullable();
    t.timestamp('assigned_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Packages with a tag: the key's prefix. Tags of a package: the index below.
    t.primary(['tag_id', 'package']);
    t.index(['package']);
  });

  await knex.schema.createTable('catalogue_versions', (t) => {
    t.text('name').notNullable().references('name').inTable('catalogue_packages').onDelete('CASCADE');
    t.text('version').notNullable();
    t.text('license');
    t.text('source').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['name', 'version']);
  });
  await knex.raw(`alter table catalogue_versions add constraint catalogue_versions_source check (source in ('request', 'approval', 'lockfile', 'publish'))`);

  await knex.schema.createTable('dependency_edges', (t) => {
    t.text('package').notNullable();
    t.text('version').notNullable();
    t.text('dep_name').notNullable();
    t.text('dep_range').notNullable();
    t.text('dep_type').notNullable();
    t.text('resolved_version');
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.foreign(['package', 'version']).references(['name', 'version']).inTable('catalogue_versions').onDelete('CASCADE');
  });
  await knex.raw(`alter table dependency_edges add constraint dependency_edges_type check (dep_type in ('runtime', 'dev', 'peer', 'optional'))`);
  // One row per declared dependency and resolution (a range may resolve differently in two
  // lockfiles); also what "the dependencies of package@version" reads.
  await knex.raw(`create unique index dependency_edges_key on dependency_edges (package, version, dep_name, dep_type, (coalesce(resolved_version, '')))`);
  // Reverse lookups by dependency name ("who depends on any version of X"; declared but
  // unresolved edges) ...
  await knex.raw('create index dependency_edges_by_name on dependency_edges (dep_name)');
  // ... and by name plus resolved version: each step of the transitive walk, read from the
  // index alone.
  await knex.raw(
    'create index dependency_edges_by_resolved on dependency_edges (dep_name, resolved_version) include (package, version, dep_type) where resolved_version is not null',
  );

  await knex.schema.alterTable('package_requests', (t) => {
    t.uuid('batch_id');
    t.integer('previous_request_id').references('id').inTable('package_requests').onDelete('SET NULL');
  });
  // The request limit counts a requester's own filings (not auto-queued dependency requests)
  // of the last hour; the rejection cooldown looks up recent rejections of one name@range.
  await knex.raw('create index package_requests_filings on package_requests (requester, created_at) where source_request_id is null');
  await knex.raw(`create index package_requests_rejections on package_requests (name, range, decided_at) where status = 'rejected'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists package_requests_rejections');
  await knex.raw('drop index if exists package_requests_filings');
  await knex.schema.alterTable('package_requests', (t) => {
    t.dropColumn('previous_request_id');
    t.dropColumn('batch_id');
  });
  await knex.schema.dropTable('dependency_edges');
  await knex.schema.dropTable('catalogue_versions');
  await knex.schema.dropTable('package_tags');
  await knex.schema.dropTable('catalogue_packages');
  await knex.schema.dropTable('tags');
}

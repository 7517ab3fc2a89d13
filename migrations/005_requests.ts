import type { Knex } from 'knex';

/**
 * Package requests (with their automated checks and auto-queued dependency requests), and
 * projects: a submitted lockfile's package@version memberships with pinned integrity, for
 * "who uses this version" before a ban.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('package_requests', (t) => {
    t.increments('id').primary();
    t.text('name').notNullable();
    t.text('range').notNullable();
    t.text('reason').notNullable();
    t.text('requester').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('source_request_id').references('id').inTable('package_requests').onDelete('CASCADE');
    t.boolean('with_dependencies').notNullable().defaultTo(false);
    t.jsonb('checks').notNullable().defaultTo('{}');
    t.text('summary').notNullable().defaultTo('');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('decided_at', { useTz: true });
    t.text('decided_by');
    t.text('comment');
    t.integer('approval_id');
    t.index(['requester', 'id']);
    t.index(['status', 'id']);
    t.index(['source_request_id']);
  });
  await knex.raw(`alter table package_requests add constraint package_requests_status_check check (status in ('pending','approved','rejected','cancelled'))`);
  // Only one open request per name@range.
  await knex.raw(`create unique index package_requests_one_pending on package_requests (name, range) where status = 'pending'`);

  await knex.schema.createTable('projects', (t) => {
    t.increments('id').primary();
    t.text('name').notNullable();
    t.text('version').notNullable();
    t.text('lockfile_format').notNullable();
    t.text('recorded_by').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['name', 'version']);
  });
  await knex.schema.createTable('project_packages', (t) => {
    t.integer('project_id').notNullable().references('id').inTable('projects').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('version').notNullable();
    t.text('integrity');
    t.boolean('dev').notNullable().defaultTo(false);
    t.primary(['project_id', 'name', 'version']);
    t.index(['name', 'version']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('project_packages');
  await knex.schema.dropTable('projects');
  await knex.schema.dropTable('package_requests');
}

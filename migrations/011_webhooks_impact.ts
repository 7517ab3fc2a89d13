import type { Knex } from 'knex';

/**
 * Impact records and webhooks (docs/supply-chain.md).
 *
 * impact_records: an advisory or malware entry (package, key) that affects a version a recorded
 * project uses; impact_projects: the projects (name@version) and the versions of the package
 * they use, each resolved once the project no longer uses an affected version.
 *
 * webhooks: endpoints admins registered, the events each wants and its signing secret (stored
 * as given: the server must sign with it, see docs/security.md); webhook_deliveries: one row per
 * event and endpoint, claimed by a worker with FOR UPDATE SKIP LOCKED, retried with backoff.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('impact_records', (t) => {
    t.increments('id').primary();
    t.text('package').notNullable();
    t.text('advisory_key').notNullable();
    t.text('advisory_id').notNullable();
    t.text('title').notNullable().defaultTo('');
    t.text('severity').notNullable();
    t.boolean('malware').notNullable().defaultTo(false);
    // open, resolved (no listed project uses an affected version any more), withdrawn, overridden
    t.text('state').notNullable().defaultTo('open');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['package', 'advisory_key']);
  });
  await knex.schema.createTable('impact_projects', (t) => {
    t.integer('impact_id').notNullable().references('id').inTable('impact_records').onDelete('CASCADE');
    t.integer('project_id').notNullable().references('id').inTable('projects').onDelete('CASCADE');
    t.text('project_name').notNullable();
    t.text('project_version').notNullable();
    t.text('version').notNullable();
    t.timestamp('added_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('resolved_at', { useTz: true });
    t.primary(['impact_id', 'project_id', 'version']);
    t.index(['project_id']);
  });
  await knex.schema.createTable('webhooks', (t) => {
    t.increments('id').primary();
    t.text('url').notNullable();
    t.jsonb('events').notNullable();
    t.text('secret').notNullable();
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.integer('webhook_id').notNullable().references('id').inTable('webhooks').onDelete('CASCADE');
    t.text('event_id').notNullable();
    t.text('event').notNullable();
    t.text('body').notNullable();
    // pending, delivered, failed
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('last_status');
    t.text('last_error');
    // One entry per attempt: {attempt, at, status, error, ms}
    t.jsonb('log').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('delivered_at', { useTz: true });
    t.index(['webhook_id', 'id']);
  });
  await knex.raw("create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_deliveries');
  await knex.schema.dropTable('webhooks');
  await knex.schema.dropTable('impact_projects');
  await knex.schema.dropTable('impact_records');
}

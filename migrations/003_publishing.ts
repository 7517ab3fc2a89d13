import type { Knex } from 'knex';

/**
 * Private publishing: who may publish what (publish_rules), and a permanent record of every
 * name@version ever published here (published_versions). A record is never deleted once
 * published: unpublishing only marks it, so the version can never be published again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('publish_rules', (t) => {
    t.increments('id').primary();
    t.text('pattern').notNullable();
    t.text('principal_type').notNullable();
    t.text('principal').notNullable();
    t.boolean('shadow_upstream').notNullable().defaultTo(false);
    t.text('source').notNullable().defaultTo('api');
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['pattern', 'principal_type', 'principal']);
  });
  await knex.raw(`alter table publish_rules add constraint publish_rules_principal_type_check check (principal_type in ('role','user'))`);

  await knex.schema.createTable('published_versions', (t) => {
    t.text('name').notNullable();
    t.text('version').notNullable();
    t.text('integrity').notNullable();
    t.text('shasum').notNullable();
    t.text('publisher').notNullable();
    t.text('state').notNullable();
    t.timestamp('reserved_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('published_at', { useTz: true });
    t.timestamp('unpublished_at', { useTz: true });
    t.text('unpublished_by');
    // The immutability guarantee: one row per name@version, ever.
    t.primary(['name', 'version']);
  });
  await knex.raw(`alter table published_versions add constraint published_versions_state_check check (state in ('reserved','published','unpublished'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('published_versions');
  await knex.schema.dropTable('publish_rules');
}

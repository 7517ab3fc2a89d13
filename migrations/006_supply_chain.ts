import type { Knex } from 'knex';

/**
 * Supply-chain rules: their modes and settings (on the policy row), approvals that also
 * allow install scripts, exemptions from the minimum release age, and the advisory cache
 * (from the upstream's bulk advisory endpoint or imported OSV files).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('policy_state', (t) => {
    t.jsonb('rules').notNullable().defaultTo('{}');
  });
  await knex.schema.alterTable('approvals', (t) => {
    t.boolean('allow_scripts').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('rule_exemptions', (t) => {
    t.increments('id').primary();
    t.text('rule').notNullable();
    t.text('pattern').notNullable();
    t.text('range').notNullable().defaultTo('*');
    t.text('reason').notNullable();
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['rule', 'pattern', 'range']);
  });
  await knex.schema.createTable('advisories', (t) => {
    t.increments('id').primary();
    t.text('package').notNullable();
    t.text('key').notNullable();
    t.text('advisory_id').notNullable();
    t.text('title').notNullable();
    t.text('url');
    t.text('severity').notNullable();
    t.text('vulnerable_versions').notNullable();
    t.jsonb('fixed_in').notNullable().defaultTo('[]');
    t.text('source').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['package', 'key']);
  });
  await knex.schema.createTable('advisory_checks', (t) => {
    t.text('package').primary();
    t.jsonb('versions').notNullable().defaultTo('[]');
    t.timestamp('checked_at', { useTz: true });
    t.boolean('ok').notNullable().defaultTo(false);
    t.text('error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('advisory_checks');
  await knex.schema.dropTable('advisories');
  await knex.schema.dropTable('rule_exemptions');
  await knex.schema.alterTable('approvals', (t) => t.dropColumn('allow_scripts'));
  await knex.schema.alterTable('policy_state', (t) => t.dropColumn('rules'));
}

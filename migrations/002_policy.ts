import type { Knex } from 'knex';

/**
 * The policy: its mode and generation (one row), approvals and bans.
 * Every policy change bumps `policy_state.generation` in the same transaction.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('policy_state', (t) => {
    t.integer('id').primary();
    t.text('mode').notNullable().defaultTo('allowlist');
    t.bigInteger('generation').notNullable().defaultTo(1);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('updated_by');
  });
  await knex.raw(`alter table policy_state add constraint policy_state_single_row check (id = 1)`);
  await knex.raw(`alter table policy_state add constraint policy_state_mode_check check (mode in ('allowlist','open'))`);
  await knex('policy_state').insert({ id: 1, mode: 'allowlist', generation: 1 });

  await knex.schema.createTable('approvals', (t) => {
    t.increments('id').primary();
    t.text('pattern').notNullable();
    t.text('range').notNullable().defaultTo('*');
    t.text('reason').notNullable();
    t.text('approved_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true });
    t.unique(['pattern', 'range']);
  });

  await knex.schema.createTable('bans', (t) => {
    t.increments('id').primary();
    t.text('name').notNullable();
    t.text('range').notNullable().defaultTo('*');
    t.text('reason').notNullable();
    t.text('advisory_url');
    t.text('banned_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['name', 'range']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('bans');
  await knex.schema.dropTable('approvals');
  await knex.schema.dropTable('policy_state');
}

import type { Knex } from 'knex';

/**
 * License policy (on the policy row: allowlist, denylist, what to do with licenses that
 * cannot be evaluated) and license waivers, which let a package range through despite its
 * license, with a reason, an approver and an optional expiry.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('policy_state', (t) => {
    t.jsonb('license_allow').notNullable().defaultTo('[]');
    t.jsonb('license_deny').notNullable().defaultTo('[]');
    t.text('license_unknown').notNullable().defaultTo('block');
  });
  await knex.raw(`alter table policy_state add constraint policy_state_license_unknown_check check (license_unknown in ('block','allow'))`);

  await knex.schema.createTable('license_waivers', (t) => {
    t.increments('id').primary();
    t.text('name').notNullable();
    t.text('range').notNullable().defaultTo('*');
    t.text('reason').notNullable();
    t.text('approved_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('license_waivers');
  await knex.raw('alter table policy_state drop constraint policy_state_license_unknown_check');
  await knex.schema.alterTable('policy_state', (t) => {
    t.dropColumn('license_allow');
    t.dropColumn('license_deny');
    t.dropColumn('license_unknown');
  });
}

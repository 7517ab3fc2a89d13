import type { Knex } from 'knex';

/** Users, their hashed tokens, and the append-only audit log. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id').primary();
    t.text('username').notNullable().unique();
    t.text('password_hash').notNullable();
    t.text('role').notNullable();
    t.text('email');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('disabled_at', { useTz: true });
  });
  await knex.raw(`alter table users add constraint users_role_check check (role in ('admin','publisher','developer','reader'))`);

  await knex.schema.createTable('tokens', (t) => {
    t.increments('id').primary();
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique();
    t.text('token_prefix').notNullable();
    t.boolean('readonly').notNullable().defaultTo(false);
    t.text('created_from');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_by');
    t.index(['user_id']);
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('actor').notNullable();
    t.text('actor_ip');
    t.text('action').notNullable();
    t.text('package');
    t.text('version');
    t.text('rule_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.index(['package', 'id']);
    t.index(['actor', 'id']);
    t.index(['action', 'id']);
    t.index(['at']);
  });
  // Append-only: rows can be added, never changed or removed.
  await knex.raw(`
    create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only' using errcode = 'P0001';
    end $$`);
  await knex.raw(`
    create trigger audit_log_no_update before update or delete on audit_log
    for each row execute function audit_log_append_only()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_log');
  await knex.raw('drop function if exists audit_log_append_only()');
  await knex.schema.dropTable('tokens');
  await knex.schema.dropTable('users');
}

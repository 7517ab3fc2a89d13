import type { Knex } from 'knex';

/**
 * Failed password checks, counted per username and per client address in fixed windows, so
 * that several gatekeepers on one database share the counts. One row per (scope, key); a
 * row whose window has ended is reset by the next attempt and deleted by the periodic prune.
 * `generation` names the window, so a late update never touches the next one.
 * `refused_logged`/`throttled_logged` make the audit log get at most one row of each kind
 * per key and window.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('login_throttle', (t) => {
    t.text('scope').notNullable();
    t.text('key').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('blocked').notNullable().defaultTo(0);
    t.bigInteger('generation').notNullable().defaultTo(1);
    t.timestamp('window_end', { useTz: true }).notNullable();
    t.boolean('refused_logged').notNullable().defaultTo(false);
    t.boolean('throttled_logged').notNullable().defaultTo(false);
    t.primary(['scope', 'key']);
    t.index(['window_end']);
  });
  await knex.raw(`alter table login_throttle add constraint login_throttle_scope_check check (scope in ('user','address'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('login_throttle');
}

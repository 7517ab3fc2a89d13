import type { Knex } from 'knex';

/**
 * Scheduled background jobs, one row per job name, shared by every gatekeeper on the
 * database so a job runs once per interval across the cluster (src/services/jobs.ts).
 *
 * A run is claimed by a conditional update of the row (due, and not leased or the lease has
 * expired) that sets `locked_by` and `locked_until` from the database's clock; the holder
 * renews `locked_until` while it runs, and another instance may claim the job once the lease
 * has expired (the holder died). `claim` counts claims, so a holder that lost its lease can
 * neither renew nor complete a claim that is no longer its own.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('jobs', (t) => {
    t.text('name').primary();
    /** The interval the job was last registered with (ms); informational. */
    t.bigInteger('interval_ms').notNullable();
    t.timestamp('next_run_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('locked_by').nullable();
    t.timestamp('locked_until', { useTz: true }).nullable();
    /** Claims ever made; the current claim's number while it is held. */
    t.bigInteger('claim').notNullable().defaultTo(0);
    /** When the current (or last) claim started, by the database's clock. */
    t.timestamp('started_at', { useTz: true }).nullable();
    /** When the last run ended (successfully or not). */
    t.timestamp('last_run_at', { useTz: true }).nullable();
    t.text('last_run_by').nullable();
    t.integer('last_duration_ms').nullable();
    /** The last run's error; null after a successful run. */
    t.text('last_error').nullable();
    /** Completed runs (successful or failed). */
    t.bigInteger('runs').notNullable().defaultTo(0);
    t.bigInteger('failures').notNullable().defaultTo(0);
    /** Claims of a job whose previous holder's lease had expired (it died or stalled). */
    t.bigInteger('takeovers').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('jobs');
}

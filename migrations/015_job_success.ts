import type { Knex } from 'knex';

/**
 * When each job last succeeded. `last_run_at` and `last_error` tell only of the last run; a job
 * whose freshness decides something (the advisory feed, when it is the only advisory source)
 * must know when it last worked, whatever its later runs did. Filled for existing rows whose
 * last run succeeded.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.timestamp('last_success_at', { useTz: true }).nullable();
  });
  await knex.raw('update jobs set last_success_at = last_run_at where last_error is null and last_run_at is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.dropColumn('last_success_at');
  });
}

import type { Knex } from 'knex';

/**
 * Usernames are unique without regard to case: `ADMIN` beside `admin` would be two users one
 * person cannot tell apart (the login throttle already counts them as one). A unique index on
 * lower(username) makes the check race-free.
 *
 * An installation may already hold names that differ only in case (nothing refused them
 * before). The migration must not fail on them, and must not rename or merge accounts behind
 * their owners' backs (their tokens, publish rules and audit history name them). So the oldest
 * user of each such group (lowest id) is in the index and every later one is left out of it by
 * the index's predicate: they keep working as they are, and no new name may equal any of them
 * ignoring case (the service checks all users, the index the oldest). An admin who wants them
 * gone disables them ('gatekeeper user disable'); README.md (Users and tokens) says so.
 */
export async function up(knex: Knex): Promise<void> {
  const later = await knex.raw<{ rows: Array<{ id: number }> }>(
    `select id from (select id, row_number() over (partition by lower(username) order by id) as n from users) u where n > 1 order by id`,
  );
  const ids = later.rows.map((r) => Number(r.id)).filter((id) => Number.isSafeInteger(id));
  const predicate = ids.length > 0 ? ` where id not in (${ids.join(', ')})` : '';
  await knex.raw(`create unique index users_username_lower_unique on users (lower(username))${predicate}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists users_username_lower_unique');
}

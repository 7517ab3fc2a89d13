import type { Knex } from 'knex';

/**
 * Single sign-on (docs/sso.md) and service accounts:
 * - `users.external_subject`: `<issuer> <sub>` of a user who signs in through the identity
 *   provider (null for local users); `users.kind`: local, sso or service (a CI account that is
 *   no IdP user). SSO and service users have no password: their `password_hash` is `!`, which
 *   no password matches.
 * - `tokens.expires_at` and `tokens.scope`: a token refused after its expiry, and a scope
 *   narrower than its user's role (`read`, or `publish:@a,@b`). Null: no expiry, the role.
 * - `sso_logins`: one browser sign-in through the IdP, for `npm login --auth-type=web` (kind
 *   npm) or the console (kind console). Only hashes of its secrets are stored: the id in the
 *   loginUrl, the secret in the doneUrl, the OIDC `state`, and the PKCE verifier (whose value
 *   the browser holds in a cookie); the nonce is stored as it is (the IdP echoes it in the
 *   ID token anyway). No IdP token is stored.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.text('external_subject').unique();
    t.text('kind').notNullable().defaultTo('local');
  });
  await knex.raw(`alter table users add constraint users_kind_check check (kind in ('local','sso','service'))`);

  await knex.schema.alterTable('tokens', (t) => {
    t.timestamp('expires_at', { useTz: true });
    t.text('scope');
  });

  await knex.schema.createTable('sso_logins', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable();
    t.text('login_hash').unique();
    t.text('done_hash').unique();
    t.text('state_hash').unique();
    t.text('verifier_hash');
    t.text('nonce');
    t.text('next_path');
    t.text('status').notNullable().defaultTo('pending');
    t.integer('user_id').references('id').inTable('users').onDelete('CASCADE');
    t.text('refusal');
    t.text('client_ip');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at']);
  });
  await knex.raw(`alter table sso_logins add constraint sso_logins_kind_check check (kind in ('npm','console'))`);
  await knex.raw(`alter table sso_logins add constraint sso_logins_status_check check (status in ('pending','started','done','refused','taken'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('sso_logins');
  await knex.schema.alterTable('tokens', (t) => {
    t.dropColumn('scope');
    t.dropColumn('expires_at');
  });
  await knex.raw('alter table users drop constraint users_kind_check');
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('kind');
    t.dropColumn('external_subject');
  });
}

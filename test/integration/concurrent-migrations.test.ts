/**
 * Several gatekeepers started together on one new database (a compose file, a rolling
 * deployment) migrate it once: the others wait for the first and find nothing left to do,
 * instead of failing on knex's migration lock or racing to create its tables; and the first
 * admin is created once, without failing the starts that lost the race. A node of the
 * previous release that restarts during a rolling upgrade starts on the schema the new release
 * expanded.
 */
import fs from 'node:fs';
import { createKnex, Knex, migrateLatest, migrationsAhead } from '../../src/db/connection';
import { createTestDatabase, TestDatabase } from '../support/database';
import { migrationSource } from '../../migrations';
import { Store } from '../../src/db/store';
import { IdentityService } from '../../src/services/identity';
import { startTestGatekeeper } from '../support/gatekeeper';
import { startFixtureRegistry } from '../support/fixture-registry';

describe('migrations from concurrent starts', () => {
  let db: TestDatabase;
  const knexes: Knex[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const k of knexes) await k.destroy();
    await db?.drop();
  });

  it('applies each migration once when four processes migrate an empty database at the same moment', async () => {
    for (let i = 0; i < 4; i++) knexes.push(createKnex(db.url));
    const results = await Promise.allSettled(knexes.map((k) => migrateLatest(k)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
    expect(failures).toEqual([]);
    const applied = results.map((r) => (r as PromiseFulfilledResult<string[]>).value);
    const all = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
    // One of them applied everything, the others nothing.
    expect(applied.map((a) => a.length).sort((a, b) => a - b)).toEqual([0, 0, 0, all.length]);
    const rows = await knexes[0]('knex_migrations').select('name');
    expect(rows.map((r: { name: string }) => r.name).sort()).toEqual([...all].sort());
    expect(await knexes[0]('knex_migrations_lock').select('is_locked')).toEqual([{ is_locked: 0 }]);
  });

  it('creates the first admin once when four processes start on it at the same moment', async () => {
    const results = await Promise.allSettled(knexes.map((k) => new IdentityService(new Store(k), { allowSelfRegistration: false }).bootstrapAdmin('first-admin-password')));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const created = results.map((r) => (r as PromiseFulfilledResult<{ created: boolean }>).value.created);
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await knexes[0]('users').where({ role: 'admin' }).count<{ count: string }[]>('* as count')).toEqual([{ count: '1' }]);
  });

  it('starts a gatekeeper on a database a newer release has migrated (a node restarting mid-rollout)', async () => {
    // What a newer release leaves: every migration of ours plus one this release does not know.
    const upgraded = await createTestDatabase();
    const knex = createKnex(upgraded.url);
    knexes.push(knex);
    await migrateLatest(knex);
    await knex('knex_migrations').insert({ name: '999_a_newer_release.ts', batch: 99, migration_time: new Date() });
    expect(await migrationsAhead(knex)).toEqual(['999_a_newer_release.ts']);
    await expect(migrateLatest(knex)).resolves.toEqual([]);

    const upstream = await startFixtureRegistry([]);
    const gk = await startTestGatekeeper({ upstream: upstream.url, db: upgraded });
    try {
      expect((await fetch(new URL('-/ping', gk.url))).status).toBe(200);
      expect(fs.readFileSync(gk.logFile, 'utf8')).toMatch(/"ahead":\["999_a_newer_release.ts"\].*migrations of a newer release/);
    } finally {
      await gk.close();
      await upstream.close();
      await upgraded.drop();
    }
  });
});

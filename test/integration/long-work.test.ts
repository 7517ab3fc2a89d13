/**
 * Long background work (bulk advisory imports, the feed) runs one transaction at a time on its
 * own pool, on real PostgreSQL: work that arrives while others wait, however long, waits its
 * turn and is done; it is never refused as "the database is unavailable" because a pool
 * connection was not free within the pool's acquire timeout (5 s).
 */
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { Store } from '../../src/db/store';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';

describe('long background work', () => {
  let db: TestDatabase;
  let knex: Knex;
  let longKnex: Knex;
  let holder: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url);
    await migrateLatest(knex);
    // Two connections, as the long pool had when this was found.
    longKnex = createKnex(db.url, 2);
    holder = new Client({ connectionString: db.url });
    await holder.connect();
  });

  afterAll(async () => {
    await holder?.end();
    await longKnex?.destroy();
    await knex?.destroy();
    await db?.drop();
  });

  it('runs three transactions that each wait longer than the pool would let a connection be waited for, one after another, and does all three', async () => {
    const store = new Store(knex, longKnex);
    // Something else holds the table they write (a long import, a migration): each waits for it.
    await holder.query('begin; lock table jobs in access exclusive mode');
    const started: string[] = [];
    const work = ['a', 'b', 'c'].map((name) =>
      store.longTransaction(async (repos) => {
        started.push(name);
        await repos.jobs.ensure([{ name: `long.${name}`, intervalMs: 60_000 }]);
        return name;
      }),
    );
    const settled = work.map((p) => p.then(() => 'done', (err: Error) => `failed: ${err.message}`));
    // The first is waiting for the lock; the others wait their turn, past the pool's 5 s acquire timeout.
    await eventually(async () => (await knex.raw("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).rows[0].n === 1, 'the first transaction to wait for the lock');
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(started).toEqual(['a']);
    await holder.query('commit');
    expect(await Promise.all(settled)).toEqual(['done', 'done', 'done']);
    expect(started).toEqual(['a', 'b', 'c']);
    expect((await knex('jobs').whereIn('name', ['long.a', 'long.b', 'long.c'])).length).toBe(3);
  }, 30_000);

  it('goes on with the next transaction after one fails', async () => {
    const store = new Store(knex, longKnex);
    const failing = store.longTransaction(async () => {
      throw new Error('this import is broken');
    });
    const next = store.longTransaction(async (repos) => repos.jobs.find('long.a'));
    await expect(failing).rejects.toThrow('this import is broken');
    expect(await next).toMatchObject({ name: 'long.a' });
  });
});

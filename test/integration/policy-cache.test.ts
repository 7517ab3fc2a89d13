/**
 * The policy cache and its LISTEN channel against a real PostgreSQL: a reconnect must never
 * leave the cache trusting a policy read before a change it did not hear about.
 * Faults are made in the database: connections refused, backends terminated.
 */
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { ChannelListener, LISTENER_APPLICATION_NAME } from '../../src/db/listener';
import { POLICY_CHANNEL, PolicyRepository } from '../../src/db/repositories/policy';
import type { PolicySnapshot } from '../../src/core/policy';
import { PolicyCache } from '../../src/services/policy-cache';
import { eventually } from '../support/assert';
import { adminUrl, createTestDatabase, TestDatabase } from '../support/database';

describe('PolicyCache over a real LISTEN connection', () => {
  let db: TestDatabase;
  let dbName: string;
  let knex: Knex;
  let admin: Client;
  let writer: Client;

  /** What changePolicy does for a ban, in SQL, so no process hears of it but through NOTIFY. */
  async function banWithSql(name: string): Promise<number> {
    await writer.query('begin');
    await writer.query(`insert into bans (name, range, reason, banned_by) values ($1, '*', 'test', 'sql')`, [name]);
    const bumped = await writer.query(`update policy_state set generation = generation + 1, updated_at = now(), updated_by = 'sql' where id = 1 returning generation`);
    const generation = Number(bumped.rows[0].generation);
    await writer.query('select pg_notify($1, $2)', [POLICY_CHANNEL, String(generation)]);
    await writer.query('commit');
    return generation;
  }

  async function refuseConnections(refuse: boolean): Promise<void> {
    await admin.query(`alter database "${dbName}" allow_connections ${refuse ? 'false' : 'true'}`);
  }

  async function terminate(which: 'listener' | 'pool'): Promise<void> {
    await admin.query(
      `select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1 and pid <> $2 and (application_name = $3) = $4`,
      [dbName, (writer as unknown as { processID: number }).processID, LISTENER_APPLICATION_NAME, which === 'listener'],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dbName = new URL(db.url).pathname.slice(1);
    knex = createKnex(db.url, 2);
    await migrateLatest(knex);
    admin = new Client({ connectionString: adminUrl() });
    await admin.connect();
  });

  beforeEach(async () => {
    writer = new Client({ connectionString: db.url });
    await writer.connect();
  });

  afterEach(async () => {
    await refuseConnections(false);
    await writer.end().catch(() => undefined);
  });

  afterAll(async () => {
    await admin?.end();
    await knex?.destroy();
    await db?.drop();
  });

  it('a reload running when the channel reconnects does not make the cache trust what it read', async () => {
    const repo = new PolicyRepository(knex);
    let hold: Promise<void> | undefined;
    let release = () => undefined as void;
    let reads = 0;
    // The real repository; only the moment its answer arrives is held back.
    const source = {
      async loadSnapshot(): Promise<PolicySnapshot> {
        const snapshot = await repo.loadSnapshot();
        reads++;
        if (hold) await hold;
        return snapshot;
      },
    };
    const listener = new ChannelListener(db.url, POLICY_CHANNEL, { retryMs: 50, heartbeatMs: 0 });
    await listener.start();
    const cache = new PolicyCache({ source, listener });
    try {
      await cache.reload();
      expect(cache.healthy).toBe(true);

      // A change arrives; the reload it starts has read its snapshot but not finished.
      hold = new Promise<void>((resolve) => (release = resolve));
      const readsBefore = reads;
      const first = await banWithSql('first-ban');
      await eventually(async () => reads > readsBefore, 'the reload to read its snapshot');

      // The channel drops; a ban is committed while nobody listens; the channel comes back.
      await refuseConnections(true);
      await terminate('listener');
      await eventually(async () => !listener.connected, 'the listener to notice');
      const missed = await banWithSql('missed-ban');
      expect(missed).toBe(first + 1);
      await refuseConnections(false);
      await eventually(async () => listener.connected, 'the listener to reconnect');

      // The held reload (generation `first`) now finishes.
      hold = undefined;
      release();
      await eventually(async () => cache.healthy, 'the cache to be trusted again');
      expect(cache.current().generation).toBe(missed);
      expect(cache.current().bansByName.has('missed-ban')).toBe(true);
    } finally {
      release();
      await listener.close();
    }
  });

  it('a reload that fails while the channel is up is retried until it succeeds', async () => {
    const errors: unknown[] = [];
    const listener = new ChannelListener(db.url, POLICY_CHANNEL, { retryMs: 50, heartbeatMs: 0 });
    await listener.start();
    const cache = new PolicyCache({ source: new PolicyRepository(knex), listener, onError: (err) => errors.push(err) });
    try {
      await cache.reload();
      // The pool cannot connect; the listener stays.
      await refuseConnections(true);
      await terminate('pool');
      const generation = await banWithSql('while-the-pool-is-down');
      await eventually(async () => errors.length > 0, 'the reload to fail');
      expect(cache.healthy).toBe(false);
      expect(listener.connected).toBe(true);

      // No further change or notification: the cache must recover by itself.
      await refuseConnections(false);
      await eventually(async () => cache.healthy, 'the reload to be retried', 20_000);
      expect(cache.current().generation).toBe(generation);
      expect(cache.current().bansByName.has('while-the-pool-is-down')).toBe(true);
    } finally {
      await listener.close();
    }
  });
});

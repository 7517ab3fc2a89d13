/**
 * A hung link to the database (a proxy or network that passes nothing and closes nothing):
 * PostgreSQL's statement_timeout cannot end the wait, since the statement never arrives. The
 * client gives up READ_GRACE_MS after the deadline, the request is refused with 503 EDATABASE
 * instead of being held for as long as the link hangs, and the connection that waited is
 * closed, not handed to the next request, once the link passes bytes again.
 */
import type { Knex } from 'knex';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { databaseFailure } from '../../src/db/errors';
import { Store } from '../../src/db/store';
import { AuditWriter, auditEntry } from '../../src/services/audit';
import { createTestDatabase, TestDatabase } from '../support/database';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { relayTo } from '../support/relay';

/** Without a client deadline the request waits as long as the link hangs, which is until this: give up then. */
const GIVE_UP_MS = 30_000;

describe('a hung link to the database', () => {
  let upstream: FixtureRegistry;
  let db: TestDatabase;
  let relay: Awaited<ReturnType<typeof relayTo>>;
  let t: TestGatekeeper;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([]);
    db = await createTestDatabase();
    relay = await relayTo(new URL(db.url));
    t = await startTestGatekeeper({ upstream: upstream.url, db: { url: relay.url, drop: async () => undefined }, settings: { databaseTimeout: '1s' } });
  });

  afterAll(async () => {
    await t?.close();
    await relay?.close();
    await upstream?.close();
    await db?.drop();
  });

  const users = async (): Promise<{ status: number; code?: string; error?: string }> => {
    try {
      const res = await fetch(new URL('/-/gatekeeper/v1/users', t.url), { headers: { authorization: `Bearer ${t.adminToken}` }, signal: AbortSignal.timeout(GIVE_UP_MS) });
      const body = (await res.json()) as { code?: string; error?: string };
      return { status: res.status, code: body.code, error: body.error };
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
      return { status: 0 };
    }
  };

  it('refuses a request whose statement gets no answer with 503 EDATABASE, and serves the next ones once the link passes bytes again', async () => {
    expect((await users()).status).toBe(200);
    relay.freeze();
    let hung: Awaited<ReturnType<typeof users>>;
    try {
      hung = await users();
    } finally {
      // Bytes pass again; what was sent while frozen is lost, so the connection that sent it would wait for ever.
      relay.thaw();
    }
    expect(hung).toEqual({ status: 503, code: 'EDATABASE', error: expect.stringMatching(/^\[EDATABASE\] the governance database sent no answer in time \(GATEKEEPER_DATABASE_TIMEOUT\): the connection to it may be hung, so the request was stopped\. Try again shortly/) });
    // The connection that waited is closed when the pool would hand it out again: every request is served.
    for (let i = 0; i < 6; i++) expect({ i, ...(await users()) }).toMatchObject({ i, status: 200 });
  }, 120_000);
});

describe('the request pool on a hung link', () => {
  let db: TestDatabase;
  let direct: Knex;
  let relay: Awaited<ReturnType<typeof relayTo>>;
  let knex: Knex;
  const errors: Array<{ sql: string; message: string }> = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    direct = createKnex(db.url);
    await migrateLatest(direct);
    relay = await relayTo(new URL(db.url));
    // GATEKEEPER_DATABASE_TIMEOUT=500ms: the client gives up after 2.5 s.
    knex = createKnex(relay.url, 2, 500);
    knex.on('query-error', (err: Error, query: { sql: string }) => errors.push({ sql: query.sql, message: err.message }));
  });

  afterAll(async () => {
    await knex?.destroy();
    await relay?.close();
    await direct?.destroy();
    await db?.drop();
  });

  it('sends nothing more on a connection whose statement was given up on: a transaction\'s ROLLBACK finds it closed instead of waiting behind it', async () => {
    errors.length = 0;
    let failure: unknown;
    await knex
      .transaction(async (trx) => {
        await trx.raw('select 1');
        relay.freeze();
        await trx.raw('select 2');
      })
      .catch((err: unknown) => (failure = err));
    relay.thaw();
    expect(databaseFailure(failure)?.code).toBe('EDATABASE');
    expect(errors.find((e) => e.sql === 'select 2')?.message).toMatch(/Query read timeout$/);
    // Without the connection closed, the ROLLBACK waits for its own read timeout on the hung link.
    const rollback = errors.find((e) => /rollback/i.test(e.sql));
    expect(rollback?.message ?? 'no rollback error').not.toMatch(/Query read timeout/);
    expect((await knex.raw('select 3 as n')).rows).toEqual([{ n: 3 }]);
  }, 60_000);

  it('keeps an audit entry whose insert got no answer (an outage: written again), and drops none', async () => {
    const store = new Store(knex);
    await store.ping();
    const writer = new AuditWriter(store, undefined, { delayMs: 0, retryBaseMs: 50, retryMaxMs: 100 });
    const sent: string[] = [];
    const onQuery = (q: { sql: string }) => sent.push(q.sql);
    knex.on('query', onQuery);
    relay.freeze();
    writer.record(auditEntry({ username: 'dev', ip: '127.0.0.1' }, 'install.blocked', { package: 'hung-link-pkg', version: '1.0.0', ruleId: 'deprecated', details: { code: 'EDEPRECATED' } }));
    const flushed = writer.flush();
    // The insert is sent while frozen (and lost); the link passes bytes again before the client
    // gives up on it, so the writer's check that follows finds the database answering.
    await eventually(async () => sent.some((sql) => /insert into "audit_log"/.test(sql)), 'the insert sent');
    await new Promise((resolve) => setTimeout(resolve, 300));
    relay.thaw();
    knex.off('query', onQuery);
    await flushed;
    await eventually(async () => (await direct('audit_log').where({ package: 'hung-link-pkg' })).length === 1, 'the entry written again', 30_000);
    const health = writer.health();
    await writer.close();
    expect({ dropped: health.dropped }).toEqual({ dropped: 0 });
  }, 60_000);

  it('does not take a blocked event loop for a hung link: an answer that came while the loop was held past the deadline is read, not given up on', async () => {
    // GATEKEEPER_DATABASE_TIMEOUT=200ms: the client's deadline is 2.2 s after the statement is sent.
    const pool = createKnex(db.url, 1, 200);
    const queryErrors: string[] = [];
    pool.on('query-error', (err: Error) => queryErrors.push(err.message));
    try {
      const pid = (await pool.raw('select pg_backend_pid() as pid')).rows[0].pid;
      const sent = new Promise<void>((resolve) => pool.once('query', () => setImmediate(resolve)));
      const answer = pool.raw('select pg_sleep(0.1), 42 as n').then((r) => r);
      await sent;
      // Synchronous work holds the event loop 3 s: the answer arrives meanwhile, unread, and the deadline's timer is due before the loop reads it.
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        // blocked
      }
      expect((await answer).rows[0].n).toBe(42);
      expect(queryErrors).toEqual([]);
      // The connection was kept, not closed as given up on.
      expect((await pool.raw('select pg_backend_pid() as pid')).rows[0].pid).toBe(pid);
    } finally {
      await pool.destroy();
    }
  }, 60_000);

  it('keeps a healthy connection after statements the server refused', async () => {
    const pool = createKnex(db.url, 1, 5000);
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 300; i++) {
        await expect(pool.raw('select 1/0')).rejects.toMatchObject({ code: '22012' });
        pids.add((await pool.raw('select pg_backend_pid() as pid')).rows[0].pid);
      }
      expect(pids.size).toBe(1);
    } finally {
      await pool.destroy();
    }
  });
});

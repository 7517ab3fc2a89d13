/**
 * Request-path queries have a deadline (GATEKEEPER_DATABASE_TIMEOUT: PostgreSQL's
 * statement_timeout and lock_timeout on every pooled connection): a table locked by another
 * session refuses the request with 503 EDATABASE, naming the database, instead of holding it
 * for as long as the lock lasts; a write made after the answer (a tarball's inspection) is
 * stopped the same way and shows in /health. The locks here are taken on the test's own database and held
 * until the request has been answered; nothing measures how long it took.
 */
import { Client } from 'pg';
import { eventually } from '../support/assert';
import { gatekeeperSuite } from '../support/suite';

/** Without a deadline the request waits as long as the lock is held, which is until it is answered: give up then. */
const GIVE_UP_MS = 30_000;

describe('a deadline on database queries', () => {
  const s = gatekeeperSuite({
    packages: [{ name: 'cold5', versions: [{ version: '1.0.0', license: 'MIT' }] }],
    settings: { databaseTimeout: '1s' },
    npm: false,
  });

  /** Runs `body` while another session holds `tables` in ACCESS EXCLUSIVE mode. */
  async function whileLocked<T>(tables: string[], body: () => Promise<T>): Promise<T> {
    const locker = new Client({ connectionString: s.t.db.url, application_name: 'deadline test locker' });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query(`lock table ${tables.join(', ')} in access exclusive mode`);
      return await body();
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
  }

  it('answers a first tarball fetch while tarball_inspections is locked; the insert stopped at its deadline shows in /health, and the next fetch records it', async () => {
    const tarball = new URL('cold5/-/cold5-1.0.0.tgz', s.t.url);
    const { inspections } = s.t.gk.runtime;
    const failed = inspections.health().failedWrites;
    // The answer does not wait for the insert (see tarball-write-behind.test.ts); the insert waits for the lock.
    const served = await whileLocked(['tarball_inspections'], async () => {
      const res = await fetch(tarball, { signal: AbortSignal.timeout(GIVE_UP_MS) });
      await res.arrayBuffer();
      await eventually(async () => inspections.health().failedWrites > failed, 'the insert stopped at its deadline');
      return res.status;
    });
    expect(served).toBe(200);
    expect(inspections.health()).toMatchObject({ ok: false, lastError: expect.stringMatching(/^the governance database (did not answer in time|waited too long for a lock) \(GATEKEEPER_DATABASE_TIMEOUT\)/) });
    expect(inspections.known('cold5', '1.0.0')).toBeUndefined();
    expect((await fetch(tarball)).status).toBe(200);
    await eventually(async () => (await s.t.gk.database.knex('tarball_inspections').where({ package: 'cold5' })).length === 1, 'the inspection recorded by the next fetch');
    // The row is visible to this connection before the gatekeeper's own connection has heard its commit acknowledged.
    await eventually(async () => inspections.health().ok, 'the inspection health clear again once that write has returned');
  });

  it('refuses a tarball with EDATABASE while the inspections its decision must read are locked, and serves it after', async () => {
    const tarball = new URL('cold5/-/cold5-1.0.0.tgz', s.t.url);
    const { runtime } = s.t.gk;
    // This process forgets what it holds (as after a reconnect of its announcement channel): the next decision reads the table.
    runtime.inspections.forgetAll();
    runtime.governance.cache.forget('cold5');
    runtime.packuments.invalidate('cold5');
    const refused = await whileLocked(['tarball_inspections'], async () => {
      const res = await fetch(tarball, { signal: AbortSignal.timeout(GIVE_UP_MS) });
      return { status: res.status, body: (await res.json()) as { code: string; error: string } };
    });
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 503, code: 'EDATABASE' });
    expect(refused.body.error).toMatch(/^\[EDATABASE\] the gatekeeper could not decide on cold5.*the governance database .*GATEKEEPER_DATABASE_TIMEOUT/);
    expect((await fetch(tarball)).status).toBe(200);
  });

  it("refuses npm login with EDATABASE while audit_log is locked (the token's audit entry is in the login's transaction)", async () => {
    expect((await s.t.api('POST', '/users', { username: 'dev', password: 'dev-password', role: 'developer' })).status).toBe(201);
    const login = () =>
      fetch(new URL('-/user/org.couchdb.user:dev', s.t.url), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'dev', password: 'dev-password' }),
        signal: AbortSignal.timeout(GIVE_UP_MS),
      });
    const refused = await whileLocked(['audit_log'], async () => {
      const res = await login();
      return { status: res.status, body: (await res.json()) as { code: string; error: string } };
    });
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 503, code: 'EDATABASE' });
    expect(refused.body.error).toMatch(/governance database/);
    expect((await login()).status).toBe(201);
  });
});

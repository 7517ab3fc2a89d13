/**
 * Fail closed: every fault while deciding denies with EPOLICYUNAVAILABLE, never serves
 * unfiltered data; and policy changes reach a second process through LISTEN/NOTIFY.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import GatekeeperFilter from '../../plugins/verdaccio-gatekeeper-filter';
import { freePort, makeReachableTempDir } from '../../src/db/embedded';
import { EmbeddedServer, startEmbeddedServer } from '../support/embedded-pg';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { createNpmEnv, makeProject, NpmEnv } from '../support/npm';
import { spawnGatekeeper } from '../support/process';
import { eventually } from '../support/assert';
import { adminUrl } from '../support/database';
import { gatekeeperSuite } from '../support/suite';
import { LISTENER_APPLICATION_NAME } from '../../src/db/listener';
import { POLICY_CHANNEL } from '../../src/db/repositories/policy';

const FIXTURES = [
  { name: 'faulty-fixture', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
  { name: 'late-fixture', versions: [{ version: '0.1.0', license: 'MIT' }] },
];


const status = async (url: URL | string, init?: RequestInit) => (await fetch(url, init)).status;

async function expectUnavailable(base: string, why: RegExp): Promise<void> {
  for (const target of ['faulty-fixture', 'faulty-fixture/-/faulty-fixture-1.0.0.tgz', 'faulty-fixture/1.0.0']) {
    const res = await fetch(new URL(target, base));
    const body = (await res.json()) as { code: string; error: string; versions?: unknown };
    expect({ target, status: res.status, code: body.code }).toEqual({ target, status: 503, code: 'EPOLICYUNAVAILABLE' });
    expect(body.error).toMatch(why);
    expect(body.versions).toBeUndefined();
  }
}

describe('fail closed on a database that goes away', () => {
  let upstream: FixtureRegistry;
  let dir: string;
  let port: number;
  let db: EmbeddedServer;
  let t: TestGatekeeper;
  let npm: NpmEnv;

  beforeAll(async () => {
    upstream = await startFixtureRegistry(FIXTURES);
    // A server of this test's own, so it can really be stopped.
    dir = makeReachableTempDir('gk-fault-pg-');
    port = await freePort();
    db = await startEmbeddedServer(path.join(dir, 'db'), port);
    t = await startTestGatekeeper({ upstream: upstream.url, db: { url: db.url, drop: async () => undefined } });
    await t.api('POST', '/approvals', { name: 'faulty-fixture', reason: 'test' });
    npm = await createNpmEnv(t.url);
  });

  afterAll(async () => {
    await npm?.cleanup();
    await t?.close();
    await db?.stop();
    await upstream?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves while the database is up', async () => {
    expect(await status(new URL('faulty-fixture', t.url))).toBe(200);
    expect(await status(new URL('faulty-fixture/-/faulty-fixture-1.0.0.tgz', t.url))).toBe(200);
  });

  it('answers 503 EPOLICYUNAVAILABLE to packuments and tarballs with the database stopped mid-run', async () => {
    await db.stop();
    // The decision cache is trusted only while its invalidation channel is connected.
    await eventually(async () => (await t.api('GET', '/health', undefined, null)).body.policy.ok === false, 'the policy to become unavailable');
    await expectUnavailable(t.url, /^\[EPOLICYUNAVAILABLE\] the policy cannot be evaluated right now \(the invalidation channel to the database is disconnected\)/);
    const health = await t.api('GET', '/health', undefined, null);
    expect(health.status).toBe(503);
    expect(health.body.database.ok).toBe(false);

    const project = await makeProject(npm.dir, { name: 'db-down' });
    const result = await npm.run(['install', 'faulty-fixture', '--prefer-online', '--fetch-retries=0', '--fetch-retry-mintimeout=100', '--fetch-retry-maxtimeout=200'], { cwd: project });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('EPOLICYUNAVAILABLE');
  });

  it('recovers by itself once the database is back', async () => {
    db = await startEmbeddedServer(path.join(dir, 'db'), port);
    await eventually(async () => (await status(new URL('faulty-fixture', t.url))) === 200, 'the gate to recover').catch(async (err) => {
      throw new Error(`${err.message}: ${JSON.stringify((await t.api('GET', '/health', undefined, null)).body)} ${fs.readFileSync(t.logFile, 'utf8').split('\n').filter((l) => /"level":[45]0/.test(l)).slice(-5).join('\n')}`);
    });
    expect(await status(new URL('faulty-fixture/-/faulty-fixture-1.1.0.tgz', t.url))).toBe(200);
  });
});

describe('fail closed on faults while deciding', () => {
  const s = gatekeeperSuite({ packages: FIXTURES, policyMode: 'none', npm: false });

  beforeAll(async () => {
    await s.t.api('POST', '/approvals', { name: 'faulty-fixture', reason: 'test' });
  });

  it('denies when the policy in the database cannot be loaded, and recovers when it is fixed', async () => {
    const client = new Client({ connectionString: s.t.db.url });
    await client.connect();
    try {
      // A row no admin could have written through the API: an unparseable range.
      await client.query(`insert into approvals (pattern, range, reason, approved_by) values ('late-fixture', 'not a range', 'corrupt', 'sql')`);
      await client.query(`update policy_state set generation = generation + 1; select pg_notify('gatekeeper_policy', 'x')`);
      await eventually(async () => (await status(new URL('faulty-fixture', s.t.url))) === 503, 'the corrupt policy to be refused');
      // The message names what could not be loaded.
      await expectUnavailable(s.t.url, /loading the policy failed: .*'not a range'/);

      await client.query(`delete from approvals where reason = 'corrupt'`);
      await client.query(`update policy_state set generation = generation + 1; select pg_notify('gatekeeper_policy', 'fixed')`);
      await eventually(async () => (await status(new URL('faulty-fixture', s.t.url))) === 200, 'the fixed policy to load');
    } finally {
      // Never leave the corrupt row to the tests after this one.
      const left = await client.query(`delete from approvals where reason = 'corrupt'`);
      if (left.rowCount) await client.query(`update policy_state set generation = generation + 1; select pg_notify('gatekeeper_policy', 'cleanup')`);
      await client.end();
    }
  });

  it('denies when evaluation throws, on every gate path, and the filter plugin serves no versions', async () => {
    const cache = s.t.gk.runtime.governance.cache;
    const original = cache.decide.bind(cache);
    const originalPeek = cache.peek.bind(cache);
    cache.decide = () => {
      throw new Error('injected evaluation fault');
    };
    cache.peek = () => undefined;
    // Responses built before the fault were decided correctly and stay valid; the fault
    // matters for the next request that needs a decision.
    s.t.gk.runtime.packuments.invalidate('faulty-fixture');
    try {
      // The error's own text stays in the server log: a refusal does not quote internals.
      await expectUnavailable(s.t.url, /^\[EPOLICYUNAVAILABLE\] the gatekeeper could not decide on faulty-fixture(@1\.0\.0)? \(an internal error, in the server log\); nothing is served until it can\. Try again later/);
      const filter = new GatekeeperFilter({ instance: s.t.gk.runtime.id });
      const filtered = await filter.filter_metadata({ name: 'faulty-fixture', versions: { '1.0.0': { version: '1.0.0' } }, 'dist-tags': { latest: '1.0.0' } });
      expect(filtered.versions).toEqual({});
      expect(filtered['dist-tags']).toEqual({});
    } finally {
      cache.decide = original;
      cache.peek = originalPeek;
    }
    expect(await status(new URL('faulty-fixture', s.t.url))).toBe(200);
  });

  it('a ban written in the database while the LISTEN connection is down is enforced after it reconnects', async () => {
    const tarball = (version: string) => new URL(`faulty-fixture/-/faulty-fixture-${version}.tgz`, s.t.url);
    const health = async () => (await s.t.api('GET', '/health', undefined, null)).body;
    // The decision for 1.1.0 is cached as allowed: a reconnect that does not reload would keep serving it.
    expect(await status(tarball('1.1.0'))).toBe(200);
    const before = (await health()).policy.generation as number;

    const dbName = new URL(s.t.db.url).pathname.slice(1);
    const admin = new Client({ connectionString: adminUrl() });
    // Connected before connections are refused: it writes the ban while nothing can listen.
    const writer = new Client({ connectionString: s.t.db.url });
    await admin.connect();
    await writer.connect();
    let refusing = false;
    try {
      // The listener must not reconnect before the ban is committed, so its NOTIFY is surely missed.
      await admin.query(`alter database "${dbName}" allow_connections false`);
      refusing = true;
      const killed = await admin.query(
        `select pg_terminate_backend(pid, 5000) as gone from pg_stat_activity where datname = $1 and application_name = $2`,
        [dbName, LISTENER_APPLICATION_NAME],
      );
      expect(killed.rows).toEqual([{ gone: true }]);
      await eventually(async () => (await health()).policy.ok === false, 'the gatekeeper to notice the lost channel');
      expect(await status(tarball('1.1.0'))).toBe(503);

      // What governance.ban does through changePolicy: the ban, its audit entry, the
      // generation bump and NOTIFY, in one transaction.
      await writer.query('begin');
      const ban = await writer.query(
        `insert into bans (name, range, reason, advisory_url, banned_by) values ('faulty-fixture', '1.1.0', 'banned while nobody listened', null, 'sql') returning id`,
      );
      const banId = String(ban.rows[0].id);
      await writer.query(
        `insert into audit_log (actor, action, package, rule_id, details) values ('sql', 'ban.create', 'faulty-fixture', $1, $2::jsonb)`,
        [`ban:${banId}`, JSON.stringify({ range: '1.1.0', reason: 'banned while nobody listened', advisoryUrl: null })],
      );
      const bumped = await writer.query(`update policy_state set generation = generation + 1, updated_at = now(), updated_by = 'sql' where id = 1 returning generation`);
      const generation = Number(bumped.rows[0].generation);
      await writer.query('select pg_notify($1, $2)', [POLICY_CHANNEL, String(generation)]);
      await writer.query('commit');
      expect(generation).toBe(before + 1);

      // Nobody was listening when it committed: the notification is gone.
      const listening = await admin.query(`select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = $2`, [dbName, LISTENER_APPLICATION_NAME]);
      expect(listening.rows[0].n).toBe(0);
      expect((await health()).policy.ok).toBe(false);

      await admin.query(`alter database "${dbName}" allow_connections true`);
      refusing = false;
      await eventually(async () => (await health()).policy.ok === true, 'the channel to reconnect and the policy to load');
      const after = await health();
      expect(after.policy.generation).toBe(generation);

      const banned = await fetch(tarball('1.1.0'));
      const body = (await banned.json()) as { code: string; error: string };
      expect({ status: banned.status, code: body.code }).toEqual({ status: 403, code: 'EBANNED' });
      expect(body.error).toContain('banned while nobody listened');
      expect(await status(tarball('1.0.0'))).toBe(200);
      const packument = (await (await fetch(new URL('faulty-fixture', s.t.url))).json()) as { versions: Record<string, unknown> };
      expect(Object.keys(packument.versions)).toEqual(['1.0.0']);
    } finally {
      if (refusing) await admin.query(`alter database "${dbName}" allow_connections true`);
      await writer.end().catch(() => undefined);
      await admin.end();
    }
  });
});

describe('two gatekeeper processes on one database', () => {
  it('an approval made through one process takes effect in the other', async () => {
    const upstream = await startFixtureRegistry(FIXTURES);
    const a = await startTestGatekeeper({ upstream: upstream.url });
    const dataDir = makeReachableTempDir('gk-second-');
    const b = await spawnGatekeeper({ GATEKEEPER_DATABASE_URL: a.db.url, GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url });
    try {
      expect(await status(new URL('late-fixture', b.url))).toBe(403);
      const approved = await a.api('POST', '/approvals', { name: 'late-fixture', reason: 'approved in process A' });
      expect(approved.status).toBe(201);
      // Process B learns of it through NOTIFY; nothing polls the database.
      await eventually(async () => (await status(new URL('late-fixture', b.url))) === 200, 'process B to see the approval', 10_000);
      expect(await status(new URL('late-fixture/-/late-fixture-0.1.0.tgz', b.url))).toBe(200);

      await a.api('POST', '/bans', { name: 'late-fixture', reason: 'banned in process A' });
      await eventually(async () => (await status(new URL('late-fixture/-/late-fixture-0.1.0.tgz', b.url))) === 403, 'process B to see the ban', 10_000);
    } finally {
      expect(await b.stop()).toBe(0);
      await a.close();
      await upstream.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * The token cache keeps the promise of the per-request token lookup it replaces: a revoked
 * token, or a token of a disabled user, is refused on its next request in every process on
 * the database, with the cache warm in all of them; while the invalidation channel is down,
 * every token is looked up in the database again.
 *
 * Two gatekeepers share one database: A in this process, B a separate `gatekeeper start`
 * process (the build output). Before each change a revocation is written with plain SQL,
 * without its announcement: B still serves the token, which shows that B answers from its
 * cache and that only the announcement (NOTIFY) can end it there.
 */
import fs from 'node:fs';
import { Client } from 'pg';
import { makeReachableTempDir } from '../../src/db/embedded';
import { LISTENER_APPLICATION_NAME } from '../../src/db/listener';
import { hashToken } from '../../src/services/identity';
import { adminUrl } from '../support/database';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { loginToken, startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { GatekeeperProcess, spawnGatekeeper } from '../support/process';
import { gatekeeperSuite } from '../support/suite';

const PACKUMENT = 'token-fixture';
const TARBALL = 'token-fixture/-/token-fixture-1.0.0.tgz';

describe('tokens cached in two processes on one database', () => {
  let upstream: FixtureRegistry;
  let a: TestGatekeeper;
  let b: GatekeeperProcess;
  let dataDir: string;
  let sql: Client;

  const read = async (base: string, target: string, token: string): Promise<{ status: number; code?: string }> => {
    const res = await fetch(new URL(target, base), { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    if (res.status === 200) return { status: 200 };
    return { status: res.status, code: (JSON.parse(text) as { code?: string }).code };
  };

  /** Both targets, in both processes, served to the token (and so in both token caches). */
  const servedEverywhere = async (token: string) => {
    for (const base of [a.url, b.url]) {
      for (const target of [PACKUMENT, TARBALL]) expect({ base, target, ...(await read(base, target, token)) }).toEqual({ base, target, status: 200 });
    }
  };

  /** The stored row says revoked, but nobody is told: caches that hold the token keep it. */
  const revokeSilently = (token: string, revoked: boolean) =>
    sql.query(`update tokens set revoked_at = ${revoked ? 'now()' : 'null'} where token_hash = $1`, [hashToken(token)]);

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'token-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    a = await startTestGatekeeper({ upstream: upstream.url });
    dataDir = makeReachableTempDir('gk-token-b-');
    b = await spawnGatekeeper({ GATEKEEPER_DATABASE_URL: a.db.url, GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url });
    expect((await a.api('POST', '/approvals', { name: 'token-fixture', reason: 'token cache test' })).status).toBe(201);
    for (const username of ['dana', 'eli', 'fay']) {
      expect((await a.api('POST', '/users', { username, password: `${username}-password`, role: 'developer' })).status).toBe(201);
    }
    sql = new Client({ connectionString: a.db.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    if (b) expect(await b.stop()).toBe(0);
    await a?.close();
    await upstream?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a revoked token is refused on its next request in the other process', async () => {
    const token = await loginToken(a.url, 'dana', 'dana-password');
    await servedEverywhere(token);
    await servedEverywhere(token);

    // Warm: a revocation nobody announced does not reach either cache.
    await revokeSilently(token, true);
    await servedEverywhere(token);
    await revokeSilently(token, false);

    const listed = await a.api('GET', '/tokens?username=dana');
    const id = (listed.body as { items: Array<{ id: number; prefix: string }> }).items.find((t) => token.startsWith(t.prefix))?.id;
    expect(id).toBeDefined();
    expect((await a.api('DELETE', `/tokens/${id}`)).status).toBe(200);

    // The very next request, in B first, then in A.
    for (const base of [b.url, a.url]) {
      for (const target of [TARBALL, PACKUMENT]) {
        expect({ base, target, ...(await read(base, target, token)) }).toEqual({ base, target, status: 401, code: 'ETOKENREVOKED' });
      }
    }
  });

  it("a disabled user's token is refused on its next request in the other process, and stays refused once enabled (disabling revoked it)", async () => {
    const token = await loginToken(a.url, 'eli', 'eli-password');
    await servedEverywhere(token);
    await revokeSilently(token, true);
    await servedEverywhere(token);
    await revokeSilently(token, false);

    expect((await a.api('PATCH', '/users/eli', { disabled: true })).status).toBe(200);
    for (const base of [b.url, a.url]) {
      for (const target of [PACKUMENT, TARBALL]) {
        expect({ base, target, ...(await read(base, target, token)) }).toEqual({ base, target, status: 401, code: 'ETOKENREVOKED' });
      }
    }

    expect((await a.api('PATCH', '/users/eli', { disabled: false })).status).toBe(200);
    for (const base of [b.url, a.url]) {
      for (const target of [PACKUMENT, TARBALL]) {
        expect({ base, target, ...(await read(base, target, token)) }).toEqual({ base, target, status: 401, code: 'ETOKENREVOKED' });
      }
    }
    await servedEverywhere(await loginToken(a.url, 'eli', 'eli-password'));
  });

  it('looks every token up in the database while the channel is down, and forgets them all when it is back', async () => {
    const token = await loginToken(a.url, 'fay', 'fay-password');
    await servedEverywhere(token);
    const cache = a.gk.runtime.identity.tokenCache;
    expect(cache?.trusted).toBe(true);
    expect(cache?.size).toBeGreaterThan(0);

    const dbName = new URL(a.db.url).pathname.slice(1);
    const admin = new Client({ connectionString: adminUrl() });
    await admin.connect();
    let refusing = false;
    try {
      // The listeners cannot come back until this test lets them.
      await admin.query(`alter database "${dbName}" allow_connections false`);
      refusing = true;
      await admin.query(`select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1 and application_name = $2`, [dbName, LISTENER_APPLICATION_NAME]);
      await eventually(async () => cache?.trusted === false, "A's token cache to stop trusting itself");
      expect(cache?.size).toBe(0);

      // Revoked with nobody listening: A asks the database (its pool is still connected).
      await revokeSilently(token, true);
      const who = await fetch(new URL('-/whoami', a.url), { headers: { authorization: `Bearer ${token}` } });
      expect(who.status).toBe(401);
      expect(((await who.json()) as { code: string }).code).toBe('ETOKENREVOKED');

      await admin.query(`alter database "${dbName}" allow_connections true`);
      refusing = false;
      await eventually(async () => cache?.trusted === true, "A's channel to reconnect");
      // B's channel was down too; whatever it cached before is gone once it is back.
      await eventually(
        async () => ((await fetch(new URL('-/gatekeeper/v1/health', b.url)).then((r) => r.json())) as { policy: { ok: boolean } }).policy.ok,
        "B's channel to reconnect",
        20_000,
      );
      for (const base of [a.url, b.url]) {
        for (const target of [PACKUMENT, TARBALL]) {
          expect({ base, target, ...(await read(base, target, token)) }).toEqual({ base, target, status: 401, code: 'ETOKENREVOKED' });
        }
      }
    } finally {
      if (refusing) await admin.query(`alter database "${dbName}" allow_connections true`);
      await admin.end();
    }
  });
});

describe('GATEKEEPER_REQUIRE_AUTH on the fast path', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'token-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { requireAuth: true }, policyMode: 'none', npm: false });

  beforeAll(async () => {
    expect((await s.t.api('POST', '/approvals', { name: 'token-fixture', reason: 'require auth test' })).status).toBe(201);
    expect((await s.t.api('POST', '/users', { username: 'hal', password: 'hal-password', role: 'reader' })).status).toBe(201);
  });

  it('serves cached reads to a token without a query, and refuses them anonymously', async () => {
    const token = await loginToken(s.t.url, 'hal', 'hal-password');
    const auth = { authorization: `Bearer ${token}` };
    // Cached by reads with the token: the packument response, the decision, the tarball.
    for (let i = 0; i < 2; i++) {
      for (const target of [PACKUMENT, TARBALL]) expect((await fetch(new URL(target, s.t.url), { headers: auth })).status).toBe(200);
    }
    // The warm-up's advisory check times are written behind (100 ms later): written now, not in the recorded window.
    const advisories = s.t.gk.runtime.advisories;
    await advisories.flushChecks();
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    s.t.gk.database.knex.on('query', onQuery);
    try {
      for (const target of [PACKUMENT, TARBALL]) {
        expect((await fetch(new URL(target, s.t.url), { headers: auth })).status).toBe(200);
        const anonymous = await fetch(new URL(target, s.t.url));
        expect(anonymous.status).toBe(401);
        expect(((await anonymous.json()) as { code: string }).code).toBe('EUNAUTHENTICATED');
      }
      // A question asked in the window would be written now, and show.
      await advisories.flushChecks();
    } finally {
      s.t.gk.database.knex.off('query', onQuery);
    }
    expect(queries).toEqual([]);
  });
});

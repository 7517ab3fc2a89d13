/**
 * A cluster as deploy/ describes it: three gatekeepers (separate processes of the built tree)
 * started together on one new PostgreSQL database and one shared data directory, behind
 * HAProxy from Debian's packages running deploy/haproxy.cfg (with this test's addresses).
 *
 * Proves that a ban and a token revocation made through one instance hold on every instance;
 * that 30 concurrent publishes of distinct versions spread over the three all survive and are
 * served by all three, and 12 concurrent publishes of one version give exactly one success;
 * that 60 wrong passwords meet a 429 whether they are spread over the instances directly or
 * through HAProxy (which forwards the client address, GATEKEEPER_TRUST_PROXY); that the
 * scheduled job advisories.refresh runs once per interval across the three, not three times;
 * that killing one instance with SIGKILL in the middle of an `npm ci` of a 200-package tree
 * through HAProxy loses nothing: the install succeeds, and every publish and admin change
 * answered meanwhile is stored, audited and served by the survivors; and that a job whose
 * holder is killed mid-run is taken over and finished by another instance.
 *
 * Every process started here (gatekeepers, HAProxy, the fixture upstream) is stopped in
 * afterAll, and killed on the test process's exit should afterAll not run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';
import { startFixtureRegistry, FixtureRegistry, FixturePackage } from '../support/fixture-registry';
import { apiClient, ApiClient, loginToken, tempDir } from '../support/gatekeeper';
import { haproxyConfigFor, HaproxyProcess, requireHaproxy, startHaproxy } from '../support/haproxy';
import { couchLogin, requestFrom } from '../support/http';
import { createNpmEnv, makeProject, NpmEnv } from '../support/npm';
import { GatekeeperProcess, REPO, spawnGatekeeper } from '../support/process';
import { publishDocument } from '../support/publish';
import { integrityOf } from '../support/tarball';
import { migrationSource } from '../../migrations';

const ADMIN_PASSWORD = 'admin-password-for-cluster';
const TREE_SIZE = 200;
const depName = (i: number) => `cluster-dep-${String(i).padStart(3, '0')}`;

/** A 200-package tree: cluster-dep-000 is the root; package i depends on 2i+1 and 2i+2. */
function treePackages(): FixturePackage[] {
  return Array.from({ length: TREE_SIZE }, (_, i) => {
    const dependencies: Record<string, string> = {};
    for (const child of [2 * i + 1, 2 * i + 2]) if (child < TREE_SIZE) dependencies[depName(child)] = '^1.0.0';
    return { name: depName(i), versions: [{ version: '1.0.0', license: 'MIT', dependencies }] };
  });
}

interface Node {
  name: string;
  proc: GatekeeperProcess;
  url: string;
  api: ApiClient;
}

/** Every child process still running, killed on exit if afterAll did not stop it. */
const children = new Set<{ kill(signal: NodeJS.Signals): unknown; pid?: number }>();
const killAll = () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
};
process.once('exit', killAll);

const alive = (n: Node) => n.proc.proc.exitCode === null && n.proc.proc.signalCode === null;

/** A publish (PUT). Status 0: the connection closed without an answer (the outcome is unknown). */
async function put(base: string, name: string, doc: unknown, token: string): Promise<{ status: number; body: any }> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(new URL(name.replace('/', '%2f'), base), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    text = await res.text();
  } catch (err) {
    return { status: 0, body: { error: String((err as Error).cause ?? err) } };
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* an HAProxy error page */
  }
  return { status: res.status, body };
}

async function packument(base: string, name: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(name.replace('/', '%2f'), base), { headers: { accept: 'application/json' } });
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
}

async function tarball(base: string, pathname: string): Promise<{ status: number; bytes: Buffer; body: any }> {
  const res = await fetch(new URL(pathname, base));
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: res.status, bytes, body };
}

/** HAProxy's log lines (option httplog) from `from` on, for one server and a request text. */
function logLines(haproxy: HaproxyProcess, from: number, server: string, needle: string): string[] {
  return haproxy
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.includes(` gatekeepers/${server} `) && l.includes(needle));
}

describe('three gatekeepers on one database and one storage, behind HAProxy', () => {
  let upstream: FixtureRegistry;
  let db: TestDatabase;
  let dataDir: string;
  let configDir: string;
  let env: Record<string, string>;
  let haproxy: HaproxyProcess | undefined;
  const nodes: Node[] = [];
  const npmEnvs: NpmEnv[] = [];
  let adminToken: string;
  let publisherToken: string;
  let sql: Client;

  beforeAll(async () => {
    requireHaproxy();
    if (!fs.existsSync(path.join(REPO, 'dist/src/cli/main.js'))) throw new Error("the build output is missing: run 'npx tsc -p tsconfig.build.json'");
    upstream = await startFixtureRegistry([
      ...treePackages(),
      { name: 'cluster-ban', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
      { name: 'cluster-takedown', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.0.1', license: 'MIT' }] },
    ]);
    db = await createTestDatabase();
    dataDir = tempDir('gk-cluster-data-');
    configDir = tempDir('gk-cluster-config-');
    fs.writeFileSync(path.join(configDir, 'gatekeeper.yaml'), ['publish_rules:', '  - pattern: "@cluster/*"', '    roles: [publisher]', ''].join('\n'));
    env = {
      GATEKEEPER_PORT: '0',
      GATEKEEPER_DATA_DIR: dataDir,
      GATEKEEPER_DATABASE_URL: db.url,
      GATEKEEPER_UPSTREAM: upstream.url,
      GATEKEEPER_CONFIG: path.join(configDir, 'gatekeeper.yaml'),
      GATEKEEPER_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // HAProxy reaches the gatekeepers from 127.0.0.1; the test's own clients use 127.0.0.x.
      GATEKEEPER_TRUST_PROXY: '127.0.0.1',
      // The job 'advisories.refresh' is due every second (a quarter of this); claims are polled
      // often and a dead holder's lease runs out after 3 s.
      GATEKEEPER_ADVISORY_REFRESH: '4s',
      GATEKEEPER_JOB_POLL: '1s',
      GATEKEEPER_JOB_LEASE: '3s',
      // A stored packument is refreshed from the upstream after a second: a takedown is seen at once.
      GATEKEEPER_UPSTREAM_MAXAGE: '1s',
    };
    // Started together on the new database: they migrate it once and create one admin.
    const started = await Promise.allSettled(['gk1', 'gk2', 'gk3'].map((name) => spawnGatekeeper(env, undefined, 120_000).then((proc) => ({ name, proc }))));
    for (const s of started) {
      if (s.status === 'fulfilled') {
        children.add(s.value.proc.proc);
        nodes.push({ ...s.value, url: s.value.proc.url, api: apiClient(s.value.proc.url, null) });
      }
    }
    const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length > 0) throw new Error(`a gatekeeper did not start:\n${failed.map((f) => String(f.reason)).join('\n')}`);
    nodes.sort((a, b) => a.name.localeCompare(b.name));
    adminToken = await loginToken(nodes[0].url, 'admin', ADMIN_PASSWORD);
    for (const n of nodes) n.api = apiClient(n.url, adminToken);
    haproxy = await startHaproxy((bind) => haproxyConfigFor(bind, nodes.map((n) => new URL(n.url).host)));
    children.add(haproxy.proc);
    sql = new Client({ connectionString: db.url });
    await sql.connect();

    expect((await nodes[0].api('PATCH', '/policy', { mode: 'open' })).status).toBe(200);
    // The others learn of it through the database's notification: the tests below start once they have.
    const generation = (await nodes[0].api('GET', '/health', undefined, null)).body.policy.generation as number;
    for (const n of nodes.slice(1)) {
      await eventually(async () => ((await n.api('GET', '/health', undefined, null)).body.policy.generation as number) >= generation, `${n.name} to load the open policy`);
    }
    expect((await nodes[1].api('POST', '/users', { username: 'pub', password: 'pub-password', role: 'publisher' })).status).toBe(201);
    expect((await nodes[2].api('POST', '/users', { username: 'dev', password: 'dev-password', role: 'developer' })).status).toBe(201);
    publisherToken = await loginToken(nodes[2].url, 'pub', 'pub-password');
  }, 300_000);

  afterAll(async () => {
    await sql?.end().catch(() => undefined);
    for (const n of nodes) {
      if (alive(n)) await n.proc.stop('SIGTERM');
      children.delete(n.proc.proc);
    }
    if (haproxy) {
      await haproxy.stop();
      children.delete(haproxy.proc);
    }
    for (const e of npmEnvs) await e.cleanup();
    await upstream?.close();
    await db?.drop();
    for (const dir of [dataDir, configDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('started together on an empty database: migrated once, one admin, all three ready and reached through HAProxy', async () => {
    const all = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
    const applied = await sql.query<{ name: string }>('select name from knex_migrations order by id');
    expect(applied.rows.map((r) => r.name)).toEqual(all);
    expect((await sql.query(`select username from users where role = 'admin'`)).rows).toEqual([{ username: 'admin' }]);
    for (const n of nodes) {
      const ready = await fetch(new URL('-/gatekeeper/v1/ready', n.url));
      expect(ready.status).toBe(200);
    }
    const from = haproxy!.output().length;
    for (let i = 0; i < 9; i++) expect((await fetch(new URL('-/ping', haproxy!.url))).status).toBe(200);
    // Every server took some of them (leastconn with idle servers spreads sequential requests).
    await eventually(async () => nodes.every((n) => logLines(haproxy!, from, n.name, 'GET /-/ping').length > 0), 'every server to have answered a ping through HAProxy');
  });

  it('a ban made through one instance is enforced by every instance, on cached documents too', async () => {
    // Each instance has read, decided and cached the package first.
    for (const n of nodes) {
      expect((await packument(n.url, 'cluster-ban')).body['dist-tags'].latest).toBe('1.1.0');
      expect((await tarball(n.url, 'cluster-ban/-/cluster-ban-1.1.0.tgz')).status).toBe(200);
    }
    expect((await nodes[1].api('POST', '/bans', { name: 'cluster-ban', range: '1.1.0', reason: 'CVE-2099-0100 in the cluster test' })).status).toBe(201);
    for (const n of nodes) {
      await eventually(async () => (await tarball(n.url, 'cluster-ban/-/cluster-ban-1.1.0.tgz')).status === 403, `${n.name} to refuse the banned tarball`);
      const refused = await tarball(n.url, 'cluster-ban/-/cluster-ban-1.1.0.tgz');
      expect(refused.body.code).toBe('EBANNED');
      const doc = await packument(n.url, 'cluster-ban');
      expect(Object.keys(doc.body.versions)).toEqual(['1.0.0']);
      expect(doc.body['dist-tags'].latest).toBe('1.0.0');
    }
  });

  it('a version unpublished or deprecated through one instance is refused by every instance on its next request, its tarball held in memory too', async () => {
    const publisher = await createNpmEnv(nodes[0].url);
    npmEnvs.push(publisher);
    await publisher.setToken(publisherToken);
    expect((await nodes[0].api('PATCH', '/policy', { deprecated: { mode: 'enforce' } })).status).toBe(200);
    try {
      for (const name of ['@cluster/gone', '@cluster/dep']) {
        for (const version of ['1.0.0', '1.1.0']) expect((await put(nodes[0].url, name, publishDocument(name, version), publisherToken)).status).toBe(201);
      }
      const tgz = (name: string) => `${name.replace('/', '%2f')}/-/${name.split('/')[1]}-1.1.0.tgz`;
      // Every instance has decided 1.1.0 and holds its tarball (the second read is served from memory).
      for (const n of nodes) {
        for (const name of ['@cluster/gone', '@cluster/dep']) for (let i = 0; i < 2; i++) expect((await tarball(n.url, tgz(name))).status).toBe(200);
      }
      expect((await publisher.run(['unpublish', '@cluster/gone@1.1.0', '--force'])).code).toBe(0);
      expect((await publisher.run(['deprecate', '@cluster/dep@1.1.0', 'broken, use 1.0.0'])).code).toBe(0);
      // No waiting: npm's answer came once every instance had dropped what it held.
      for (const n of nodes) {
        const gone = await tarball(n.url, tgz('@cluster/gone'));
        const deprecated = await tarball(n.url, tgz('@cluster/dep'));
        expect([n.name, gone.status, gone.body?.code, deprecated.status, deprecated.body?.code]).toEqual([n.name, 404, 'ENOTFOUND', 403, 'EDEPRECATED']);
        expect([n.name, Object.keys((await packument(n.url, '@cluster%2fdep')).body.versions)]).toEqual([n.name, ['1.0.0']]);
      }
    } finally {
      expect((await nodes[0].api('PATCH', '/policy', { deprecated: { mode: 'off' } })).status).toBe(200);
    }
  });

  it('a version the upstream took down, as one instance saw, is no longer served by any, its tarball held in memory too', async () => {
    const tgz = 'cluster-takedown/-/cluster-takedown-1.0.1.tgz';
    for (const n of nodes) for (let i = 0; i < 2; i++) expect((await tarball(n.url, tgz)).status).toBe(200);
    const doc = (await (await fetch(new URL('cluster-takedown', upstream.url))).json()) as { versions: Record<string, unknown>; 'dist-tags': Record<string, string> };
    delete doc.versions['1.0.1'];
    doc['dist-tags'] = { latest: '1.0.0' };
    upstream.fault({ packument: 'cluster-takedown' }, { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } });
    upstream.fault({ tarball: 'cluster-takedown', version: '1.0.1' }, { status: 404, body: '{"error":"not found"}', headers: { 'content-type': 'application/json' } });
    // Only the first instance reads the packument again, and follows the takedown.
    await eventually(async () => (await packument(nodes[0].url, 'cluster-takedown')).body['dist-tags'].latest === '1.0.0', `${nodes[0].name} to follow the takedown`);
    for (const n of nodes) {
      await eventually(async () => (await tarball(n.url, tgz)).status === 404, `${n.name} to refuse the taken-down tarball`);
      expect((await tarball(n.url, tgz)).body.code).toBe('ENOTFOUND');
    }
  });

  it('a token revoked through one instance is refused by every instance', async () => {
    const token = await loginToken(nodes[0].url, 'dev', 'dev-password');
    const whoami = (n: Node) => requestFrom(n.url, 'GET', '-/whoami', { headers: { authorization: `Bearer ${token}` } });
    // Every instance has resolved (and cached) it.
    for (const n of nodes) expect(await whoami(n)).toMatchObject({ status: 200, body: { username: 'dev' } });
    const revoked = await requestFrom(nodes[2].url, 'DELETE', `-/npm/v1/tokens/token/${encodeURIComponent(token)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBeLessThan(300);
    for (const n of nodes) {
      await eventually(async () => (await whoami(n)).status === 401, `${n.name} to refuse the revoked token`);
    }
  });

  it('30 concurrent publishes of distinct versions spread over the three all survive and are served by all three', async () => {
    const versions = Array.from({ length: 30 }, (_, i) => `1.0.${i}`);
    const docs = versions.map((v) => publishDocument('@cluster/many', v));
    const results = await Promise.all(docs.map((doc, i) => put(nodes[i % 3].url, '@cluster/many', doc, publisherToken)));
    expect(results.map((r) => r.status)).toEqual(new Array(30).fill(201));
    const rows = await sql.query<{ version: string; state: string; integrity: string }>(`select version, state, integrity from published_versions where name = '@cluster/many'`);
    expect(rows.rows.map((r) => r.version).sort()).toEqual([...versions].sort());
    expect(rows.rows.every((r) => r.state === 'published')).toBe(true);
    const integrity = new Map(rows.rows.map((r) => [r.version, r.integrity]));
    for (const n of nodes) {
      await eventually(async () => Object.keys((await packument(n.url, '@cluster/many')).body.versions ?? {}).length === 30, `${n.name} to list all 30 versions`);
      for (const v of versions) {
        const got = await tarball(n.url, `@cluster%2fmany/-/many-${v}.tgz`);
        expect([v, got.status]).toEqual([v, 200]);
        expect(integrityOf(got.bytes)).toBe(integrity.get(v));
      }
    }
  });

  it('12 concurrent publishes of one version spread over the three give exactly one success', async () => {
    const docs = Array.from({ length: 12 }, (_, i) =>
      publishDocument('@cluster/race', '1.0.0', { packageJson: { name: '@cluster/race', version: '1.0.0', license: 'MIT', description: `racer ${i}` } }),
    );
    const results = await Promise.all(docs.map((doc, i) => put(nodes[i % 3].url, '@cluster/race', doc, publisherToken)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    for (const loser of results.filter((r) => r.status !== 201)) expect([loser.status, loser.body.code]).toEqual([409, 'EVERSIONEXISTS']);
    const rows = await sql.query<{ state: string; integrity: string }>(`select state, integrity from published_versions where name = '@cluster/race'`);
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0].state).toBe('published');
    // Every instance serves the winner's bytes.
    for (const n of nodes) {
      const got = await tarball(n.url, '@cluster%2frace/-/race-1.0.0.tgz');
      expect(got.status).toBe(200);
      expect(integrityOf(got.bytes)).toBe(rows.rows[0].integrity);
    }
  });

  it('60 wrong passwords spread over the instances directly meet a 429 after the per-user limit', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 60; i++) {
      const reply = await couchLogin(nodes[i % 3].url, 'dev', `wrong-${i}`, { from: '127.0.0.63' });
      codes.push(`${reply.status} ${reply.body.code}`);
    }
    // 10 failures per username across the cluster (the default), then refused everywhere.
    expect(codes.slice(0, 10)).toEqual(new Array(10).fill('401 EBADCREDENTIALS'));
    expect(codes.slice(10)).toEqual(new Array(50).fill('429 ETOOMANYATTEMPTS'));
  });

  it('60 wrong passwords through HAProxy meet a 429 for their client address, not for every client of the proxy', async () => {
    const from = haproxy!.output().length;
    const codes: string[] = [];
    for (let i = 0; i < 60; i++) {
      const reply = await couchLogin(haproxy!.url, `nobody-${i}`, 'wrong', { from: '127.0.0.61' });
      codes.push(`${reply.status} ${reply.body.code}`);
    }
    // 30 failures per client address across the cluster (the default); distinct usernames.
    expect(codes.slice(0, 30)).toEqual(new Array(30).fill('401 EBADCREDENTIALS'));
    expect(codes.slice(30)).toEqual(new Array(30).fill('429 ETOOMANYATTEMPTS'));
    // HAProxy spread them over all three.
    await eventually(async () => nodes.every((n) => logLines(haproxy!, from, n.name, 'org.couchdb.user:nobody-').length > 0), 'every server to have taken some guesses');
    // Another client behind the same proxy is not throttled: the gatekeepers count X-Forwarded-For.
    expect((await couchLogin(haproxy!.url, 'pub', 'pub-password', { from: '127.0.0.62' })).status).toBe(201);
    const rows = await sql.query<{ actor_ip: string }>(`select distinct actor_ip from audit_log where action = 'user.login_throttled' and details->>'key' = '127.0.0.61'`);
    expect(rows.rows).toEqual([{ actor_ip: '127.0.0.61' }]);
  });

  it('runs a scheduled job once per interval across the three, not three times', async () => {
    interface Seen {
      claim: number;
      started: number;
      by: string | null;
    }
    const seen = new Map<number, Seen>();
    const read = async () => {
      const row = (await sql.query<{ claim: string; started: string; by: string | null; interval_ms: string }>(
        `select claim, (extract(epoch from started_at) * 1000)::bigint as started, locked_by as by, interval_ms from jobs where name = 'advisories.refresh'`,
      )).rows[0];
      if (row && row.started !== null && !seen.has(Number(row.claim))) seen.set(Number(row.claim), { claim: Number(row.claim), started: Number(row.started), by: row.by });
      return row;
    };
    await eventually(async () => {
      await read();
      return seen.size >= 8;
    }, 'eight claims of advisories.refresh', 60_000);
    const interval = Number((await read()).interval_ms);
    expect(interval).toBe(1000);
    // Claims by the database's clock: each run starts at least one interval (per claim
    // between them) after the previous one, whichever instance ran it. Three instances each
    // running the job on their own would start three runs per interval.
    const claims = [...seen.values()].sort((a, b) => a.claim - b.claim);
    for (let i = 1; i < claims.length; i++) {
      const gap = claims[i].started - claims[i - 1].started;
      expect([claims[i].claim, gap >= (claims[i].claim - claims[i - 1].claim) * interval]).toEqual([claims[i].claim, true]);
    }
    // Each run is counted once: the runs every instance reports sum up to the cluster's count.
    const healths = await Promise.all(nodes.map(async (n) => (await n.api('GET', '/health')).body.jobs['advisories.refresh']));
    const row = (await sql.query<{ runs: string; locked_by: string | null }>(`select runs, locked_by from jobs where name = 'advisories.refresh'`)).rows[0];
    const here = healths.reduce((sum, h) => sum + (h.runsHere ?? 0), 0);
    // A run may end between the reads above: the sum is at most one behind or ahead.
    expect(Math.abs(here - Number(row.runs))).toBeLessThanOrEqual(1);
  });

  it('loses nothing when one instance is killed with SIGKILL during an npm ci of 200 packages through HAProxy', async () => {
    const victim = nodes[1];
    const survivors = nodes.filter((n) => n !== victim);
    // The lockfile, made through HAProxy (its resolved URLs name HAProxy).
    const installer = await createNpmEnv(haproxy!.url);
    npmEnvs.push(installer);
    const project = await makeProject(installer.dir, { dependencies: { [depName(0)]: '^1.0.0' } });
    const install = await installer.run(['install', '--no-audit'], { cwd: project });
    expect(install.output).not.toContain('npm error');
    expect(install.code).toBe(0);
    const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
    expect(Object.keys(lock.packages).filter((k) => k.startsWith('node_modules/'))).toHaveLength(TREE_SIZE);

    // npm ci with an empty cache, so every tarball is asked for during the run.
    const ci = await createNpmEnv(haproxy!.url);
    npmEnvs.push(ci);
    const from = haproxy!.output().length;
    let done = false;
    const running = ci.run(['ci', '--no-audit'], { cwd: project }).finally(() => {
      done = true;
    });

    // Meanwhile, publishes and admin changes through HAProxy, one after another.
    const publishes: Array<{ version: string; status: number; code?: string }> = [];
    const bans: Array<{ name: string; status: number }> = [];
    let killed = false;
    let sinceKill = 0;
    const writer = (async () => {
      // Until the install ends, and at least three rounds after the kill.
      for (let i = 0; !done || (killed && sinceKill < 3); i++, sinceKill += killed ? 1 : 0) {
        const version = `2.0.${i}`;
        const res = await put(haproxy!.url, '@cluster/during', publishDocument('@cluster/during', version), publisherToken);
        publishes.push({ version, status: res.status, code: res.body?.code });
        const name = `cluster-during-${i}`;
        const ban = await fetch(new URL('-/gatekeeper/v1/bans', haproxy!.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name, reason: `ban ${i} made during the kill` }),
        }).then(
          async (r) => (await r.arrayBuffer(), r.status),
          () => 0,
        );
        bans.push({ name, status: ban });
      }
    })();

    // Once the victim has served some of this install's tarballs, it dies.
    let killedAt = -1;
    let publishesBeforeKill = -1;
    await eventually(async () => done || logLines(haproxy!, from, victim.name, '.tgz HTTP').length >= 10, 'the victim to serve 10 tarballs of the install', 120_000);
    if (!done) {
      killedAt = haproxy!.output().length;
      publishesBeforeKill = publishes.length;
      await victim.proc.stop('SIGKILL');
      killed = true;
    }
    const result = await running;
    await writer;

    // It was killed mid-install: other servers went on serving this install's tarballs after it.
    expect(killedAt).toBeGreaterThan(0);
    const after = survivors.flatMap((n) => logLines(haproxy!, killedAt, n.name, '.tgz HTTP'));
    expect(after.length).toBeGreaterThan(0);
    // The install succeeded, whole.
    expect(result.output).not.toContain('npm error');
    expect(result.code).toBe(0);
    const installed = fs.readdirSync(path.join(project, 'node_modules')).filter((d) => d.startsWith('cluster-dep-'));
    expect(installed).toHaveLength(TREE_SIZE);
    expect(publishes.length).toBeGreaterThan(publishesBeforeKill);

    // Every publish that was answered 201 is stored, audited and served by both survivors.
    const answered = publishes.filter((p) => p.status === 201).map((p) => p.version);
    expect(answered.length).toBeGreaterThan(0);
    const rows = await sql.query<{ version: string; state: string }>(`select version, state from published_versions where name = '@cluster/during'`);
    const state = new Map(rows.rows.map((r) => [r.version, r.state]));
    for (const v of answered) expect([v, state.get(v)]).toEqual([v, 'published']);
    const audited = await sql.query<{ version: string }>(`select version from audit_log where action = 'package.publish' and package = '@cluster/during'`);
    expect(audited.rows.map((r) => r.version).sort()).toEqual(expect.arrayContaining(answered));
    for (const n of survivors) {
      await eventually(async () => {
        const doc = await packument(n.url, '@cluster/during');
        return answered.every((v) => doc.body.versions?.[v]);
      }, `${n.name} to serve every answered publish`);
      for (const v of answered) expect([v, (await tarball(n.url, `@cluster%2fduring/-/during-${v}.tgz`)).status]).toEqual([v, 200]);
    }
    // A publish the victim took with it was answered with a proxy error or a closed connection,
    // never a success. Published again, it succeeds; or it is there already (the victim stored
    // it and died before answering); or the dead process still holds its reservation (which
    // expires after 10 minutes; docs/deploy.md).
    const cut = publishes.filter((p) => p.status !== 201);
    for (const p of cut) {
      expect([p.version, p.status === 0 || p.status >= 500]).toEqual([p.version, true]);
      const again = await put(haproxy!.url, '@cluster/during', publishDocument('@cluster/during', p.version), publisherToken);
      if (again.status !== 201) {
        expect([p.version, again.status, again.body.code]).toEqual([p.version, 409, 'EVERSIONEXISTS']);
        expect(['published', 'reserved']).toContain(state.get(p.version));
      }
    }
    // Every admin change answered 201 is stored and audited.
    const made = bans.filter((b) => b.status === 201).map((b) => b.name);
    expect(made.length).toBeGreaterThan(0);
    const banRows = await sql.query<{ package: string }>(`select package from audit_log where action = 'ban.create' and package like 'cluster-during-%'`);
    expect(banRows.rows.map((r) => r.package)).toEqual(expect.arrayContaining(made));
    for (const b of bans.filter((x) => x.status !== 201)) expect([b.name, b.status === 0 || b.status >= 500]).toEqual([b.name, true]);
    // HAProxy has taken the dead node out; the survivors are still ready.
    for (const n of survivors) expect((await fetch(new URL('-/gatekeeper/v1/ready', n.url))).status).toBe(200);
    await eventually(async () => /gatekeepers\/gk2 is DOWN/.test(haproxy!.output()), 'HAProxy to mark the killed node down', 60_000);
  });
  it('hands a job whose holder is killed mid-run to another instance', async () => {
    const before = upstream.requests.length;
    // The next advisory request waits 30 s: the run that makes it is still running when its
    // instance is killed.
    upstream.fault({ path: '/-/npm/v1/security/advisories/bulk' }, { delayMs: 30_000, times: 1 });
    await eventually(async () => upstream.requests.slice(before).some((r) => r.url.startsWith('/-/npm/v1/security/advisories/bulk')), 'a refresh run to ask the upstream', 30_000);
    const held = (await sql.query<{ locked_by: string | null; claim: string; takeovers: string; runs: string }>(`select locked_by, claim, takeovers, runs from jobs where name = 'advisories.refresh'`)).rows[0];
    expect(held.locked_by).not.toBeNull();
    const holder = nodes.find((n) => alive(n) && held.locked_by!.includes(`:${n.proc.proc.pid}:`));
    expect(holder).toBeDefined();
    await holder!.proc.stop('SIGKILL');
    // Once its lease has run out, a surviving instance claims the job (a takeover) and runs it.
    const survivor = nodes.filter(alive);
    expect(survivor.length).toBeGreaterThan(0);
    await eventually(async () => {
      const row = (await sql.query<{ takeovers: string; runs: string; last_run_by: string | null }>(`select takeovers, runs, last_run_by from jobs where name = 'advisories.refresh'`)).rows[0];
      return Number(row.takeovers) > Number(held.takeovers) && Number(row.runs) > Number(held.runs) && row.last_run_by !== held.locked_by;
    }, 'another instance to take the job over and complete it', 60_000);
    upstream.clearFaults();
    const after = (await sql.query<{ last_run_by: string }>(`select last_run_by from jobs where name = 'advisories.refresh'`)).rows[0];
    expect(survivor.some((n) => after.last_run_by.includes(`:${n.proc.proc.pid}:`))).toBe(true);
  });
});

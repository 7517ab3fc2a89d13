/**
 * The gatekeeper CLI against a running gatekeeper and a real database: migrations, users,
 * tokens, rules and audit; plus the properties of the hot path and of shutdown.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Client } from 'pg';
import { main } from '../../src/cli/main';
import { migrations } from '../../migrations';

const MIGRATIONS = migrations.map(([name]) => name);
import { captureIo } from '../support/cli';
import { createTestDatabase } from '../support/database';
import { startFixtureRegistry } from '../support/fixture-registry';
import { loginToken, startTestGatekeeper, tempDir } from '../support/gatekeeper';
import { REPO, runCli, spawnGatekeeper } from '../support/process';
import { buildTarball, integrityOf, shasumOf } from '../support/tarball';
import { gatekeeperSuite } from '../support/suite';
import { tarballCacheOf } from '../../src/server/registry/gate';

describe('gatekeeper migrate', () => {
  it('applies every migration, is idempotent, and rolls back with down', async () => {
    const db = await createTestDatabase();
    const env = { GATEKEEPER_DATABASE_URL: db.url, GATEKEEPER_DATA_DIR: tempDir('gk-migrate-') };
    const tables = async () => {
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        const r = await c.query(`select table_name from information_schema.tables where table_schema = 'public' and table_name not like 'knex%' order by 1`);
        return r.rows.map((row: { table_name: string }) => row.table_name);
      } finally {
        await c.end();
      }
    };
    try {
      const first = await runCli(['migrate'], env);
      expect(first).toMatchObject({ code: 0 });
      expect(first.output).toContain(`applied: ${MIGRATIONS.join(', ')}`);
      expect(await tables()).toEqual(['advisories', 'advisory_checks', 'advisory_overrides', 'advisory_sync_files', 'approvals', 'audit_log', 'bans', 'catalogue_packages', 'catalogue_versions', 'dependency_edges', 'impact_projects', 'impact_records', 'jobs', 'license_waivers', 'login_throttle', 'package_requests', 'package_tags', 'policy_state', 'project_packages', 'projects', 'publish_rules', 'published_versions', 'rule_exemptions', 'sso_logins', 'tags', 'tarball_inspections', 'tokens', 'users', 'webhook_deliveries', 'webhooks']);
      const again = await runCli(['migrate'], env);
      expect(again.output).toContain('the database is up to date');
      const down = await runCli(['migrate', '--rollback'], env);
      expect(down.code).toBe(0);
      expect(down.output).toContain(`rolled back: ${[...MIGRATIONS].reverse().join(', ')}`);
      expect(await tables()).toEqual([]);
      expect((await runCli(['migrate'], env)).code).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('start refuses, naming the cause, when the database cannot be migrated', async () => {
    const upstream = await startFixtureRegistry([]);
    const db = await createTestDatabase();
    const c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query('create table users (id text primary key)');
    await c.end();
    try {
      await expect(startTestGatekeeper({ upstream: upstream.url, db })).rejects.toThrow(/the database could not be migrated: .*relation "users" already exists/);
    } finally {
      await db.drop();
      await upstream.close();
    }
  });
});

describe('administration through the CLI', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'cli-fixture', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.5.0', license: 'MIT' }] }], settings: { allowSelfRegistration: true }, policyMode: 'none', npm: false });
  let env: NodeJS.ProcessEnv;

  const gatekeeper = async (argv: string[], stdin = '') => {
    const io = captureIo();
    const code = await main(argv, io, env, async () => stdin);
    return { code, out: io.outText(), err: io.errText() };
  };

  beforeAll(() => {
    env = { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken, HOME: s.t.dataDir, PATH: process.env.PATH };
  });

  it('adds, lists, disables and re-enables users', async () => {
    const added = await gatekeeper(['user', 'add', 'carol', '--role', 'publisher', '--password-stdin'], 'carol-password\n');
    expect(added).toMatchObject({ code: 0, out: 'created carol (publisher)' });
    expect(await loginToken(s.t.url, 'carol', 'carol-password')).toMatch(/^gk_/);

    const generated = await gatekeeper(['user', 'add', 'dave']);
    expect(generated.code).toBe(0);
    const password = /password: (\S+)/.exec(generated.out)?.[1] as string;
    expect(await loginToken(s.t.url, 'dave', password)).toMatch(/^gk_/);

    const list = JSON.parse((await gatekeeper(['user', 'list', '--json'])).out) as Array<{ username: string; role: string }>;
    expect(list.map((u) => `${u.username}:${u.role}`)).toEqual(['admin:admin', 'carol:publisher', 'dave:developer']);

    expect((await gatekeeper(['user', 'disable', 'dave'])).out).toBe('dave disabled');
    await expect(loginToken(s.t.url, 'dave', password)).rejects.toThrow(/EUSERDISABLED/);
    expect((await gatekeeper(['user', 'enable', 'dave'])).code).toBe(0);
    expect(await loginToken(s.t.url, 'dave', password)).toMatch(/^gk_/);

    const bad = await gatekeeper(['user', 'add', 'eve', '--role', 'superuser', '--password-stdin'], 'eve-password');
    // Input the server refuses as invalid is bad usage: exit 2.
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('[EVALIDATION] role must be one of admin, publisher, developer, reader');
  });

  it('lists and revokes tokens, never showing their values', async () => {
    const token = await loginToken(s.t.url, 'carol', 'carol-password');
    const listed = await gatekeeper(['token', 'list', '--username', 'carol', '--json']);
    expect(listed.out).not.toContain(token);
    const mine = (JSON.parse(listed.out) as Array<{ id: number; prefix: string; revokedAt: string | null }>).find((i) => token.startsWith(i.prefix) && !i.revokedAt);
    expect(mine).toBeDefined();
    expect((await gatekeeper(['token', 'revoke', String(mine?.id)])).out).toBe(`token ${mine?.id} revoked`);
    expect((await fetch(new URL('cli-fixture', s.t.url), { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);

    // A developer may revoke their own tokens but not someone else's.
    const carolToken = await loginToken(s.t.url, 'carol', 'carol-password');
    const carols = JSON.parse((await gatekeeper(['token', 'list', '--username', 'carol', '--json'])).out) as Array<{ id: number; prefix: string; revokedAt: string | null }>;
    const target = carols.find((i) => carolToken.startsWith(i.prefix) && !i.revokedAt);
    const dave = await s.t.api('POST', '/users', { username: 'frank', password: 'frank-password', role: 'developer' });
    expect(dave.status).toBe(201);
    const frankEnv = { ...env, GATEKEEPER_TOKEN: await loginToken(s.t.url, 'frank', 'frank-password') };
    const io = captureIo();
    expect(await main(['token', 'revoke', String(target?.id)], io, frankEnv)).toBe(1);
    expect(io.errText()).toContain(`[ENOTFOUND] there is no token ${target?.id} of yours`);
    expect((await fetch(new URL('cli-fixture', s.t.url), { headers: { authorization: `Bearer ${carolToken}` } })).status).not.toBe(401);
  });

  it('approves, unapproves by name@range, and reads the audit log', async () => {
    expect((await gatekeeper(['approve', 'cli-fixture@^1.0.0', '--reason', 'cli test', '--expires', '30d'])).code).toBe(0);
    const approvals = JSON.parse((await gatekeeper(['approvals', '--json'])).out) as Array<{ pattern: string; range: string; expiresAt: string }>;
    expect(approvals).toEqual([expect.objectContaining({ pattern: 'cli-fixture', range: '^1.0.0' })]);
    expect(new Date(approvals[0].expiresAt).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await fetch(new URL('cli-fixture', s.t.url))).status).toBe(200);

    const removed = await gatekeeper(['unapprove', 'cli-fixture@^1.0.0']);
    expect(removed.out).toMatch(/^removed approval \d+ \(cli-fixture@\^1\.0\.0\)$/);
    expect((await fetch(new URL('cli-fixture', s.t.url))).status).toBe(403);
    const missing = await gatekeeper(['unapprove', 'cli-fixture@^1.0.0']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("no approval for cli-fixture@^1.0.0; list them with 'gatekeeper approvals'");

    // Blocked installs are written in batches, off the request path: wait for the batch.
    let actions: string[] = [];
    for (let i = 0; i < 100 && !actions.includes('install.blocked'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      actions = (JSON.parse((await gatekeeper(['audit', '--package', 'cli-fixture', '--json'])).out) as Array<{ action: string }>).map((a) => a.action);
    }
    expect(actions).toEqual(expect.arrayContaining(['approval.create', 'approval.delete', 'install.blocked']));
    const page1 = await s.t.api('GET', '/audit?limit=2');
    const page2 = await s.t.api('GET', `/audit?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items[0].id).toBeLessThan(page1.body.items[1].id);
  });

  it('lets npm adduser register a developer when self-registration is on', async () => {
    const res = await fetch(new URL('-/user/org.couchdb.user:newbie', s.t.url), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'newbie', password: 'newbie-password', email: 'newbie@example.invalid', type: 'user' }),
    });
    expect(res.status).toBe(201);
    const who = await s.t.api('GET', '/whoami', undefined, ((await res.json()) as { token: string }).token);
    expect(who.body).toEqual({ username: 'newbie', role: 'developer' });
  });

  it('decides a packument without a single database query, anonymous and with a token', async () => {
    await s.t.api('POST', '/approvals', { name: 'cli-fixture', reason: 'hot path' });
    expect((await s.t.api('POST', '/users', { username: 'henry', password: 'henry-password', role: 'developer' })).status).toBe(201);
    const token = await loginToken(s.t.url, 'henry', 'henry-password');
    const packument = new URL('cli-fixture', s.t.url);
    const tarball = new URL('cli-fixture/-/cli-fixture-1.5.0.tgz', s.t.url);
    // Warm what a process loads once: Verdaccio's storage, the tarball (its first fetch stores
    // it and records its inspection, once per version), the package's advisories and
    // inspections in memory, the policy, and the token (one lookup, then the token cache).
    expect((await fetch(packument)).status).toBe(200);
    expect((await fetch(tarball)).status).toBe(200);
    expect((await fetch(packument, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const { governance, packuments, identity, advisories } = s.t.gk.runtime;
    // The warm-up's advisory check times are written behind (100 ms later): written now, not
    // while the decisions below are recorded.
    await advisories.flushChecks();
    const tarballs = tarballCacheOf(s.t.gk.runtime);
    const decided = (version: string) => governance.cache.peek(governance.cache.current(), 'cli-fixture', version);
    /** Drops every decision and every cached response of the package, without a query. */
    const forget = () => {
      governance.cache.forget('cli-fixture');
      packuments.invalidate('cli-fixture');
      tarballs.invalidate('cli-fixture');
      expect(decided('1.0.0')).toBeUndefined();
      expect(decided('1.5.0')).toBeUndefined();
    };
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    for (const authorization of [undefined, `Bearer ${token}`]) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const tokenHits = identity.tokenCache?.hits ?? 0;
      s.t.gk.database.knex.on('query', onQuery);
      try {
        // A fresh decision of the whole packument, then its tarball from that decision.
        forget();
        expect((await fetch(packument, { headers })).status).toBe(200);
        expect(decided('1.0.0')?.allowed).toBe(true);
        expect(decided('1.5.0')?.allowed).toBe(true);
        expect((await fetch(tarball, { headers })).status).toBe(200);
        // A fresh decision made by the tarball route alone.
        forget();
        expect((await fetch(tarball, { headers })).status).toBe(200);
        expect(decided('1.5.0')?.allowed).toBe(true);
        // And warm reads (the fast path) after them.
        for (let i = 0; i < 3; i++) {
          expect((await fetch(packument, { headers })).status).toBe(200);
          expect((await fetch(tarball, { headers })).status).toBe(200);
        }
        // Nothing was asked of the advisory source meanwhile either: no check time waits to be written.
        await advisories.flushChecks();
      } finally {
        s.t.gk.database.knex.off('query', onQuery);
      }
      expect(queries).toEqual([]);
      // The token was really resolved, from the token cache, on every request that carried it.
      if (authorization) expect((identity.tokenCache?.hits ?? 0) - tokenHits).toBeGreaterThanOrEqual(9);
    }
    // A token the cache does not hold still asks the database, and is refused.
    expect((await fetch(packument, { headers: { authorization: 'Bearer gk_not-a-token' } })).status).toBe(401);
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight download finish on SIGTERM, then exits 0', async () => {
    const tarball = buildTarball({ 'package.json': JSON.stringify({ name: 'slow-fixture', version: '1.0.0' }), 'index.js': 'module.exports = 1;' });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let requested: () => void = () => undefined;
    const tarballRequested = new Promise<void>((resolve) => (requested = resolve));
    const slow = http.createServer((req, res) => {
      if (req.url === '/slow-fixture') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            name: 'slow-fixture',
            'dist-tags': { latest: '1.0.0' },
            versions: {
              '1.0.0': {
                name: 'slow-fixture',
                version: '1.0.0',
                dist: { integrity: integrityOf(tarball), shasum: shasumOf(tarball), tarball: `http://127.0.0.1:${(slow.address() as { port: number }).port}/slow-fixture/-/slow-fixture-1.0.0.tgz` },
              },
            },
          }),
        );
      } else if (req.url === '/slow-fixture/-/slow-fixture-1.0.0.tgz') {
        requested();
        void held.then(() => res.end(tarball));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const db = await createTestDatabase();
    const dataDir = tempDir('gk-shutdown-');
    const gk = await spawnGatekeeper({
      GATEKEEPER_DATABASE_URL: db.url,
      GATEKEEPER_DATA_DIR: dataDir,
      GATEKEEPER_PORT: '0',
      GATEKEEPER_UPSTREAM: `http://127.0.0.1:${(slow.address() as { port: number }).port}/`,
      GATEKEEPER_ADMIN_PASSWORD: 'admin-password-for-tests',
    });
    try {
      const token = await loginToken(gk.url, 'admin', 'admin-password-for-tests');
      await fetch(new URL('-/gatekeeper/v1/policy', gk.url), { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"mode":"open"}' });
      const download = fetch(new URL('slow-fixture/-/slow-fixture-1.0.0.tgz', gk.url)).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }));
      await tarballRequested;
      const exit = gk.stop('SIGTERM');
      release();
      const result = await download;
      expect(result.status).toBe(200);
      expect(result.body.equals(tarball)).toBe(true);
      expect(await exit).toBe(0);
    } finally {
      slow.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});


describe('the gatekeeper command writing into a closed pipe (gatekeeper explain … | head)', () => {
  it('exits quietly with 0 when the reader of its output has gone, instead of crashing on EPIPE', async () => {
    const proc = spawn(process.execPath, [path.join(REPO, 'bin/gatekeeper.js'), 'help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader goes away before the command writes: every write meets EPIPE.
    proc.stdout.destroy();
    let stderr = '';
    proc.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});

/**
 * The real gatekeeper command (bin/gatekeeper.js, from dist) against a real server and database:
 * what lower roles and the upstream write reaches an admin's terminal clean; flags the command
 * does not take, redirects and servers that are no gatekeeper are refused; the exit codes.
 */
describe('the gatekeeper command, hostile text, flags, redirects and exit codes', () => {
  const HOSTILE_LICENSE = 'MIT\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eTIM';
  const s = gatekeeperSuite({ packages: [{ name: 'cli-hostile', versions: [{ version: '1.0.0', license: HOSTILE_LICENSE }] }], policyMode: 'none', npm: false });
  let env: Record<string, string>;
  let devToken: string;

  /** The command as an admin runs it in a terminal: stdout and stderr together. */
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });
  /** Characters that act on a terminal, or reorder or hide text. */
  const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

  beforeAll(async () => {
    env = { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken, HOME: s.t.dataDir };
    expect((await s.t.api('POST', '/users', { username: 'devon', password: 'devon-password', role: 'developer' })).status).toBe(201);
    devToken = await loginToken(s.t.url, 'devon', 'devon-password');
  });

  it('prints a request whose reason and license forge a line, repaint or reorder as one clean line each', async () => {
    const reason = 'need it\nleft-pad  1  approved  admin  \u009b31mRED\u009b0m \u202eevil\u202c \u2028x';
    const filed = await s.t.api('POST', '/requests', { name: 'cli-hostile', range: '1.0.0', reason }, devToken);
    expect(filed.status).toBe(201);
    const id = String(filed.body.id);

    const shown = await cli(['requests', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.output).not.toMatch(UNSAFE);
    const lines = shown.output.split('\n');
    expect(lines.filter((l) => l.includes('approved  admin'))).toEqual(['  reason:  need it left-pad  1  approved  admin   31mRED 0m evil  x']);
    expect(lines.some((l) => l.startsWith('left-pad'))).toBe(false);
    expect(shown.output).toContain('MIT');

    const listed = await cli(['requests']);
    expect(listed.output).not.toMatch(UNSAFE);

    const audit = await cli(['audit', '--action', 'request.create']);
    expect(audit.code).toBe(0);
    expect(audit.output).not.toMatch(UNSAFE);
    expect(audit.output.split('\n')).toHaveLength(3); // the header, one entry, the final line break

    // --json: still JSON that parses to the stored values, with no raw character a terminal acts on.
    for (const args of [['requests', 'show', id, '--json'], ['audit', '--action', 'request.create', '--json']]) {
      const asJson = await cli(args);
      expect(asJson.output).not.toMatch(UNSAFE);
      expect(asJson.output).toContain('\\u009b31mRED\\u009b0m \\u202eevil\\u202c \\u2028x');
    }
    const view = JSON.parse((await cli(['requests', 'show', id, '--json'])).output) as { reason: string; checks: { versions: Array<{ license: string }> } };
    expect(view.reason).toBe(reason);
    expect(view.checks.versions[0].license).toBe((await s.t.api('GET', `/requests/${id}`)).body.checks.versions[0].license);
  });

  it('stores a request reason and comment through sanitizeText', async () => {
    // The admin API takes a carriage return; the stored text has none.
    const filed = await s.t.api('POST', '/requests', { name: 'cli-hostile', range: '^1.0.0', reason: 'line one\rforged line' }, devToken);
    expect(filed.status).toBe(201);
    expect(filed.body.reason).toBe('line one forged line');
    const rejected = await s.t.api('POST', `/requests/${filed.body.id}/reject`, { comment: 'no\rway' });
    expect(rejected.body.comment).toBe('no way');
  });

  it('refuses a flag the command does not take, before anything is sent (exit 2)', async () => {
    const typo = await cli(['approve', 'cli-hostile@1.0.0', '--expire', '30d', '--reason', 'typo-test']);
    expect(typo.code).toBe(2);
    expect(typo.output).toContain('gatekeeper approve: unknown flag --expire; did you mean --expires?\nusage: gatekeeper approve <name>[@range] [--reason R] [--expires 30d] [--allow-scripts]');
    expect((await s.t.api('GET', '/approvals?name=cli-hostile')).body.items).toEqual([]);

    const ban = await cli(['ban', 'cli-hostile', '--reason', 'r', '--advisry', 'https://advisories.example.test/1']);
    expect(ban.code).toBe(2);
    expect(ban.output).toContain('unknown flag --advisry; did you mean --advisory?');
    expect((await s.t.api('GET', '/bans?name=cli-hostile')).body.items).toEqual([]);

    const bogus = await cli(['approvals', '--bogusflag']);
    expect(bogus).toEqual({ code: 2, output: expect.stringContaining('unknown flag --bogusflag; this command takes --name N, --tag T, --json, --registry URL') });

    // The same command with the flag spelt right.
    const approved = await cli(['approve', 'cli-hostile@1.0.0', '--expires', '30d', '--reason', 'typo-test']);
    expect(approved.code).toBe(0);
    expect(approved.output).toMatch(/^approved cli-hostile@1\.0\.0 \(approval \d+, expires \S+\)\n$/);
  });

  it('exits 2 for input the server refuses as invalid, 1 for refusals of valid input', async () => {
    const expires = await cli(['approve', 'cli-hostile@1.0.0', '--expires', '5x']);
    expect(expires.code).toBe(2);
    expect(expires.output).toContain('[EVALIDATION]');
    for (const args of [['token', 'revoke', 'abc'], ['webhook', 'remove', 'abc'], ['approve', 'bad name!!']]) {
      const result = await cli(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
    }
    // Valid input the server refuses: a developer's admin call, a missing resource.
    expect((await cli(['bans'], { GATEKEEPER_TOKEN: devToken })).code).toBe(0);
    const forbidden = await cli(['ban', 'cli-hostile', '--reason', 'r'], { GATEKEEPER_TOKEN: devToken });
    expect(forbidden.code).toBe(1);
    expect(forbidden.output).toContain('[EFORBIDDEN]');
    const missing = await cli(['webhook', 'remove', '999999']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('[ENOTFOUND]');
  });

  it('explain without a version is a usage error naming <name>@<version>', async () => {
    const result = await cli(['explain', 'cli-hostile']);
    expect(result.code).toBe(2);
    expect(result.output).toContain("gatekeeper explain: 'cli-hostile' names no version: explain takes one version, <name>@<version> (e.g. cli-hostile@1.0.0)");
    expect(result.output).not.toContain("'*'");
  });

  it('says a server that answers 404 for the admin API is likely no gatekeeper, and what to set', async () => {
    const result = await cli(['bans'], { GATEKEEPER_URL: s.upstream.url });
    expect(result.code).toBe(2);
    const registry = s.upstream.url.replace(/\/?$/, '/');
    expect(result.output).toContain(`[ENOTGATEKEEPER] the server at ${registry} answered GET /-/gatekeeper/v1/bans with 404: it has no gatekeeper admin API, so it is likely not a gatekeeper`);
    expect(result.output).toContain('Set GATEKEEPER_URL (or --registry) to the address of the gatekeeper itself');
  });

  it('follows no redirect, so the token never reaches another port', async () => {
    const seen: Array<{ url?: string; authorization?: string }> = [];
    const target = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      res.end('{"items":[],"nextCursor":null}');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    const location = `http://127.0.0.1:${(target.address() as { port: number }).port}/x`;
    const redirector = http.createServer((_req, res) => {
      res.writeHead(302, { location });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(redirector.address() as { port: number }).port}/`;
    try {
      const result = await cli(['bans'], { GATEKEEPER_URL: url });
      expect(result.code).toBe(2);
      expect(result.output).toContain(`[EREDIRECT] the server at ${url} answered GET /-/gatekeeper/v1/bans with 302, a redirect to ${location}; the gatekeeper command follows no redirect`);
      expect(result.output).toContain('Set GATEKEEPER_URL (or --registry) to the address of the gatekeeper itself');
      expect(result.output).not.toContain('(none)');
      // Nor a password: login follows no redirect either (in-process, for its standard input).
      const io = captureIo();
      const login = await main(['login', '--registry', url, '--username', 'devon', '--password-stdin'], io, { HOME: s.t.dataDir, NPM_CONFIG_USERCONFIG: path.join(s.t.dataDir, 'redirect-npmrc') }, async () => 'devon-password\n');
      expect(login).toBe(2);
      expect(io.errText()).toContain('[EREDIRECT]');
      expect(seen).toEqual([]);
    } finally {
      target.close();
      redirector.close();
    }
  });
});

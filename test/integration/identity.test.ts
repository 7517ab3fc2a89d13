/**
 * Installing through the proxy, npm login, gatekeeper login, and the life of a token:
 * real Verdaccio, the real npm CLI, a real PostgreSQL database.
 */
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { ADMIN_PASSWORD, apiClient, loginToken, tempDir } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { captureIo } from '../support/cli';
import { whileLocked } from '../support/database';
import { gatekeeperSuite } from '../support/suite';

describe('a gatekeeper in open mode proxying a fixture upstream', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.2.0', license: 'MIT', dependencies: { 'dep-fixture': '^2.0.0' } }] },
      { name: 'dep-fixture', versions: [{ version: '2.1.0', license: 'ISC' }] },
      { name: '@acme/scoped-fixture', versions: [{ version: '0.3.0', license: 'MIT' }] },
    ],
  });

  it('reports every gate plugin loaded, the database and the upstream healthy', async () => {
    const health = await s.t.api('GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body.plugins.missing).toEqual([]);
    expect(health.body.plugins.loaded.sort()).toEqual(['gatekeeper-auth', 'gatekeeper-filter', 'gatekeeper-middleware', 'gatekeeper-storage']);
    expect(health.body.database).toMatchObject({ ok: true, kind: 'external' });
    expect(health.body.upstream).toMatchObject({ ok: true, url: s.upstream.url });
    expect(health.body.policy.ok).toBe(true);
  });

  it('installs a package and its dependency from the upstream through the proxy', async () => {
    const project = await makeProject(s.npm.dir, { name: 'consumer' });
    const result = await s.npm.run(['install', 'plain-fixture', '@acme/scoped-fixture'], { cwd: project });
    expect(result.code).toBe(0);
    const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/plain-fixture'].version).toBe('1.2.0');
    expect(lock.packages['node_modules/dep-fixture'].version).toBe('2.1.0');
    expect(lock.packages['node_modules/@acme/scoped-fixture'].version).toBe('0.3.0');
    expect(require(path.join(project, 'node_modules/plain-fixture'))).toBe('plain-fixture@1.2.0');
    // The tarballs came through the gatekeeper, which fetched them from the upstream.
    expect(s.upstream.requests.some((r) => r.url === '/plain-fixture/-/plain-fixture-1.2.0.tgz')).toBe(true);
    const body = (await (await fetch(new URL('plain-fixture', s.t.url))).json()) as any;
    expect(body.versions['1.2.0'].dist.tarball).toBe(`${s.t.url}plain-fixture/-/plain-fixture-1.2.0.tgz`);
  });

  it('serves the OpenAPI document listing every route', async () => {
    const doc = await s.t.api('GET', '/openapi.json', undefined, null);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.0.3');
    const operations = Object.values(doc.body.paths).flatMap((p: any) => Object.values(p).map((o: any) => o.operationId));
    expect(operations).toEqual(expect.arrayContaining(['get_health', 'create_user', 'delete_token', 'create_approval', 'list_audit', 'get_decision']));
    // What a route answers on success, and every way the API accepts a caller.
    const paths = doc.body.paths as Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
    expect(Object.keys(paths['/-/gatekeeper/v1/bans'].post.responses)).toEqual(['201', 'default']);
    expect(Object.keys(paths['/-/gatekeeper/v1/bans'].get.responses)).toEqual(['200', 'default']);
    expect(Object.keys(paths['/-/gatekeeper/v1/health'].get.responses)).toEqual(['200', '503', 'default']);
    expect(paths['/-/gatekeeper/v1/bans'].post.security).toEqual([{ bearer: [] }, { basic: [] }, { session: [] }]);
    expect(Object.keys(doc.body.components.securitySchemes)).toEqual(['bearer', 'basic', 'session']);
  });
});

describe('identity: users, npm login, tokens', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { requireAuth: true }, policyMode: 'none' });
  beforeAll(async () => {
    const created = await s.t.api('POST', '/users', { username: 'dev1', password: 'dev1-password', role: 'developer' });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('passwordHash');
    await s.t.api('POST', '/approvals', { name: 'plain-fixture', reason: 'test' });
  });

  it('stores passwords and tokens only as hashes', async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    const knex = s.t.gk.database.knex;
    const user = await knex('users').where({ username: 'dev1' }).first();
    expect(user.password_hash).toMatch(/^scrypt\$/);
    expect(user.password_hash).not.toContain('dev1-password');
    const tokens = await knex('tokens').select('token_hash');
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.map((r: { token_hash: string }) => r.token_hash)).not.toContain(token);
    expect(JSON.stringify(await knex('tokens').select('*'))).not.toContain(token);
  });

  it('npm login (legacy auth) yields a token npm stores and uses', async () => {
    const result = await s.npm.run(['login', '--auth-type=legacy'], {
      prompts: [
        { expect: 'Username:', send: 'dev1' },
        { expect: 'Password:', send: 'dev1-password' },
      ],
    });
    expect(result.output).toContain('Logged in');
    expect(result.code).toBe(0);
    const rc = fs.readFileSync(s.npm.userconfig, 'utf8');
    expect(rc).toMatch(/:_authToken=gk_/);
    const whoami = await s.npm.run(['whoami']);
    expect(whoami.stdout.trim()).toBe('dev1');
  });

  it('refuses anonymous installs when auth is required, and allows logged-in ones', async () => {
    const anonymous = await fetch(new URL('plain-fixture', s.t.url));
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).code).toBe('EUNAUTHENTICATED');
    const project = await makeProject(s.npm.dir, { name: 'authed' });
    const result = await s.npm.run(['install', 'plain-fixture'], { cwd: project });
    expect(result.code).toBe(0);
  });

  it('refuses a wrong password and an unknown user (self-registration off)', async () => {
    await expect(loginToken(s.t.url, 'dev1', 'wrong-password')).rejects.toThrow(/401.*EBADCREDENTIALS/);
    // An unknown user fails exactly like a wrong password (test/integration/login-throttle.test.ts).
    await expect(loginToken(s.t.url, 'stranger', 'whatever-password')).rejects.toThrow(/401.*EBADCREDENTIALS/);
  });

  it('gatekeeper login saves the token to the user config; whoami reads it', async () => {
    const home = tempDir('gk-cli-');
    const env = { NPM_CONFIG_USERCONFIG: path.join(home, 'npmrc'), PATH: process.env.PATH, HOME: home };
    const io = captureIo();
    const stdin = async () => 'dev1-password\n';
    const code = await main(['login', '--registry', s.t.url, '--username', 'dev1', '--password-stdin'], io, env, stdin);
    expect(io.errText()).toBe('');
    expect(code).toBe(0);
    expect(fs.readFileSync(env.NPM_CONFIG_USERCONFIG, 'utf8')).toMatch(new RegExp(`^//127\\.0\\.0\\.1:${s.t.gk.port}/:_authToken=gk_`, 'm'));
    const who = captureIo();
    expect(await main(['whoami', '--registry', s.t.url], who, env)).toBe(0);
    expect(who.outText()).toContain('dev1 (developer)');
  });

  it('a revoked token is refused on its next use', async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    const headers = { authorization: `Bearer ${token}` };
    expect((await fetch(new URL('plain-fixture', s.t.url), { headers })).status).toBe(200);
    const mine = await s.t.api('GET', '/tokens', undefined, token);
    const id = mine.body.items.find((i: { revokedAt: string | null; prefix: string }) => token.startsWith(i.prefix) && !i.revokedAt).id;
    expect((await s.t.api('DELETE', `/tokens/${id}`)).status).toBe(200);
    const refused = await fetch(new URL('plain-fixture', s.t.url), { headers });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as any).error).toMatch(/^\[ETOKENREVOKED\]/);
    const audit = await s.t.api('GET', '/audit?action=token.revoke');
    expect(audit.body.items[0].details.tokenId).toBe(id);
  });

  it('npm refuses to install with a revoked token, and says why', async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    await s.npm.setToken(token);
    const list = await s.t.api('GET', '/tokens?username=dev1');
    const id = list.body.items.find((i: { prefix: string; revokedAt: string | null }) => token.startsWith(i.prefix) && !i.revokedAt).id;
    await s.t.api('DELETE', `/tokens/${id}`);
    const project = await makeProject(s.npm.dir, { name: 'revoked' });
    const result = await s.npm.run(['install', 'plain-fixture', '--prefer-online'], { cwd: project });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('ETOKENREVOKED');
  });

  it('a disabled user is refused on the next request, and admins cannot disable the last admin', async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    const headers = { authorization: `Bearer ${token}` };
    expect((await fetch(new URL('plain-fixture', s.t.url), { headers })).status).toBe(200);
    expect((await s.t.api('PATCH', '/users/dev1', { disabled: true })).status).toBe(200);
    expect((await fetch(new URL('plain-fixture', s.t.url), { headers })).status).toBe(401);
    await expect(loginToken(s.t.url, 'dev1', 'dev1-password')).rejects.toThrow(/EUSERDISABLED/);
    expect((await s.t.api('PATCH', '/users/dev1', { disabled: false })).status).toBe(200);
    const last = await s.t.api('PATCH', '/users/admin', { disabled: true });
    expect(last.status).toBe(409);
    expect(last.body.code).toBe('ECONFLICT');
  });

  it('issues no token to a login whose password check passed just before the user was disabled: disabling revokes all, enabling restores none', async () => {
    expect((await s.t.api('POST', '/users', { username: 'racer', password: 'racer-password', role: 'developer' })).status).toBe(201);
    const knex = s.t.gk.database.knex;
    // The disabling holds the user's row: the login's password check reads the committed row (enabled) and passes, its token waits.
    const [login] = await whileLocked(
      knex,
      (trx) => trx('users').where({ username: 'racer' }).update({ disabled_at: new Date() }),
      () => [loginToken(s.t.url, 'racer', 'racer-password').then((token) => ({ token }), (err: Error) => ({ error: err.message }))],
    );
    expect(login).toEqual({ error: expect.stringMatching(/EUSERDISABLED/) });
    expect((await s.t.api('PATCH', '/users/racer', { disabled: false })).status).toBe(200);
    const tokens = (await s.t.api('GET', '/tokens?username=racer')).body.items as Array<{ revokedAt?: string | null }>;
    expect(tokens.filter((t) => !t.revokedAt)).toEqual([]);
  });

  it('applies a change of several parts whole or not at all: a refused part leaves the others as they were, unaudited', async () => {
    const audited = async () => ((await s.t.api('GET', '/audit?limit=500')).body.items as Array<{ action: string; details: { username?: string } }>).filter((e) => e.details.username === 'admin' && e.action.startsWith('user.')).length;
    const before = await audited();
    const users = async () => (await s.t.api('GET', '/users')).body.items;
    const listed = await users();
    // The last admin cannot be disabled: the password and role sent with it are not set either.
    for (const change of [{ password: 'taken-over-password', disabled: true }, { password: 'taken-over-password', role: 'admin', disabled: true }]) {
      const refused = await s.t.api('PATCH', '/users/admin', change);
      expect([refused.status, refused.body.code]).toEqual([409, 'ECONFLICT']);
    }
    await expect(loginToken(s.t.url, 'admin', 'taken-over-password')).rejects.toThrow(/EBADCREDENTIALS/);
    expect((await s.t.api('GET', '/whoami')).status).toBe(200);
    expect(await users()).toEqual(listed);
    expect(await audited()).toBe(before);
    // A change of several parts that passes applies them all, each audited.
    expect((await s.t.api('POST', '/users', { username: 'multi', password: 'multi-password', role: 'developer' })).status).toBe(201);
    const both = await s.t.api('PATCH', '/users/multi', { role: 'publisher', password: 'multi-new-password', disabled: true });
    expect([both.status, both.body.role, Boolean(both.body.disabledAt ?? both.body.disabled)]).toEqual([200, 'publisher', true]);
    const actions = ((await s.t.api('GET', '/audit?limit=500')).body.items as Array<{ action: string; details: { username?: string } }>).filter((e) => e.details.username === 'multi').map((e) => e.action);
    expect(actions.filter((a) => a !== 'user.create').sort()).toEqual(['user.disable', 'user.password', 'user.role']);
    expect((await s.t.api('PATCH', '/users/multi', { disabled: false })).status).toBe(200);
    expect(await loginToken(s.t.url, 'multi', 'multi-new-password')).toEqual(expect.any(String));
  });

  it('keeps one admin who can sign in: racing changes cannot both pass, and service accounts neither count nor become admins', async () => {
    expect((await s.t.api('POST', '/users', { username: 'admin2', password: 'admin2-password', role: 'admin' })).status).toBe(201);
    const second = await loginToken(s.t.url, 'admin2', 'admin2-password');
    const activeAdmins = async () => ((await s.t.api('GET', '/users')).body.items as Array<{ username: string; role: string; disabled?: boolean; disabledAt?: string | null; kind?: string }>)
      .filter((u) => u.role === 'admin' && !u.disabledAt && !u.disabled && u.kind !== 'service')
      .map((u) => u.username);
    for (let round = 0; round < 5; round++) {
      const [demoted, disabled] = await Promise.all([
        s.t.api('PATCH', '/users/admin2', { role: 'developer' }),
        s.t.api('PATCH', '/users/admin', { disabled: true }, second),
      ]);
      expect([demoted.status, disabled.status].filter((st) => st === 200)).toHaveLength(1);
      // The refused one: 409 when both were checked before either committed; 401 when admin was
      // disabled (which revokes its tokens) before its demotion was checked; 403 when admin2 was
      // demoted (no admin any more) before its disabling was checked.
      for (const refused of [demoted, disabled].filter((r) => r.status !== 200)) {
        expect([[401, 'EUSERDISABLED'], [401, 'ETOKENREVOKED'], [403, 'EFORBIDDEN'], [409, 'ECONFLICT']]).toContainEqual([refused.status, refused.body.code]);
      }
      // Each round ends with one admin who can undo it.
      if (demoted.status === 200) {
        expect(await activeAdmins()).toEqual(['admin']);
        expect((await s.t.api('PATCH', '/users/admin2', { role: 'admin' })).status).toBe(200);
      } else {
        expect((await s.t.api('GET', '/whoami', undefined, second)).body).toEqual({ username: 'admin2', role: 'admin' });
        expect((await s.t.api('PATCH', '/users/admin', { disabled: false }, second)).status).toBe(200);
        // Disabling revoked admin's tokens, and enabling brings none back: admin logs in again.
        expect((await s.t.api('GET', '/whoami')).body.code).toBe('ETOKENREVOKED');
        s.t.adminToken = await loginToken(s.t.url, 'admin', ADMIN_PASSWORD);
        s.t.api = apiClient(s.t.url, s.t.adminToken);
      }
    }
    const sa = await s.t.api('POST', '/service-accounts/ci-robot/tokens', { scope: 'read', expires: '1d' });
    expect(sa.status).toBe(201);
    const promoted = await s.t.api('PATCH', '/users/ci-robot', { role: 'admin' });
    expect([promoted.status, promoted.body.code]).toEqual([409, 'ECONFLICT']);
    expect(promoted.body.error).toMatch(/^\[ECONFLICT\] 'ci-robot' is a service account/);
    // admin2 demoted: admin is the last admin who can sign in, whatever service accounts exist.
    expect((await s.t.api('PATCH', '/users/admin2', { role: 'developer' })).status).toBe(200);
    const last = await s.t.api('PATCH', '/users/admin', { role: 'reader' });
    expect([last.status, last.body.code]).toEqual([409, 'ECONFLICT']);
    expect(await activeAdmins()).toEqual(['admin']);
  });

  it('gives every concurrent first token of a new service account a token, making the account once', async () => {
    // Several rounds: the losers of a round meet the winner's account at different steps (its
    // insert, or its commit between their lookup and their case-insensitive name check).
    for (let round = 0; round < 5; round++) {
      const name = `race-robot-${round}`;
      const answers = await Promise.all(Array.from({ length: 8 }, () => s.t.api('POST', `/service-accounts/${name}/tokens`, { scope: 'read', expires: '1d' })));
      expect({ name, statuses: answers.map((a) => a.status) }).toEqual({ name, statuses: new Array(8).fill(201) });
      expect(answers.filter((a) => a.body.created === true)).toHaveLength(1);
      expect(new Set(answers.map((a) => a.body.token)).size).toBe(8);
      const audit = await s.t.api('GET', '/audit?action=user.service_account&limit=500');
      expect(audit.body.items.filter((i: { details: { username: string } }) => i.details.username === name)).toHaveLength(1);
    }
  });

  it("records when a token was last used, written behind in one statement, without a write on the request's path", async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    const mine = async () => ((await s.t.api('GET', '/tokens?username=dev1')).body.items as Array<{ prefix: string; lastUsedAt: string | null }>).find((t) => token.startsWith(t.prefix));
    expect((await mine())?.lastUsedAt ?? null).toBeNull();
    const before = Date.now();
    for (let i = 0; i < 3; i++) expect((await fetch(new URL('plain-fixture', s.t.url), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Noted in memory only, until the periodic write.
    expect((await mine())?.lastUsedAt ?? null).toBeNull();
    const tokenUse = s.t.gk.runtime.identity.tokenUse!;
    expect(tokenUse.waiting).toBeGreaterThan(0);
    expect(await tokenUse.flush()).toBeGreaterThan(0);
    const used = Date.parse((await mine())?.lastUsedAt as string);
    expect(used).toBeGreaterThanOrEqual(before - 1000);
    expect(used).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('checks roles on every admin route', async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    const forbidden = await s.t.api('POST', '/users', { username: 'x1', password: 'x1-password', role: 'admin' }, token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual({ error: expect.stringMatching(/^\[EFORBIDDEN\] dev1 \(developer\) may not call create_user/), code: 'EFORBIDDEN' });
    expect((await s.t.api('GET', '/audit', undefined, token)).status).toBe(403);
    expect((await s.t.api('GET', '/users', undefined, null)).status).toBe(401);
    expect((await s.t.api('GET', '/whoami', undefined, token)).body).toEqual({ username: 'dev1', role: 'developer' });
  });

  it('rejects bad input with a clear 4xx and a stable code', async () => {
    const bad = await s.t.api('POST', '/users', { username: 'no spaces allowed', password: 'long-enough', role: 'developer' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('EVALIDATION');
    const role = await s.t.api('POST', '/users', { username: 'ok-name', password: 'long-enough', role: 'root' });
    expect(role.status).toBe(400);
    const dup = await s.t.api('POST', '/users', { username: 'dev1', password: 'long-enough', role: 'developer' });
    expect(dup.status).toBe(409);
    const raw = await fetch(new URL('-/gatekeeper/v1/users', s.t.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${s.t.adminToken}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as any).code).toBe('EVALIDATION');
  });

  it('keeps ADMIN_PASSWORD working for the bootstrap admin', async () => {
    expect(await loginToken(s.t.url, 'admin', ADMIN_PASSWORD)).toMatch(/^gk_/);
  });
});

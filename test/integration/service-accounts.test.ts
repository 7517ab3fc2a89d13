/**
 * Service accounts: CI users that are no IdP users, with tokens an admin creates (admin API and
 * `gatekeeper token create --service-account`), scoped to read or to publishing named scopes,
 * and expiring; both enforced on every request, the token cache's fast path included. Real
 * gatekeeper, PostgreSQL and the npm CLI.
 */
import { eventually } from '../support/assert';
import { loginToken } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { runGatekeeper } from '../support/cli';
import { publishDocument } from '../support/publish';
import { gatekeeperSuite } from '../support/suite';

describe('service accounts: scoped, expiring tokens', () => {
  const s = gatekeeperSuite({
    packages: [{ name: 'sa-dep', versions: [{ version: '1.0.0', license: 'MIT' }] }],
    settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }, { pattern: '@other/*', roles: ['publisher'] }] },
  });

  const publish = (name: string, version: string, token: string) =>
    fetch(new URL(name.replace('/', '%2f'), s.t.url), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(publishDocument(name, version)),
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as { code?: string; error?: string } }));

  it('a read token installs and cannot publish (ETOKENSCOPE); it is no password login', async () => {
    const created = await s.t.api('POST', '/service-accounts/ci-read/tokens', { scope: 'read', expires: '30d' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'ci-read', scope: 'read', created: true });
    expect(Date.parse(created.body.expiresAt)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const token = created.body.token as string;

    await s.npm.setToken(token);
    const install = await s.npm.run(['install', 'sa-dep@1.0.0'], { cwd: await makeProject(s.npm.dir, { name: 'sa-read' }) });
    expect({ code: install.code, output: install.output }).toMatchObject({ code: 0 });
    expect((await s.t.api('GET', '/whoami', undefined, token)).body).toEqual({ username: 'ci-read', role: 'reader' });

    const refused = await publish('@acme/from-read', '1.0.0', token);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('ETOKENSCOPE');
    expect(refused.body.error).toMatch(/read-only/);
    // The admin API only reads with it.
    expect(await s.t.api('POST', '/requests', { name: 'sa-dep', range: '1.0.0', reason: 'x' }, token)).toMatchObject({ status: 403, body: { code: 'ETOKENSCOPE' } });
    // Questions are no writes: CI's pre-flight (gatekeeper check) and the license report work with it; recording a project does not.
    const entries = [{ name: 'sa-dep', version: '1.0.0' }];
    expect(await s.t.api('POST', '/lockfile/check', { entries }, token)).toMatchObject({ status: 200 });
    expect(await s.t.api('POST', '/licenses/report', { entries }, token)).toMatchObject({ status: 200 });
    expect(await s.t.api('POST', '/lockfile/check', { entries, project: { name: 'ci-app', version: '1.0.0' } }, token)).toMatchObject({ status: 403, body: { code: 'ETOKENSCOPE' } });
    // No password: npm's password login fails like a wrong password.
    await expect(loginToken(s.t.url, 'ci-read', 'any-password-at-all')).rejects.toThrow(/401/);
    // npm token list shows it read-only.
    const listed = await s.t.api('GET', '/tokens?username=ci-read');
    expect(listed.body.items[0]).toMatchObject({ readonly: true, scope: 'read', createdFrom: 'service account' });
  });

  it("a scoped token neither makes nor revokes tokens through npm's token routes", async () => {
    const publishToken = (await s.t.api('POST', '/service-accounts/ci-two/tokens', { scope: 'publish:@acme', expires: '30d' })).body.token as string;
    const readToken = (await s.t.api('POST', '/service-accounts/ci-two/tokens', { scope: 'read', expires: '30d' })).body.token as string;
    const npmTokens = (method: string, path: string, token: string, body?: unknown) =>
      fetch(new URL(`-/npm/v1/tokens${path}`, s.t.url), { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const token of [readToken, publishToken]) {
      const other = token === readToken ? publishToken : readToken;
      const revoke = await npmTokens('DELETE', `/token/${encodeURIComponent(other)}`, token);
      expect({ status: revoke.status, code: ((await revoke.json()) as { code: string }).code }).toEqual({ status: 403, code: 'ETOKENSCOPE' });
      const create = await npmTokens('POST', '', token, { password: 'anything-at-all', name: 'x' });
      expect({ status: create.status, code: ((await create.json()) as { code: string }).code }).toEqual({ status: 403, code: 'ETOKENSCOPE' });
    }
    // Both still work.
    for (const token of [readToken, publishToken]) expect((await s.t.api('GET', '/whoami', undefined, token)).status).toBe(200);
  });

  it('a publish:@acme token publishes @acme names only; npm publish with it works', async () => {
    const { token } = (await s.t.api('POST', '/service-accounts/ci-publish/tokens', { scope: 'publish:@acme', expires: '7d' })).body as { token: string };
    expect((await publish('@acme/lib', '1.0.0', token)).status).toBe(201);
    const outside = await publish('@other/lib', '1.0.0', token);
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe('ETOKENSCOPE');
    expect(outside.body.error).toMatch(/may publish only in @acme, not @other\/lib/);
    // Both token-scope refusals are audited, with the account and the package.
    const audited = (await s.t.api('GET', '/audit?action=package.publish_refused')).body.items as Array<{ actor: string; package: string; details: { code: string } }>;
    expect(audited.map((e) => ({ actor: e.actor, package: e.package, code: e.details.code }))).toEqual(
      expect.arrayContaining([
        { actor: 'ci-read', package: '@acme/from-read', code: 'ETOKENSCOPE' },
        { actor: 'ci-publish', package: '@other/lib', code: 'ETOKENSCOPE' },
      ]),
    );

    const dir = await makeProject(s.npm.dir, { name: '@acme/cli-published', version: '1.0.0', license: 'MIT', private: false });
    await s.npm.setToken(token);
    const published = await s.npm.run(['publish'], { cwd: dir });
    expect({ code: published.code, output: published.output }).toMatchObject({ code: 0 });
    const other = await s.npm.run(['publish'], { cwd: await makeProject(s.npm.dir, { name: '@other/cli-published', version: '1.0.0', license: 'MIT', private: false }) });
    expect(other.code).not.toBe(0);
    expect(other.output).toContain('ETOKENSCOPE');
  });

  it('an expired token is refused on its next request, also after the token cache held it', async () => {
    const { token } = (await s.t.api('POST', '/service-accounts/ci-short/tokens', { scope: 'read', expires: '8s' })).body as { token: string; expiresAt: string };
    const read = () => fetch(new URL('sa-dep', s.t.url), { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    // Read twice: the second read is answered from the caches (the token cache holds it).
    expect((await read()).status).toBe(200);
    expect((await read()).status).toBe(200);
    const hitsBefore = s.t.gk.runtime.identity.tokenCache!.hits;
    expect((await read()).status).toBe(200);
    expect(s.t.gk.runtime.identity.tokenCache!.hits).toBeGreaterThan(hitsBefore);
    // No fixed sleep: once the expiry has passed, the next read is refused.
    await eventually(async () => (await read()).status === 401, 'the token to expire', 20_000);
    const expired = await read();
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { code: string }).code).toBe('ETOKENEXPIRED');
    expect(await s.t.api('GET', '/whoami', undefined, token)).toMatchObject({ status: 401, body: { code: 'ETOKENEXPIRED' } });
  });

  it('refuses bad input, a user name, and a token without expiry; every creation is audited', async () => {
    for (const [body, code] of [
      [{ scope: 'write', expires: '30d' }, 'EVALIDATION'],
      [{ scope: 'publish:acme', expires: '30d' }, 'EVALIDATION'],
      [{ scope: 'read' }, 'EVALIDATION'],
      [{ scope: 'read', expires: '500d' }, 'EVALIDATION'],
      [{ scope: 'read', expires: 'soon' }, 'EVALIDATION'],
    ] as const) {
      expect(await s.t.api('POST', '/service-accounts/ci-bad/tokens', body)).toMatchObject({ status: 400, body: { code } });
    }
    expect(await s.t.api('POST', '/service-accounts/admin/tokens', { scope: 'read', expires: '1d' })).toMatchObject({ status: 409, body: { code: 'ECONFLICT' } });
    // Only admins create them.
    const readToken = (await s.t.api('POST', '/service-accounts/ci-read/tokens', { scope: 'read', expires: '1d' })).body.token;
    expect(await s.t.api('POST', '/service-accounts/ci-x/tokens', { scope: 'read', expires: '1d' }, readToken)).toMatchObject({ status: 403 });

    const accounts = (await s.t.api('GET', '/audit?action=user.service_account')).body.items as Array<{ actor: string; details: { username: string } }>;
    expect(accounts.map((a) => a.details.username).sort()).toEqual(['ci-publish', 'ci-read', 'ci-short', 'ci-two']);
    const tokens = (await s.t.api('GET', '/audit?action=token.create')).body.items as Array<{ details: Record<string, unknown> }>;
    expect(tokens.filter((e) => e.details.createdFrom === 'service account').map((e) => e.details.scope)).toEqual(expect.arrayContaining(['read', 'publish:@acme']));
  });

  it('gatekeeper token create --service-account makes one from the CLI', async () => {
    const env = { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken };
    const result = await runGatekeeper(env, ['token', 'create', '--service-account', 'ci-cli', '--scope', 'publish:@acme,@tools', '--expires', '30d']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^created the service account ci-cli; token \d+, scope publish:@acme,@tools, expires \d{4}-/);
    const token = /^(gk_\S+)$/m.exec(result.out)?.[1];
    expect((await s.t.api('GET', '/whoami', undefined, token)).body).toEqual({ username: 'ci-cli', role: 'publisher' });
    const usage = await runGatekeeper(env, ['token', 'create', '--service-account', 'ci-cli']);
    expect(usage.code).not.toBe(0);
    expect(usage.err).toContain('--scope');
  });

  it("a publish token raising a reader service account to publisher is audited as user.role, once", async () => {
    const read = await s.t.api('POST', '/service-accounts/ci-z/tokens', { scope: 'read', expires: '1d' });
    expect(read.status).toBe(201);
    // Its read token is resolved (and cached) as a reader.
    expect((await s.t.api('GET', '/whoami', undefined, read.body.token)).body).toEqual({ username: 'ci-z', role: 'reader' });
    for (let i = 0; i < 2; i++) expect((await s.t.api('POST', '/service-accounts/ci-z/tokens', { scope: 'publish:@acme', expires: '1d' })).status).toBe(201);
    const roles = (await s.t.api('GET', '/audit?action=user.role')).body.items as Array<{ actor: string; details: Record<string, unknown> }>;
    expect(roles.filter((e) => e.details.username === 'ci-z').map((e) => ({ actor: e.actor, from: e.details.from, to: e.details.to }))).toEqual([{ actor: 'admin', from: 'reader', to: 'publisher' }]);
    // The role applies from the next request of every token of the account, the cached one included.
    expect((await s.t.api('GET', '/whoami', undefined, read.body.token)).body).toEqual({ username: 'ci-z', role: 'publisher' });
  });

  it("a scoped token gets the filtered document of a name outside its scope, not the write view's hidden versions", async () => {
    expect((await s.t.api('POST', '/users', { username: 'olga', password: 'olga-password', role: 'publisher' })).status).toBe(201);
    const olga = await loginToken(s.t.url, 'olga', 'olga-password');
    for (const version of ['1.0.0', '1.0.1']) expect((await publish('@other/hidden', version, olga)).status).toBe(201);
    expect((await s.t.api('POST', '/bans', { name: '@other/hidden', range: '1.0.1', reason: 'banned for the scope test' })).status).toBe(201);
    const versions = async (token: string) =>
      Object.keys(((await (await fetch(new URL('@other%2fhidden?write=true', s.t.url), { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } })).json()) as { versions: object }).versions);
    // Its publisher may write it: the write view, every version.
    expect(await versions(olga)).toEqual(['1.0.0', '1.0.1']);
    for (const scope of ['publish:@acme', 'read']) {
      const { token } = (await s.t.api('POST', '/service-accounts/ci-scope-view/tokens', { scope, expires: '1d' })).body as { token: string };
      expect([scope, await versions(token)]).toEqual([scope, ['1.0.0']]);
    }
  });
});

/**
 * Single sign-on with a real OpenID Provider (oidc-provider in its own process, with users in
 * two groups and a groups claim), a real gatekeeper (PostgreSQL, Verdaccio) and the real npm
 * CLI: `npm login --auth-type=web` prints the loginUrl, an HTTP client follows it through the
 * IdP's login and consent forms, and npm receives its token from the doneUrl.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { startFixtureRegistry } from '../support/fixture-registry';
import { apiClient, tempDir, TestGatekeeper } from '../support/gatekeeper';
import { createTestDatabase } from '../support/database';
import { createNpmEnv, resolveNpmCli } from '../support/npm';
import { browse, CookieJar, startTestIdp, TestIdp } from '../support/oidc';
import { REPO, spawnGatekeeper } from '../support/process';
import { gatekeeperSuite } from '../support/suite';

const CLIENTS_DIR = path.join(REPO, 'test/clients/node_modules');
const CLIENT = { clientId: 'gatekeeper', clientSecret: 'a-client-secret-for-the-tests-only' };
const CALLBACK = '-/v1/login/sso/callback';

const NPMS: Array<{ id: string; cli: string }> = [
  { id: 'npm (the machine’s)', cli: resolveNpmCli() ?? 'npm' },
  { id: 'npm 9', cli: path.join(CLIENTS_DIR, 'npm9/bin/npm-cli.js') },
  { id: 'npm 10', cli: path.join(CLIENTS_DIR, 'npm10/bin/npm-cli.js') },
];

const ssoSettings = (idp: TestIdp) => ({
  ssoIssuer: idp.issuer,
  ssoClientId: CLIENT.clientId,
  ssoClientSecret: CLIENT.clientSecret,
  ssoName: 'Test IdP',
  ssoScopes: 'openid profile email groups',
  ssoAdminGroups: ['gk-admins'],
  ssoPublisherGroups: ['gk-publishers'],
  ssoReaderGroups: ['gk-readers'],
  ssoRefuseUnmapped: true,
});

async function auditOf(t: TestGatekeeper, action: string): Promise<Array<{ actor: string; details: Record<string, any> }>> {
  const res = await t.api('GET', `/audit?action=${encodeURIComponent(action)}&limit=100`);
  expect(res.status).toBe(200);
  return res.body.items;
}

async function sql<T = any>(t: TestGatekeeper, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** `POST /-/v1/login` as npm sends it. */
async function startWebLogin(url: string): Promise<{ loginUrl: string; doneUrl: string }> {
  const res = await fetch(new URL('-/v1/login', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(200);
  return (await res.json()) as { loginUrl: string; doneUrl: string };
}

/** Opens a loginUrl and confirms it on its page, as a person would: the answer of the confirmation (to the IdP). */
async function confirmLogin(loginUrl: string): Promise<Response> {
  const page = await fetch(loginUrl, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  expect(action).toBeDefined();
  const cookie = page.headers.getSetCookie().find((c) => c.startsWith('gk_sso_confirm='))!.split(';')[0];
  return fetch(new URL(action!, loginUrl), { method: 'POST', headers: { cookie }, redirect: 'manual' });
}

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

describe('single sign-on through a real OpenID Provider', () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp();
  });

  const s = gatekeeperSuite({ settings: () => ssoSettings(idp), policyMode: 'none', npm: false });

  beforeAll(async () => {
    await idp.setup({ ...CLIENT, redirectUris: [new URL(CALLBACK, s.t.url).toString()] });
    await idp.user('alice-sub', { username: 'alice', password: 'alice-pw', email: 'alice@example.test', groups: ['gk-publishers'] });
    await idp.user('bob-sub', { username: 'bob', password: 'bob-pw', email: 'bob@example.test', groups: ['gk-readers'] });
    await idp.user('carol-sub', { username: 'carol', password: 'carol-pw', email: 'carol@example.test', groups: ['marketing'] });
  });

  afterAll(async () => {
    await idp?.close();
  });

  /**
   * `npm login --auth-type=web` with one npm: its printed loginUrl is followed through the
   * IdP's forms while npm polls the doneUrl; returns npm's result and the token it saved.
   */
  async function npmWebLogin(cli: string, user: { username: string; password: string }) {
    const npm = await createNpmEnv(s.t.url);
    let printed = '';
    let browsed: Promise<Awaited<ReturnType<typeof browse>>> | undefined;
    const result = await npm.run(['login', '--auth-type=web', '--registry', s.t.url], {
      cli,
      env: { npm_config_browser: 'false' },
      timeoutMs: 60_000,
      onStdout: (chunk) => {
        printed += chunk;
        const url = /(http:\/\/\S+\/-\/v1\/login\/sso\/start\/[A-Za-z0-9_-]+)/.exec(printed)?.[1];
        if (url && !browsed) browsed = browse(url, user);
      },
    });
    const browser = await browsed;
    const npmrc = fs.readFileSync(npm.userconfig, 'utf8');
    const token = /:_authToken=(\S+)/.exec(npmrc)?.[1];
    return { npm, result, browser, token };
  }

  for (const client of NPMS) {
    it(`${client.id}: npm login --auth-type=web signs in through the IdP; the token works with the group's role`, async () => {
      if (!fs.existsSync(client.cli)) throw new Error(`${client.cli} is missing: run npm ci --prefix test/clients`);
      const { npm, result, browser, token } = await npmWebLogin(client.cli, { username: 'alice', password: 'alice-pw' });
      try {
        expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
        // The loginUrl was the gatekeeper's, led through the IdP, and ended on our page.
        expect(browser?.steps[0].url.startsWith(s.t.url)).toBe(true);
        expect(browser?.steps.some((s) => s.url.startsWith(idp.url))).toBe(true);
        expect(browser?.last).toMatchObject({ status: 200 });
        expect(browser?.last.body).toContain('signed in as <strong>alice</strong> (publisher)');
        expect(token).toMatch(/^gk_/);
        const who = await npm.run(['whoami']);
        expect(who.stdout.trim()).toBe('alice');
        expect((await s.t.api('GET', '/whoami', undefined, token)).body).toEqual({ username: 'alice', role: 'publisher' });
      } finally {
        await npm.cleanup();
      }
    });
  }

  it('audits the sign-in and the token issued through web login', async () => {
    const signIns = await auditOf(s.t, 'user.sso_sign_in');
    expect(signIns.some((e) => e.details.username === 'alice' && e.details.role === 'publisher' && e.details.kind === 'npm')).toBe(true);
    const tokens = await auditOf(s.t, 'token.create');
    expect(tokens.some((e) => e.details.username === 'alice' && e.details.createdFrom === 'npm web login')).toBe(true);
    // No IdP token is stored: the login rows hold hashes and the nonce only.
    const columns = await sql(s.t, "select column_name from information_schema.columns where table_name = 'sso_logins' order by 1");
    expect(columns.map((c) => c.column_name)).toEqual([
      'client_ip', 'created_at', 'done_hash', 'expires_at', 'id', 'kind', 'login_hash', 'next_path', 'nonce', 'refusal', 'state_hash', 'status', 'user_id', 'verifier_hash',
    ]);
  });

  it('refuses a user in no mapped group (sso_refuse_unmapped), in the browser, at the doneUrl and in the audit', async () => {
    const { loginUrl, doneUrl } = await startWebLogin(s.t.url);
    const browser = await browse(loginUrl, { username: 'carol', password: 'carol-pw' });
    expect(browser.last.status).toBe(403);
    expect(JSON.parse(browser.last.body)).toMatchObject({ code: 'ESSOREFUSED' });
    expect(JSON.parse(browser.last.body).error).toMatch(/^\[ESSOREFUSED\] carol is in no group that gives a role here \(groups: marketing\)/);
    const done = await getJson(doneUrl);
    expect(done).toMatchObject({ status: 403, body: { code: 'ESSOREFUSED' } });
    expect((await s.t.api('GET', '/users')).body.items.map((u: { username: string }) => u.username)).not.toContain('carol');
    const refused = await auditOf(s.t, 'user.sso_refused');
    expect(refused.some((e) => e.details.code === 'ESSOREFUSED' && /carol/.test(e.details.reason))).toBe(true);
  });

  it('npm login --auth-type=web fails for the refused user', async () => {
    const { result, token } = await npmWebLogin(NPMS[0].cli, { username: 'carol', password: 'carol-pw' });
    expect(result.code).not.toBe(0);
    expect(token).toBeUndefined();
    // npm prints the reason from the doneUrl's npm-notice header (then falls back to its password prompt).
    expect(result.output).toContain('npm notice gatekeeper: [ESSOREFUSED] carol is in no group that gives a role here');
  });

  /** A web login over HTTP (what npm does), returning the token. */
  async function httpWebLogin(user: { username: string; password: string }): Promise<string> {
    const { loginUrl, doneUrl } = await startWebLogin(s.t.url);
    const pending = await getJson(doneUrl);
    expect(pending.status).toBe(202);
    expect(Number(pending.headers.get('retry-after'))).toBeGreaterThan(0);
    const browser = await browse(loginUrl, user);
    expect(browser.last.status).toBe(200);
    // The done page cannot be framed either.
    expect(browser.last.headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    expect(browser.last.headers.get('x-frame-options')).toBe('DENY');
    const done = await getJson(doneUrl);
    expect(done.status).toBe(200);
    return done.body.token;
  }

  it("moving a user to another group changes the role at the next sign-in; a demotion revokes the user's tokens", async () => {
    await idp.user('bob-sub', { username: 'bob', password: 'bob-pw', email: 'bob@example.test', groups: ['gk-readers'] });
    const readerToken = await httpWebLogin({ username: 'bob', password: 'bob-pw' });
    expect((await s.t.api('GET', '/whoami', undefined, readerToken)).body).toEqual({ username: 'bob', role: 'reader' });

    // Promoted: the role follows, the old token stays (and now acts as an admin).
    await idp.user('bob-sub', { username: 'bob', password: 'bob-pw', email: 'bob@example.test', groups: ['gk-admins', 'gk-readers'] });
    const adminToken = await httpWebLogin({ username: 'bob', password: 'bob-pw' });
    expect((await s.t.api('GET', '/whoami', undefined, adminToken)).body).toEqual({ username: 'bob', role: 'admin' });
    expect((await s.t.api('GET', '/whoami', undefined, readerToken)).body).toEqual({ username: 'bob', role: 'admin' });

    // Demoted: every token of bob's is revoked at the sign-in that shows it; the new one works.
    await idp.user('bob-sub', { username: 'bob', password: 'bob-pw', email: 'bob@example.test', groups: ['gk-publishers'] });
    const publisherToken = await httpWebLogin({ username: 'bob', password: 'bob-pw' });
    expect((await s.t.api('GET', '/whoami', undefined, publisherToken)).body).toEqual({ username: 'bob', role: 'publisher' });
    for (const old of [readerToken, adminToken]) {
      const refused = await s.t.api('GET', '/whoami', undefined, old);
      expect(refused).toMatchObject({ status: 401, body: { code: 'ETOKENREVOKED' } });
    }
    const roles = await auditOf(s.t, 'user.sso_role');
    expect(roles.filter((e) => e.details.username === 'bob').map((e) => [e.details.from, e.details.to, e.details.revokedTokens])).toEqual([
      ['admin', 'publisher', 2],
      ['reader', 'admin', 0],
    ]);
    const revoked = await auditOf(s.t, 'token.revoke');
    expect(revoked.filter((e) => e.details.username === 'bob' && /demoted at an SSO sign-in/.test(e.details.reason))).toHaveLength(2);
    // An admin can revoke too (the existing route).
    const tokens = (await s.t.api('GET', '/tokens?username=bob')).body.items as Array<{ id: number; revokedAt: string | null }>;
    const live = tokens.find((x) => !x.revokedAt)!;
    expect((await s.t.api('DELETE', `/tokens/${live.id}`)).status).toBe(200);
    expect(await s.t.api('GET', '/whoami', undefined, publisherToken)).toMatchObject({ status: 401, body: { code: 'ETOKENREVOKED' } });
  });

  it('a doneUrl gives its token once; the loginUrl cannot be used again', async () => {
    const { loginUrl, doneUrl } = await startWebLogin(s.t.url);
    await browse(loginUrl, { username: 'alice', password: 'alice-pw' });
    const first = await getJson(doneUrl);
    expect(first.status).toBe(200);
    const replay = await getJson(doneUrl);
    expect(replay).toMatchObject({ status: 410, body: { code: 'ELOGINSESSION' } });
    const again = await fetch(loginUrl, { redirect: 'manual' });
    expect(again.status).toBe(410);
    expect(((await again.json()) as { code: string }).code).toBe('ELOGINSESSION');
    // A made-up doneUrl is no login either.
    expect(await getJson(new URL('-/v1/login/done/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', s.t.url).toString())).toMatchObject({ status: 410, body: { code: 'ELOGINSESSION' } });
  });

  it('an expired login session is refused at the loginUrl and at the doneUrl', async () => {
    const { loginUrl, doneUrl } = await startWebLogin(s.t.url);
    // Its lifetime (sso_login_ttl) passes: the database's clock decides.
    await sql(s.t, "update sso_logins set expires_at = now() - interval '1 second' where status = 'pending'");
    const start = await fetch(loginUrl, { redirect: 'manual' });
    expect(start.status).toBe(410);
    expect(((await start.json()) as { error: string }).error).toMatch(/^\[ELOGINSESSION\] this login has expired/);
    expect(await getJson(doneUrl)).toMatchObject({ status: 410, body: { code: 'ELOGINSESSION' } });

    // Expiring between the browser's sign-in and npm's fetch: no token either.
    const second = await startWebLogin(s.t.url);
    const browser = await browse(second.loginUrl, { username: 'alice', password: 'alice-pw' });
    expect(browser.last.status).toBe(200);
    await sql(s.t, "update sso_logins set expires_at = now() - interval '1 second' where status = 'done'");
    expect(await getJson(second.doneUrl)).toMatchObject({ status: 410, body: { code: 'ELOGINSESSION' } });
  });

  it('builds loginUrl and doneUrl from its own address, never from the Host header', async () => {
    const res = await fetch(new URL('-/v1/login', s.t.url), { method: 'POST', headers: { 'content-type': 'application/json', host: 'evil.example', 'x-forwarded-host': 'evil.example' }, body: '{}' });
    const body = (await res.json()) as { loginUrl: string; doneUrl: string };
    expect(new URL(body.loginUrl).origin).toBe(new URL(s.t.url).origin);
    expect(new URL(body.doneUrl).origin).toBe(new URL(s.t.url).origin);
    // The IdP is asked to send the browser back to the configured redirect URI, with PKCE (S256).
    const start = await confirmLogin(body.loginUrl);
    expect(start.status).toBe(302);
    const location = new URL(start.headers.get('location')!);
    expect(location.origin).toBe(idp.url);
    expect(location.searchParams.get('redirect_uri')).toBe(new URL(CALLBACK, s.t.url).toString());
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith('gk_sso='))!;
    expect(cookie).toMatch(/; Path=\/-\/v1\/login\/sso\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  });

  it("the loginUrl asks the person to confirm that they ran npm login; another site's form cannot confirm it", async () => {
    const { loginUrl } = await startWebLogin(s.t.url);
    const page = await fetch(loginUrl);
    const html = await page.text();
    expect(html).toContain('An <code>npm login</code> asked to log in at');
    expect(html).toMatch(/from (::ffff:)?127\.0\.0\.1/);
    expect(html).toContain('Continue with Test IdP');
    // No other site may frame it (and overlay its button), as with the console's pages.
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.getSetCookie().find((c) => c.startsWith('gk_sso_confirm='))).toMatch(/; HttpOnly; SameSite=Strict$/);
    const action = new URL(/<form method="post" action="([^"]+)">/.exec(html)![1], loginUrl);
    // Without the page's cookie (a cross-site form sends none), or without the value, refused.
    const noCookie = await fetch(action, { method: 'POST', redirect: 'manual' });
    expect(noCookie.status).toBe(401);
    expect(((await noCookie.json()) as { code: string }).code).toBe('ESSOINVALID');
    const cookie = page.headers.getSetCookie().find((c) => c.startsWith('gk_sso_confirm='))!.split(';')[0];
    const noValue = await fetch(new URL(action.pathname, loginUrl), { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(noValue.status).toBe(401);
    // A value as long in characters as the cookie's but longer in bytes: refused, not a 500.
    const wide = new URL(action.pathname, loginUrl);
    wide.searchParams.set('confirm', `é${'a'.repeat(cookie.split('=')[1].length - 1)}`);
    const wideRes = await fetch(wide, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect([wideRes.status, ((await wideRes.json()) as { code: string }).code]).toEqual([401, 'ESSOINVALID']);
    const confirmed = await fetch(action, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(confirmed.status).toBe(302);
  });

  it('ignores a stale token npm still sends with POST /-/v1/login', async () => {
    const res = await fetch(new URL('-/v1/login', s.t.url), { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer gk_revoked-or-unknown' }, body: '{}' });
    expect(res.status).toBe(200);
  });

  it('never links an IdP user to a local user of the same name, and refuses a disabled SSO user', async () => {
    // An IdP account whose username is "admin" must not become our admin.
    await idp.user('mallory-sub', { username: 'admin', password: 'mallory-pw', groups: ['gk-readers'] });
    const { loginUrl } = await startWebLogin(s.t.url);
    const taken = await browse(loginUrl, { username: 'admin', password: 'mallory-pw' });
    expect(taken.last.status).toBe(403);
    expect(JSON.parse(taken.last.body).error).toMatch(/^\[ESSOREFUSED\] the username 'admin' belongs to another user here/);
    expect((await s.t.api('GET', '/whoami')).body).toEqual({ username: 'admin', role: 'admin' });
    // Nor to one whose name differs only in case (the IdP's usernames are lower-cased).
    expect((await s.t.api('POST', '/users', { username: 'Casey', password: 'casey-password', role: 'reader' })).status).toBe(201);
    await idp.user('casey-sub', { username: 'casey', password: 'casey-pw', groups: ['gk-readers'] });
    const clash = await browse((await startWebLogin(s.t.url)).loginUrl, { username: 'casey', password: 'casey-pw' });
    expect(clash.last.status).toBe(403);
    expect(JSON.parse(clash.last.body).error).toMatch(/^\[ESSOREFUSED\] the username 'casey' belongs to another user here/);

    await idp.user('dave-sub', { username: 'dave', password: 'dave-pw', groups: ['gk-readers'] });
    await httpWebLogin({ username: 'dave', password: 'dave-pw' });
    expect((await s.t.api('PATCH', '/users/dave', { disabled: true })).status).toBe(200);
    const again = await startWebLogin(s.t.url);
    const refused = await browse(again.loginUrl, { username: 'dave', password: 'dave-pw' });
    expect(refused.last.status).toBe(403);
    expect(JSON.parse(refused.last.body).error).toMatch(/^\[ESSOREFUSED\] the user 'dave' is disabled here/);
  });

  it("tells the console's sign-in page to offer the IdP beside the password form", async () => {
    const res = await s.t.api('GET', '/sign-in', undefined, null);
    expect(res).toMatchObject({ status: 200, body: { password: true, sso: { name: 'Test IdP', url: '/-/v1/login/sso/console' } } });
  });

  describe('security checks', () => {
    /** Runs a sign-in up to the IdP's redirect back, without making that request. */
    async function upToCallback(user = { username: 'alice', password: 'alice-pw' }) {
      const { loginUrl, doneUrl } = await startWebLogin(s.t.url);
      const jar = new CookieJar();
      const run = await browse(loginUrl, user, { jar, stopAt: (u) => u.startsWith(new URL(CALLBACK, s.t.url).toString()) });
      expect(run.stoppedAt).toBeDefined();
      return { callback: run.stoppedAt!, jar, doneUrl };
    }
    const callWith = async (url: string, cookie?: string) => {
      const res = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
      return { status: res.status, body: (await res.json()) as { code: string; error: string } };
    };

    it('a bad state is refused (ESSOINVALID) and counts against the login throttle', async () => {
      const { callback, jar } = await upToCallback();
      // Earlier refusals in this file count against the same address: only the growth is this test's.
      const attempts = async () => Number((await sql(s.t, "select coalesce(sum(attempts), 0) as n from login_throttle where scope = 'address'"))[0].n);
      const before = await attempts();
      const url = new URL(callback);
      url.searchParams.set('state', 'x'.repeat(43));
      const refused = await callWith(url.toString(), jar.header(callback));
      expect(refused).toMatchObject({ status: 401, body: { code: 'ESSOINVALID' } });
      expect(refused.body.error).toMatch(/state is unknown or was used already/);
      const noState = new URL(callback);
      noState.searchParams.delete('state');
      expect(await callWith(noState.toString(), jar.header(callback))).toMatchObject({ status: 401, body: { code: 'ESSOINVALID' } });
      expect((await attempts()) - before).toBe(2);
    });

    it('a missing PKCE verifier is refused (ESSOINVALID), and the state is used up by it', async () => {
      const { callback, jar, doneUrl } = await upToCallback();
      const withoutVerifier = await callWith(callback, undefined);
      expect(withoutVerifier).toMatchObject({ status: 401, body: { code: 'ESSOINVALID' } });
      expect(withoutVerifier.body.error).toMatch(/PKCE verifier of this sign-in is missing/);
      // The same callback again, now with the verifier: the state was used up.
      const replay = await callWith(callback, jar.header(callback));
      expect(replay).toMatchObject({ status: 401, body: { code: 'ESSOINVALID' } });
      expect(await getJson(doneUrl)).toMatchObject({ status: 403, body: { code: 'ESSOREFUSED' } });
    });

    it("the IdP's own refusal (error=access_denied) is passed on as ESSOREFUSED", async () => {
      const { callback, jar, doneUrl } = await upToCallback();
      const url = new URL(callback);
      url.searchParams.delete('code');
      url.searchParams.set('error', 'access_denied');
      url.searchParams.set('error_description', 'the user said no');
      const refused = await callWith(url.toString(), jar.header(callback));
      expect(refused).toMatchObject({ status: 403, body: { code: 'ESSOREFUSED' } });
      expect(refused.body.error).toContain('the identity provider refused the sign-in: access_denied (the user said no)');
      expect(await getJson(doneUrl)).toMatchObject({ status: 403, body: { code: 'ESSOREFUSED' } });
    });

    it("another sign-in's verifier is refused: the browser that finishes must be the one that started", async () => {
      const first = await upToCallback();
      const second = await upToCallback();
      const refused = await callWith(second.callback, first.jar.header(first.callback));
      expect(refused).toMatchObject({ status: 401, body: { code: 'ESSOINVALID' } });
    });

    it('a wrong PKCE verifier is refused by the IdP at the code exchange (ESSOINVALID)', async () => {
      const { callback } = await upToCallback();
      // The row's verifier hash is made to match another verifier than the one the challenge was made from.
      const forged = 'f'.repeat(43);
      const hash = require('node:crypto').createHash('sha256').update(forged).digest('hex');
      await sql(s.t, "update sso_logins set verifier_hash = $1 where status = 'started' and kind = 'npm' and id = (select max(id) from sso_logins)", [hash]);
      const refused = await callWith(callback, `gk_sso=${forged}`);
      expect(refused).toMatchObject({ status: 401, body: { code: 'ESSOINVALID' } });
      expect(refused.body.error).toMatch(/refused the code exchange: invalid_grant/);
    });
  });
});

describe('single sign-on behind an https public URL: the sign-in cookies are __Host- cookies', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  const s = gatekeeperSuite({ settings: () => ({ ...ssoSettings(idp), publicUrl: 'https://registry.example/' }), policyMode: 'none', npm: false });
  beforeAll(async () => {
    await idp.setup({ ...CLIENT, redirectUris: ['https://registry.example/-/v1/login/sso/callback'] });
  });
  afterAll(async () => {
    await idp?.close();
  });

  /** The loginUrl's confirmation, as the browser at the public URL gets it (reached here directly). */
  async function confirmPage() {
    const { loginUrl } = await startWebLogin(s.t.url);
    const local = new URL(new URL(loginUrl).pathname, s.t.url);
    const page = await fetch(local, { redirect: 'manual' });
    const html = await page.text();
    const action = new URL(/<form method="post" action="([^"]+)">/.exec(html)![1], local);
    return { set: page.headers.getSetCookie(), action };
  }

  it('no sibling subdomain, other port or plain-HTTP page can plant the verifier or the confirmation: only __Host- names are read', async () => {
    const first = await confirmPage();
    expect(first.set).toEqual([expect.stringMatching(/^__Host-gk_sso_confirm=[A-Za-z0-9_-]{43,}; Path=\/; Secure; Max-Age=\d+; HttpOnly; SameSite=Strict$/)]);
    const confirmValue = first.set[0].slice('__Host-gk_sso_confirm='.length, first.set[0].indexOf(';'));
    // The same value under the plain name (a cookie another page of the parent domain could set) is not read.
    const planted = await fetch(first.action, { method: 'POST', headers: { cookie: `gk_sso_confirm=${confirmValue}` }, redirect: 'manual' });
    expect([planted.status, ((await planted.json()) as { code: string }).code]).toEqual([401, 'ESSOINVALID']);
    const confirmed = await fetch(first.action, { method: 'POST', headers: { cookie: `__Host-gk_sso_confirm=${confirmValue}` }, redirect: 'manual' });
    expect(confirmed.status).toBe(302);
    const verifier = confirmed.headers.getSetCookie().find((c) => c.startsWith('__Host-gk_sso='))!;
    expect(verifier).toMatch(/^__Host-gk_sso=[A-Za-z0-9_-]{43,}; Path=\/; Secure; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    const state = new URL(confirmed.headers.get('location')!).searchParams.get('state')!;
    // The verifier under the plain name (planted by an attacker with the attacker's own): the callback finds none.
    const callback = new URL(`${CALLBACK}?code=any&state=${state}`, s.t.url);
    const value = verifier.slice('__Host-gk_sso='.length, verifier.indexOf(';'));
    const refused = await fetch(callback, { headers: { cookie: `gk_sso=${value}` }, redirect: 'manual' });
    const body = (await refused.json()) as { code: string; error: string };
    expect([refused.status, body.code]).toEqual([401, 'ESSOINVALID']);
    expect(body.error).toMatch(/the PKCE verifier of this sign-in is missing/);
  });
});

describe('single sign-on with a provider whose discovery names another issuer, password login off', () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ OIDC_ISSUER_PATH: '/another-issuer' });
  });

  const s = gatekeeperSuite({
    settings: () => ({ ...ssoSettings(idp), ssoIssuer: idp.url, passwordLogin: false, loginMaxFailuresPerAddress: 3 }),
    policyMode: 'none',
    npm: false,
  });

  beforeAll(async () => {
    await idp.setup({ ...CLIENT, redirectUris: [new URL(CALLBACK, s.t.url).toString()] });
    await idp.user('alice-sub', { username: 'alice', password: 'alice-pw', groups: ['gk-publishers'] });
  });

  afterAll(async () => {
    await idp?.close();
  });

  it('refuses to send anyone to an IdP whose discovery document names another issuer (ESSOUNAVAILABLE)', async () => {
    const { loginUrl } = await startWebLogin(s.t.url);
    const res = await confirmLogin(loginUrl);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { code: string; error: string };
    expect(body.code).toBe('ESSOUNAVAILABLE');
    expect(body.error).toContain(`names the issuer '${idp.issuer}', not the configured '${idp.url}'`);
  });

  it('throttles an address whose callbacks keep failing (429 ETOOMANYATTEMPTS, before any check)', async () => {
    const callback = (state: string) => fetch(new URL(`${CALLBACK}?code=x&state=${state}`, s.t.url));
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await callback(`${'s'.repeat(42)}${i}`);
      codes.push(`${res.status} ${((await res.json()) as { code: string }).code}`);
    }
    expect(codes).toEqual(['401 ESSOINVALID', '401 ESSOINVALID', '401 ESSOINVALID', '429 ETOOMANYATTEMPTS']);
  });

  it('limits the logins one address may have open at once (429 ETOOMANYREQUESTS)', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 101; i++) {
      const res = await fetch(new URL('-/v1/login', s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      answers.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(((await res.json()) as { code: string }).code).toBe('ETOOMANYREQUESTS');
      } else await res.arrayBuffer();
    }
    // The earlier test here left one login open.
    expect(answers.filter((s) => s === 200)).toHaveLength(99);
    expect(answers.slice(99)).toEqual([429, 429]);
  });

  it('the console offers the IdP only, when password login is off', async () => {
    const res = await fetch(new URL('-/gatekeeper/v1/sign-in', s.t.url));
    expect(await res.json()).toEqual({ password: false, sso: { name: 'Test IdP', url: '/-/v1/login/sso/console' } });
  });

  it('refuses npm’s password login and the console’s password form (EPASSWORDLOGINOFF)', async () => {
    const couch = await fetch(new URL('-/user/org.couchdb.user:admin', s.t.url), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'admin', password: 'admin-password-for-tests' }),
    });
    expect(couch.status).toBe(403);
    expect(((await couch.json()) as { code: string }).code).toBe('EPASSWORDLOGINOFF');
    const consoleSignIn = await fetch(new URL('-/gatekeeper/v1/session', s.t.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'admin-password-for-tests' }),
    });
    expect(consoleSignIn.status).toBe(403);
    expect(((await consoleSignIn.json()) as { code: string }).code).toBe('EPASSWORDLOGINOFF');
  });
});

describe('the built gatekeeper (gatekeeper start), configured through GATEKEEPER_SSO_* variables', () => {
  it('signs a developer in with npm web login, role from the group, with claims from userinfo only', async () => {
    const upstream = await startFixtureRegistry([]);
    // This provider keeps username and groups out of the ID token: they come from userinfo.
    const idp = await startTestIdp({ OIDC_CLAIMS_IN_USERINFO: '1' });
    const db = await createTestDatabase();
    const dataDir = tempDir('gk-sso-built-');
    try {
      const gk = await spawnGatekeeper({
        GATEKEEPER_PORT: '0',
        GATEKEEPER_HOST: '127.0.0.1',
        GATEKEEPER_DATA_DIR: dataDir,
        GATEKEEPER_DATABASE_URL: db.url,
        GATEKEEPER_UPSTREAM: upstream.url,
        GATEKEEPER_ADMIN_PASSWORD: 'admin-password-for-tests',
        GATEKEEPER_SSO_ISSUER: idp.issuer,
        GATEKEEPER_SSO_CLIENT_ID: CLIENT.clientId,
        GATEKEEPER_SSO_CLIENT_SECRET: CLIENT.clientSecret,
        GATEKEEPER_SSO_SCOPES: 'openid profile email groups',
        GATEKEEPER_SSO_DEVELOPER_GROUPS: 'gk-devs, gk-other-devs',
        GATEKEEPER_SSO_REFUSE_UNMAPPED: 'true',
      });
      try {
        await idp.setup({ ...CLIENT, redirectUris: [new URL(CALLBACK, gk.url).toString()] });
        await idp.user('gina-sub', { username: 'gina', password: 'gina-pw', groups: ['gk-other-devs'] });
        const { loginUrl, doneUrl } = await startWebLogin(gk.url);
        const browser = await browse(loginUrl, { username: 'gina', password: 'gina-pw' });
        expect(browser.last.status).toBe(200);
        const done = await getJson(doneUrl);
        expect(done.status).toBe(200);
        expect((await apiClient(gk.url, done.body.token)('GET', '/whoami')).body).toEqual({ username: 'gina', role: 'developer' });
      } finally {
        expect(await gk.stop('SIGTERM')).toBe(0);
      }
    } finally {
      await idp.close();
      await upstream.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

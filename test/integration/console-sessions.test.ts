/**
 * The console's sessions without a browser: the session service against real PostgreSQL
 * (expiry, revocation, throttled sign-in) and the HTTP surface (cookie attributes, what the
 * cookie is and is not good for, the console's static files and headers).
 */

import { GatekeeperError } from '../../src/core/errors';
import { Store } from '../../src/db/store';
import { IdentityService } from '../../src/services/identity';
import { SESSION_ORIGIN, SessionService } from '../../src/services/sessions';
import { loginToken } from '../support/gatekeeper';
import { gatekeeperSuite } from '../support/suite';

const API = '-/gatekeeper/v1';

describe('console sessions', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'session-read', versions: [{ version: '1.0.0', license: 'MIT' }] }], policyMode: 'none', npm: false });
  let store: Store;

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'sam', password: 'sam-password', role: 'developer' });
    store = new Store(s.t.gk.database.knex);
  });

  /** The Set-Cookie header that sets the session (the others clear strays of its name). */
  const ourCookie = (res: Response) => res.headers.getSetCookie().find((c) => /^gk_session=gks_/.test(c)) ?? '';

  const code = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (err) {
      return (err as GatekeeperError).code;
    }
    return 'resolved';
  };

  it('stores a session as a hashed token marked as a console session, and refuses it once expired', async () => {
    const identity = new IdentityService(store, { allowSelfRegistration: false });
    const live = new SessionService(store, identity);
    const { session, info } = await live.signIn({ username: 'sam', password: 'sam-password', ip: '127.0.0.1' });
    expect(session).toMatch(/^gks_/);
    expect(await live.resolve(session)).toMatchObject({ username: 'sam', role: 'developer', tokenId: info.tokenId, csrfToken: info.csrfToken });
    const token = await store.repos.tokens.find(info.tokenId);
    expect(token).toMatchObject({ createdFrom: SESSION_ORIGIN, revokedAt: null });
    const row = await s.t.gk.database.knex('tokens').where({ id: info.tokenId }).first();
    expect(row.token_hash).not.toContain(session.slice(4));
    // The same session under a service whose sessions last no time at all: expired.
    expect(await code(new SessionService(store, identity, 0).resolve(session))).toBe('EUNAUTHENTICATED');
    // An npm token is no session, however valid.
    expect(await code(live.resolve(await loginToken(s.t.url, 'sam', 'sam-password')))).toBe('ETOKENREVOKED');
  });

  it("stores the session's expiry with its token (the token list shows it), and checks it before noting the session's use", async () => {
    const runtime = s.t.gk.runtime;
    const { session, info } = await runtime.sessions.signIn({ username: 'sam', password: 'sam-password', ip: '127.0.0.1' });
    const listed = ((await s.t.api('GET', '/tokens?username=sam')).body.items as Array<{ id: number; createdAt: string; expiresAt: string | null; lastUsedAt: string | null }>).find((t) => t.id === info.tokenId)!;
    expect(listed.expiresAt).toBe(info.expiresAt);
    const lifetime = Date.parse(listed.expiresAt!) - Date.parse(listed.createdAt);
    expect(Math.abs(lifetime - 8 * 60 * 60 * 1000)).toBeLessThan(60_000);
    // GET /session says the same.
    const view = await fetch(new URL(`${API}/session`, s.t.url), { headers: { cookie: `gk_session=${session}` } });
    expect(((await view.json()) as { expiresAt: string }).expiresAt).toBe(info.expiresAt);

    // Too old for a service whose sessions last no time: refused, and its use is not noted.
    const tokenUse = runtime.identity.tokenUse!;
    await tokenUse.flush();
    const fresh = await runtime.sessions.signIn({ username: 'sam', password: 'sam-password', ip: '127.0.0.1' });
    expect(await code(new SessionService(store, runtime.identity, 0).resolve(fresh.session))).toBe('EUNAUTHENTICATED');
    await tokenUse.flush();
    expect((await store.repos.tokens.find(fresh.info.tokenId))?.lastUsedAt).toBeNull();
    // Past its stored expiry: refused as an expired session (not a service account's token), and not noted either.
    await s.t.gk.database.knex('tokens').where({ id: fresh.info.tokenId }).update({ expires_at: s.t.gk.database.knex.raw("now() - interval '1 second'") });
    const expired = await fetch(new URL(`${API}/session`, s.t.url), { headers: { cookie: `gk_session=${fresh.session}` } });
    expect([expired.status, await expired.json()]).toEqual([401, { code: 'EUNAUTHENTICATED', error: '[EUNAUTHENTICATED] this console session has expired. Sign in again' }]);
    await tokenUse.flush();
    expect((await store.repos.tokens.find(fresh.info.tokenId))?.lastUsedAt).toBeNull();
    // A live one is noted.
    expect((await fetch(new URL(`${API}/session`, s.t.url), { headers: { cookie: `gk_session=${session}` } })).status).toBe(200);
    await tokenUse.flush();
    expect((await store.repos.tokens.find(info.tokenId))?.lastUsedAt).not.toBeNull();
  });

  it('throttles sign-in like every password check', async () => {
    const identity = new IdentityService(store, { allowSelfRegistration: false, loginThrottle: { maxFailuresPerUser: 2 } });
    const sessions = new SessionService(store, identity);
    const wrong = () => code(sessions.signIn({ username: 'sam', password: 'not-the-password', ip: '10.0.0.9' }));
    expect(await wrong()).toBe('EBADCREDENTIALS');
    expect(await wrong()).toBe('EBADCREDENTIALS');
    expect(await wrong()).toBe('ETOOMANYATTEMPTS');
    expect(await code(sessions.signIn({ username: 'sam', password: 'sam-password', ip: '10.0.0.9' }))).toBe('ETOOMANYATTEMPTS');
    await s.t.gk.database.knex('login_throttle').del();
  });

  it('answers sign-in with the cookie and the CSRF token; the cookie is good for the admin API only', async () => {
    const bad = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sam', password: 'nope-nope' }) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();

    const res = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sam', password: 'sam-password' }) });
    expect(res.status).toBe(201);
    const cookie = ourCookie(res);
    expect(cookie).toMatch(/^gk_session=gks_[A-Za-z0-9_-]+; Path=\/-\/gatekeeper\/; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    const body = (await res.json()) as { username: string; csrfToken: string; csrfHeader: string; expiresAt: string };
    expect(body).toMatchObject({ username: 'sam', csrfHeader: 'x-gatekeeper-csrf' });
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const value = cookie.slice('gk_session='.length, cookie.indexOf(';'));
    const withCookie = (path: string, init: RequestInit = {}) => fetch(new URL(path, s.t.url), { ...init, headers: { cookie: `gk_session=${value}`, ...(init.headers as Record<string, string>) } });

    expect((await withCookie(`${API}/session`)).status).toBe(200);
    // npm's routes never take the cookie.
    const whoami = await withCookie('-/whoami');
    expect(whoami.status).toBe(401);
    // A session's value is not a bearer token.
    const bearer = await fetch(new URL(`${API}/whoami`, s.t.url), { headers: { authorization: `Bearer ${value}` } });
    expect(bearer.status).toBe(401);
    // Sign-out needs the CSRF token like every change, then ends the session and clears the cookie.
    expect(((await (await withCookie(`${API}/session`, { method: 'DELETE' })).json()) as { code: string }).code).toBe('ECSRF');
    const out = await withCookie(`${API}/session`, { method: 'DELETE', headers: { 'x-gatekeeper-csrf': body.csrfToken } });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()).toContain('gk_session=; Path=/-/gatekeeper/; Max-Age=0; HttpOnly; SameSite=Strict');
    const after = await withCookie(`${API}/session`);
    expect(after.status).toBe(401);
    expect(after.headers.getSetCookie()).toContain('gk_session=; Path=/-/gatekeeper/; Max-Age=0; HttpOnly; SameSite=Strict');
    // Signing in again works with the stale cookie still sent.
    const again = await withCookie(`${API}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sam', password: 'sam-password' }) });
    expect(again.status).toBe(201);
  });

  it('takes none of several session cookies (another port or subdomain of the host may have set one), and clears the strays it can', async () => {
    await s.t.api('POST', '/users', { username: 'mallory', password: 'mallory-password', role: 'developer' });
    const signIn = async (username: string, password: string) => {
      const res = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      expect(res.status).toBe(201);
      const cookie = ourCookie(res);
      return { value: cookie.slice('gk_session='.length, cookie.indexOf(';')), csrf: ((await res.json()) as { csrfToken: string }).csrfToken, set: res.headers.getSetCookie() };
    };
    const pathOf = (c: string) => /; Path=([^;]+)/.exec(c)![1];
    const sam = await signIn('sam', 'sam-password');
    const mallory = await signIn('mallory', 'mallory-password');
    // Sign-in clears the name at every path an admin API request could carry it from, but ours.
    const cleared = sam.set.filter((c) => c.startsWith('gk_session=;'));
    for (const c of cleared) expect(c).toMatch(/^gk_session=; Path=[^;]+; Max-Age=0; HttpOnly; SameSite=Strict$/);
    expect(cleared.map(pathOf).sort()).toEqual(['/', '/-', '/-/', '/-/gatekeeper', '/-/gatekeeper/v1', '/-/gatekeeper/v1/', '/-/gatekeeper/v1/session']);
    const get = (cookie: string, path = `${API}/session`, init: RequestInit = {}) => fetch(new URL(path, s.t.url), { ...init, headers: { cookie, ...(init.headers as Record<string, string>) } });
    // A cookie set at /-/gatekeeper/v1/ by another page of this host is sent first; a malformed one hid ours.
    for (const cookie of [`gk_session=${mallory.value}; gk_session=${sam.value}`, `gk_session=${sam.value}; gk_session=${mallory.value}`, `gk_session=not"a-session; gk_session=${sam.value}`]) {
      const res = await get(cookie);
      const body = (await res.json()) as { code: string; error: string };
      expect({ cookie, status: res.status, code: body.code }).toEqual({ cookie, status: 401, code: 'ESESSIONCOOKIES' });
      expect(body.error).toMatch(/^\[ESESSIONCOOKIES\] this request carries 2 different console session cookies, and none of them is used.* Sign in again/);
      // The strays are cleared where they can be; ours stays until a sign-in replaces it.
      const strays = res.headers.getSetCookie().map(pathOf);
      expect(strays).toEqual(expect.arrayContaining(['/-/gatekeeper/v1/', '/-/gatekeeper/v1/session']));
      expect(strays).not.toContain('/-/gatekeeper/');
    }
    // A change with both, and either session's CSRF token, changes nothing; sign-out neither.
    const malloryTokens = ((await s.t.api('GET', '/tokens?username=mallory')).body.items as Array<{ id: number; revokedAt: string | null }>).filter((t) => !t.revokedAt);
    for (const csrf of [sam.csrf, mallory.csrf]) {
      const revoke = await get(`gk_session=${mallory.value}; gk_session=${sam.value}`, `${API}/tokens/${malloryTokens[0].id}`, { method: 'DELETE', headers: { 'x-gatekeeper-csrf': csrf } });
      expect([revoke.status, ((await revoke.json()) as { code: string }).code]).toEqual([401, 'ESESSIONCOOKIES']);
      const out = await get(`gk_session=${mallory.value}; gk_session=${sam.value}`, `${API}/session`, { method: 'DELETE', headers: { 'x-gatekeeper-csrf': csrf } });
      expect([out.status, ((await out.json()) as { code: string }).code]).toEqual([401, 'ESESSIONCOOKIES']);
    }
    // Each alone is still its own session.
    expect(((await (await get(`gk_session=${sam.value}`)).json()) as { username: string }).username).toBe('sam');
    expect(((await (await get(`gk_session=${mallory.value}`)).json()) as { username: string }).username).toBe('mallory');
    // Signing out clears the strays too.
    const out = await get(`gk_session=${sam.value}`, `${API}/session`, { method: 'DELETE', headers: { 'x-gatekeeper-csrf': sam.csrf } });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().map(pathOf)).toEqual(expect.arrayContaining(['/-/gatekeeper/', '/-/gatekeeper/v1/']));
  });

  it("refuses a session's value as a Bearer token on the fast path too, where the token cache holds the session", async () => {
    const res = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sam', password: 'sam-password' }) });
    const cookie = ourCookie(res);
    const value = cookie.slice('gk_session='.length, cookie.indexOf(';'));
    // The cookie used once: the session is in the token cache.
    expect((await fetch(new URL(`${API}/session`, s.t.url), { headers: { cookie: `gk_session=${value}` } })).status).toBe(200);
    // The packument cached by anonymous reads, as the fast path serves it.
    expect((await s.t.api('POST', '/approvals', { name: 'session-read', reason: 'session test' })).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await fetch(new URL('session-read', s.t.url))).status).toBe(200);
    for (const path of ['session-read', 'session-read/-/session-read-1.0.0.tgz']) {
      const bearer = await fetch(new URL(path, s.t.url), { headers: { authorization: `Bearer ${value}` } });
      expect({ path, status: bearer.status, code: ((await bearer.json()) as { code?: string }).code }).toEqual({ path, status: 401, code: 'EUNAUTHENTICATED' });
    }
  });

  it('disabling a user revokes their npm tokens and console sessions: enabling them again restores none, and the audit says so', async () => {
    await s.t.api('POST', '/users', { username: 'dora', password: 'dora-password', role: 'developer' });
    const npmToken = await loginToken(s.t.url, 'dora', 'dora-password');
    const signIn = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'dora', password: 'dora-password' }) });
    const cookie = ourCookie(signIn).split(';')[0];
    const asCookie = () => fetch(new URL(`${API}/session`, s.t.url), { headers: { cookie } });
    const asToken = () => fetch(new URL(`${API}/whoami`, s.t.url), { headers: { authorization: `Bearer ${npmToken}` } });
    expect([(await asCookie()).status, (await asToken()).status]).toEqual([200, 200]);
    const live = ((await s.t.api('GET', '/tokens?username=dora')).body.items as Array<{ id: number; revokedAt: string | null }>).filter((t) => !t.revokedAt).map((t) => t.id);
    expect(live).toHaveLength(2);

    expect((await s.t.api('PATCH', '/users/dora', { disabled: true })).status).toBe(200);
    expect((await s.t.api('PATCH', '/users/dora', { disabled: false })).status).toBe(200);
    // Enabled again, and neither the session nor the npm token works: they were revoked, not suspended.
    for (const res of [await asCookie(), await asToken()]) {
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([401, 'ETOKENREVOKED']);
    }
    const tokens = (await s.t.api('GET', '/tokens?username=dora')).body.items as Array<{ id: number; revokedAt: string | null; revokedBy: string | null }>;
    expect(tokens.filter((t) => live.includes(t.id)).map((t) => [t.revokedAt !== null, t.revokedBy])).toEqual([
      [true, 'admin'],
      [true, 'admin'],
    ]);
    const disable = (await s.t.api('GET', '/audit?action=user.disable')).body.items.find((e: { details: { username: string } }) => e.details.username === 'dora');
    expect(disable).toMatchObject({ actor: 'admin', details: { username: 'dora', revokedTokens: 2 } });
    const revokes = (await s.t.api('GET', '/audit?action=token.revoke')).body.items.filter((e: { details: { username: string } }) => e.details.username === 'dora');
    expect(revokes.map((e: { details: { tokenId: number; reason: string } }) => [e.details.tokenId, e.details.reason]).sort()).toEqual(live.map((id) => [id, 'the user was disabled']).sort());
    // A new login is a new token.
    expect((await fetch(new URL(`${API}/whoami`, s.t.url), { headers: { authorization: `Bearer ${await loginToken(s.t.url, 'dora', 'dora-password')}` } })).status).toBe(200);
  });

  it("answers under /-/gatekeeper/ carry no CORS headers (Verdaccio's allow every origin): the admin API and the console are same-origin", async () => {
    const origin = { origin: 'http://evil.test' };
    for (const [path, init] of [
      [`${API}/health`, {}],
      [`${API}/session`, {}],
      [`${API}/openapi.json`, {}],
      [`${API}/no-such-route`, {}],
      [`${API}/whoami`, { headers: { authorization: `Bearer ${s.t.adminToken}` } }],
      [`${API}/bans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
      ['-/gatekeeper/ui/', {}],
      ['-/gatekeeper/metrics', {}],
    ] as Array<[string, RequestInit]>) {
      const res = await fetch(new URL(path, s.t.url), { ...init, headers: { ...origin, ...(init.headers as Record<string, string>) } });
      expect({ path, status: res.status, cors: [...res.headers.keys()].filter((h) => h.startsWith('access-control-')) }).toEqual({ path, status: res.status, cors: [] });
    }
    // A preflight is answered without them too, so no other origin may send a write.
    const preflight = await fetch(new URL(`${API}/bans`, s.t.url), { method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect([...preflight.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
    // npm's routes keep theirs (public package data).
    expect((await fetch(new URL('-/ping', s.t.url), { headers: origin })).headers.get('access-control-allow-origin')).toBe('*');
  });

  it('serves the console with a strict CSP, its pages at stable URLs, and refuses missing assets with a code', async () => {
    for (const path of ['-/gatekeeper/ui/', '-/gatekeeper/ui/packages/@scope%2Fname?version=1.0.0', '-/gatekeeper/ui/audit?action=ban.create']) {
      const page = await fetch(new URL(path, s.t.url));
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      );
      const html = await page.text();
      const script = /<script type="module" crossorigin src="(\/-\/gatekeeper\/ui\/assets\/[^"]+\.js)"><\/script>/.exec(html)?.[1];
      expect(script).toBeDefined();
      const js = await fetch(new URL(script!.slice(1), s.t.url));
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(js.headers.get('cache-control')).toContain('immutable');
    }
    const missing = await fetch(new URL('-/gatekeeper/ui/assets/nothing-here.js', s.t.url));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('ENOTFOUND');
    const escape = await fetch(new URL('-/gatekeeper/ui/..%2f..%2fpackage.json', s.t.url));
    // A path that leaves the console's directory names no file of it: the console's page, never the file.
    expect(escape.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await escape.text()).not.toContain('"devDependencies"');
    const head = await fetch(s.t.url, { method: 'HEAD', headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(head.status).toBe(302);
  });
});

describe('console sessions behind an https public URL', () => {
  const s = gatekeeperSuite({ settings: { publicUrl: 'https://registry.example/' }, policyMode: 'none', npm: false });

  it('uses a __Host- cookie (Secure, Path=/, no Domain: no other host or port can set it) and never reads a plain gk_session', async () => {
    await s.t.api('POST', '/users', { username: 'tess', password: 'tess-password', role: 'developer' });
    const res = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'tess', password: 'tess-password' }) });
    expect(res.status).toBe(201);
    // Secure although this request came over plain http: the public URL is https.
    const set = res.headers.getSetCookie();
    expect(set).toHaveLength(1);
    expect(set[0]).toMatch(/^__Host-gk_session=gks_[A-Za-z0-9_-]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict; Secure$/);
    const value = set[0].slice('__Host-gk_session='.length, set[0].indexOf(';'));
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    const get = (cookie: string, init: RequestInit = {}) => fetch(new URL(`${API}/session`, s.t.url), { ...init, headers: { cookie, ...(init.headers as Record<string, string>) } });
    expect(((await (await get(`__Host-gk_session=${value}`)).json()) as { username: string }).username).toBe('tess');
    // A plain gk_session (what another port or subdomain can set) is not this site's cookie.
    const plain = await get(`gk_session=${value}`);
    expect([plain.status, ((await plain.json()) as { code: string }).code]).toEqual([401, 'EUNAUTHENTICATED']);
    expect(((await (await get(`gk_session=gks_other; __Host-gk_session=${value}`)).json()) as { username: string }).username).toBe('tess');
    const out = await get(`__Host-gk_session=${value}`, { method: 'DELETE', headers: { 'x-gatekeeper-csrf': csrfToken } });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()).toEqual(['__Host-gk_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure']);
  });
});

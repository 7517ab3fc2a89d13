/**
 * Login hardening: failed password checks are throttled per username and per client address
 * with counters in PostgreSQL (shared by every gatekeeper on the database), unknown users fail
 * exactly like wrong passwords, and failed logins leave a bounded number of audit rows.
 * Real gatekeepers, real PostgreSQL; requests come from distinct loopback addresses
 * (127.0.0.x) so each test has client addresses of its own.
 */
import { GatekeeperError } from '../../src/core/errors';
import { Store } from '../../src/db/store';
import { checkPassword, dummyPasswordHash, hashPassword, IdentityService, verifyPassword } from '../../src/services/identity';
import { eventually } from '../support/assert';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { couchLogin, Reply, requestFrom } from '../support/http';
import { gatekeeperSuite } from '../support/suite';

function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

async function throttleRows(t: TestGatekeeper, key: string): Promise<Array<{ action: string; details: any }>> {
  return t.gk.database.knex('audit_log').whereIn('action', ['user.login_refused', 'user.login_throttled']).whereRaw(`details->>'key' = ?`, [key]).select('action', 'details');
}

describe('login throttling, indistinguishable failures and bounded audit', () => {
  let second: TestGatekeeper;

  // The second gatekeeper closes before the first one drops their database.
  afterAll(async () => {
    await second?.close();
  });

  const s = gatekeeperSuite({ packages: [{ name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], policyMode: 'none', npm: false });

  beforeAll(async () => {
    // A second gatekeeper process on the same database, started before anything is throttled.
    second = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db });
    for (const username of ['victim', 'dev2', 'shared-victim', 'parallel-victim', 'bystander', 'basic-user']) {
      expect((await s.t.api('POST', '/users', { username, password: `${username}-password`, role: 'developer' })).status).toBe(201);
    }
  });

  it('60 fast wrong passwords for one user meet 429 ETOOMANYATTEMPTS with Retry-After (default limits)', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 60; i++) replies.push(await couchLogin(s.t.url, 'victim', `wrong-${i}`, { from: '127.0.0.11' }));
    // The default: 10 failures per username per window, then refused without a password check.
    expect(replies.slice(0, 10).map((r) => `${r.status} ${r.body.code}`)).toEqual(new Array(10).fill('401 EBADCREDENTIALS'));
    expect(replies.slice(10).map((r) => `${r.status} ${r.body.code}`)).toEqual(new Array(50).fill('429 ETOOMANYATTEMPTS'));
    const throttled = replies[10];
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(throttled.body.error).toMatch(/^\[ETOOMANYATTEMPTS\] too many failed password checks for this username\. Wait \d+ seconds/);

    // The username is throttled from every address, even with the right password...
    const right = await couchLogin(s.t.url, 'victim', 'victim-password', { from: '127.0.0.12' });
    expect([right.status, right.body.code]).toEqual([429, 'ETOOMANYATTEMPTS']);
    // ...and other users from the same address are not (its own limit is higher).
    const other = await couchLogin(s.t.url, 'bystander', 'bystander-password', { from: '127.0.0.11' });
    expect(other.status).toBe(201);
  });

  it('keeps the audit log bounded: 60 failures for one user leave one refused and one throttled row per username and address', async () => {
    const user = await throttleRows(s.t, 'victim');
    expect(user.map((r) => r.action).sort()).toEqual(['user.login_refused', 'user.login_throttled']);
    const tripped = user.find((r) => r.action === 'user.login_throttled');
    expect(tripped?.details).toMatchObject({ scope: 'user', key: 'victim', failures: 10, limit: 10 });
    // The address saw 10 failures (the blocked attempts are not password checks): its first failure only.
    const address = await throttleRows(s.t, '127.0.0.11');
    expect(address.map((r) => r.action)).toEqual(['user.login_refused']);
    // Through the admin API too.
    const listed = await s.t.api('GET', '/audit?actor=victim');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i: any) => i.action).sort()).toEqual(['user.login_refused', 'user.login_throttled']);
  });

  it('throttles many usernames from one address (30 failures per address by default)', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 60; i++) replies.push(await couchLogin(s.t.url, `nobody-${i}`, 'some-password', { from: '127.0.0.21' }));
    expect(replies.slice(0, 30).every((r) => r.status === 401 && r.body.code === 'EBADCREDENTIALS')).toBe(true);
    expect(replies.slice(30).every((r) => r.status === 429 && r.body.code === 'ETOOMANYATTEMPTS')).toBe(true);
    expect(replies[30].body.error).toContain('from your address');
    expect(Number(replies[30].headers['retry-after'])).toBeGreaterThan(0);
    // The address is throttled for everyone, the right password included; other addresses are not.
    expect((await couchLogin(s.t.url, 'bystander', 'bystander-password', { from: '127.0.0.21' })).status).toBe(429);
    expect((await couchLogin(s.t.url, 'bystander', 'bystander-password', { from: '127.0.0.22' })).status).toBe(201);
    // Bounded audit: the address's two rows, and one row for each of the 30 names it tried.
    const address = await throttleRows(s.t, '127.0.0.21');
    expect(address.map((r) => r.action).sort()).toEqual(['user.login_refused', 'user.login_throttled']);
    const names = await s.t.gk.database.knex('audit_log').where('action', 'like', 'user.login_%').whereRaw(`details->>'key' like 'nobody-%'`).count<{ count: string }[]>('* as count');
    expect(Number(names[0].count)).toBe(30);
  });

  it('answers an unknown user exactly like a wrong password', async () => {
    const wrong = await couchLogin(s.t.url, 'dev2', 'not-the-password', { from: '127.0.0.31' });
    const unknown = await couchLogin(s.t.url, 'ghost', 'not-the-password', { from: '127.0.0.31' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('EBADCREDENTIALS');
    expect({ status: unknown.status, statusText: unknown.statusText, text: unknown.text, auth: unknown.headers['www-authenticate'] }).toEqual({
      status: wrong.status,
      statusText: wrong.statusText,
      text: wrong.text,
      auth: wrong.headers['www-authenticate'],
    });
    // Basic credentials on any request, likewise.
    const wrongBasic = await requestFrom(s.t.url, 'GET', '-/whoami', { from: '127.0.0.31', headers: basic('dev2', 'not-the-password') });
    const unknownBasic = await requestFrom(s.t.url, 'GET', '-/whoami', { from: '127.0.0.31', headers: basic('ghost', 'not-the-password') });
    expect(wrongBasic.status).toBe(401);
    expect([unknownBasic.status, unknownBasic.text]).toEqual([wrongBasic.status, wrongBasic.text]);
  });

  it('throttles Basic credentials on any request', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 12; i++) replies.push(await requestFrom(s.t.url, 'GET', '-/whoami', { from: '127.0.0.51', headers: basic('basic-user', `wrong-${i}`) }));
    expect(replies.slice(0, 10).map((r) => r.status)).toEqual(new Array(10).fill(401));
    expect(replies.slice(10).map((r) => `${r.status} ${r.body.code}`)).toEqual(['429 ETOOMANYATTEMPTS', '429 ETOOMANYATTEMPTS']);
    expect(Number(replies[10].headers['retry-after'])).toBeGreaterThan(0);
    // The right Basic password is refused too while the username is throttled: no check runs.
    const right = await requestFrom(s.t.url, 'GET', '-/whoami', { from: '127.0.0.52', headers: basic('basic-user', 'basic-user-password') });
    expect(right.status).toBe(429);
    // Throttled through Basic means throttled for npm login as well: one counter per username.
    expect((await couchLogin(s.t.url, 'basic-user', 'basic-user-password', { from: '127.0.0.53' })).status).toBe(429);
  });

  it('holds across two gatekeepers on one database', async () => {
    const servers = [s.t, second];
    const replies: Reply[] = [];
    for (let i = 0; i < 16; i++) replies.push(await couchLogin(servers[i % 2].url, 'shared-victim', `wrong-${i}`, { from: '127.0.0.41' }));
    // 10 failures in all, counted together, then both refuse.
    expect(replies.map((r) => r.status)).toEqual([...new Array(10).fill(401), ...new Array(6).fill(429)]);
    expect((await couchLogin(second.url, 'shared-victim', 'shared-victim-password', { from: '127.0.0.43' })).status).toBe(429);
    expect((await couchLogin(s.t.url, 'shared-victim', 'shared-victim-password', { from: '127.0.0.43' })).status).toBe(429);
  });

  it('does not let parallel guesses on two gatekeepers overrun the limit', async () => {
    const servers = [s.t, second];
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => couchLogin(servers[i % 2].url, 'parallel-victim', `wrong-${i}`, { from: `127.0.0.${60 + (i % 4)}` })),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    const failures = statuses.filter((s) => s === 401).length;
    // Attempts are counted before the password is checked: never more than 10 checks ran.
    expect(failures).toBeGreaterThan(0);
    expect(failures).toBeLessThanOrEqual(10);
    const row = await s.t.gk.database.knex('login_throttle').where({ scope: 'user', key: 'parallel-victim' }).first();
    expect(row.attempts).toBe(failures);
    expect(row.blocked).toBe(40 - failures);
  });

  describe('the password check in the identity service (on the same database)', () => {
    let store: Store;
    const calls: Array<{ password: string; stored: string }> = [];
    let identity: IdentityService;

    beforeAll(() => {
      store = new Store(s.t.gk.database.knex);
      identity = new IdentityService(store, {
        allowSelfRegistration: false,
        verifyPassword: async (password, stored) => {
          calls.push({ password, stored });
          return verifyPassword(password, stored);
        },
      });
    });

    it('checks an unknown user against a dummy scrypt hash made like real ones, and a known one against theirs', async () => {
      calls.length = 0;
      const unknown = await identity.authenticatePassword('no-such-user', 'some-password', '127.0.0.71').catch((e: GatekeeperError) => e);
      expect((unknown as GatekeeperError).code).toBe('EBADCREDENTIALS');
      expect(calls).toHaveLength(1);
      const dummy = await dummyPasswordHash();
      expect(calls[0]).toEqual({ password: 'some-password', stored: dummy });
      // Same scheme and scrypt parameters as a stored password: the same work.
      const real = (await store.knex('users').where({ username: 'dev2' }).first()).password_hash as string;
      const params = (h: string) => h.split('$').slice(0, 4).join('$');
      expect(params(dummy)).toBe(params(real));
      expect(params(dummy)).toBe(params(await hashPassword('anything-at-all')));

      calls.length = 0;
      const wrong = await identity.authenticatePassword('dev2', 'some-password', '127.0.0.71').catch((e: GatekeeperError) => e);
      expect((wrong as GatekeeperError).code).toBe('EBADCREDENTIALS');
      expect(calls).toEqual([{ password: 'some-password', stored: real }]);
      // Same error, same message.
      expect((wrong as GatekeeperError).message).toBe((unknown as GatekeeperError).message);
    });

    it('never accepts a password without a user, whatever the dummy check says', async () => {
      expect(await checkPassword('x', undefined, async () => true)).toBe(false);
      expect(await checkPassword('x', 'scrypt$stored', async () => true)).toBe(true);
    });

    it('runs no password check at all while throttled', async () => {
      for (let i = 0; i < 10; i++) {
        await expect(identity.authenticatePassword('throttle-me', `wrong-${i}`, '127.0.0.72')).rejects.toMatchObject({ code: 'EBADCREDENTIALS' });
      }
      calls.length = 0;
      const refused = (await identity.authenticatePassword('throttle-me', 'wrong', '127.0.0.73').catch((e: GatekeeperError) => e)) as GatekeeperError;
      expect(refused.code).toBe('ETOOMANYATTEMPTS');
      expect(refused.retryAfter).toBeGreaterThan(0);
      expect(calls).toHaveLength(0);
    });

    it('still registers an unknown user when self-registration is on', async () => {
      const open = new IdentityService(store, { allowSelfRegistration: true });
      const result = await open.login({ username: 'newcomer', password: 'newcomer-password', ip: '127.0.0.74' });
      expect(result.created).toBe(true);
      expect(result.user.username).toBe('newcomer');
    });

    it('refuses a disabled user only once the password is right, and counts it as a failure', async () => {
      expect((await s.t.api('POST', '/users', { username: 'gone', password: 'gone-password', role: 'developer' })).status).toBe(201);
      expect((await s.t.api('PATCH', '/users/gone', { disabled: true })).status).toBe(200);
      await expect(identity.authenticatePassword('gone', 'wrong-password', '127.0.0.75')).rejects.toMatchObject({ code: 'EBADCREDENTIALS' });
      await expect(identity.authenticatePassword('gone', 'gone-password', '127.0.0.75')).rejects.toMatchObject({ code: 'EUSERDISABLED' });
      const row = await store.knex('login_throttle').where({ scope: 'user', key: 'gone' }).first();
      expect(row.attempts).toBe(2);
    });

    it('takes back the attempt of a right password', async () => {
      await expect(identity.authenticatePassword('dev2', 'dev2-password', '127.0.0.76')).resolves.toMatchObject({ username: 'dev2' });
      const row = await store.knex('login_throttle').where({ scope: 'address', key: '127.0.0.76' }).first();
      expect(row.attempts).toBe(0);
    });

    it('prunes counters whose window has ended', async () => {
      const short = new IdentityService(store, { allowSelfRegistration: false, loginThrottle: { windowMs: 1000 } });
      await expect(short.authenticatePassword('prune-me', 'wrong-password', '127.0.0.77')).rejects.toMatchObject({ code: 'EBADCREDENTIALS' });
      expect(await store.knex('login_throttle').where({ key: 'prune-me' }).first()).toBeDefined();
      await eventually(async () => (await store.knex('login_throttle').where({ key: 'prune-me' }).where('window_end', '<', store.knex.fn.now()).first()) !== undefined, 'the window to end');
      // Any later check prunes (at most once per window per process).
      await eventually(async () => {
        await short.authenticatePassword('someone-else', 'wrong-password', '127.0.0.78').catch(() => undefined);
        return (await store.knex('login_throttle').where({ key: 'prune-me' }).first()) === undefined;
      }, 'the expired counter to be pruned');
    });
  });
});

/**
 * npm's token and profile commands against our own token store, through the real npm CLI:
 * `npm token list`, `npm token create` (password read from a prompt, under a pty),
 * `npm token revoke`, `npm profile get`; and what we refuse (profile changes but the password, restricted
 * tokens, anonymous callers).
 */
import { loginToken } from '../support/gatekeeper';
import { gatekeeperSuite } from '../support/suite';

async function call(base: string, path: string, method: string, token: string | null, body?: unknown) {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

describe("npm's token and profile commands", () => {
  const s = gatekeeperSuite({ packages: [{ name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { requireAuth: true }, policyMode: 'none' });
  let loginTokenValue: string;

  beforeAll(async () => {
    for (const username of ['tokuser', 'other', 'tokthrottle']) {
      expect((await s.t.api('POST', '/users', { username, password: `${username}-password`, role: 'developer' })).status).toBe(201);
    }
    loginTokenValue = await loginToken(s.t.url, 'tokuser', 'tokuser-password');
    await s.npm.setToken(loginTokenValue);
  });

  async function listJson(): Promise<Array<{ key: string; token: string; id: string; name: string; created: string; readonly: boolean }>> {
    const result = await s.npm.run(['token', 'list', '--json']);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  }

  it('npm token list shows the caller\'s tokens by prefix, never their values', async () => {
    const result = await s.npm.run(['token', 'list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Token ${loginTokenValue.slice(0, 10)}… with id `);
    expect(result.stdout).toContain('name npm login');
    expect(result.output).not.toContain(loginTokenValue);
    const tokens = await listJson();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ token: loginTokenValue.slice(0, 10), readonly: false, name: 'npm login' });
    expect(tokens[0].key).toMatch(/^[0-9a-f]{64}$/);
    // Neither the value nor the stored hash leaves the server.
    const raw = await call(s.t.url, '-/npm/v1/tokens', 'GET', loginTokenValue);
    const stored = await s.t.gk.database.knex('tokens').select('token_hash');
    for (const { token_hash } of stored) expect(raw.text).not.toContain(token_hash);
    expect(raw.text).not.toContain(loginTokenValue);
  });

  it('npm token create asks for the password and issues a token of ours that works until npm token revoke', async () => {
    const created = await s.npm.run(['token', 'create'], { prompts: [{ expect: 'npm password:', send: 'tokuser-password' }] });
    expect(created.code).toBe(0);
    const match = /Created token (gk_[A-Za-z0-9_-]+)/.exec(created.output);
    expect(match).not.toBeNull();
    const token = (match as RegExpExecArray)[1];

    // It is one of ours: stored hashed, audited, and it authenticates.
    const whoami = await call(s.t.url, '-/whoami', 'GET', token);
    expect(whoami.status).toBe(200);
    expect(whoami.body.username).toBe('tokuser');
    expect(JSON.stringify(await s.t.gk.database.knex('tokens').select('*'))).not.toContain(token);
    const audit = await s.t.api('GET', '/audit?action=token.create&actor=tokuser');
    expect(audit.body.items.some((i: any) => i.details.createdFrom === 'npm token create')).toBe(true);

    // npm token revoke <id>, by the id npm token list shows.
    const listed = (await listJson()).find((e) => e.token === token.slice(0, 10));
    expect(listed?.name).toBe('npm token create');
    const revoked = await s.npm.run(['token', 'revoke', (listed as { id: string }).id]);
    expect(revoked.output).toContain('Removed 1 token');
    expect(revoked.code).toBe(0);
    const refused = await call(s.t.url, '-/whoami', 'GET', token);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('ETOKENREVOKED');
    expect((await listJson()).some((e) => e.token === token.slice(0, 10))).toBe(false);
    const revokes = await s.t.api('GET', '/audit?action=token.revoke&actor=tokuser');
    expect(revokes.body.items.length).toBeGreaterThan(0);
  });

  it('npm token revoke also takes the token itself', async () => {
    const created = await call(s.t.url, '-/npm/v1/tokens', 'POST', loginTokenValue, { password: 'tokuser-password', readonly: false, cidr_whitelist: [] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ readonly: false, cidr_whitelist: [] });
    expect(created.body.token).toMatch(/^gk_/);
    // The key in the answer is the key npm token list shows.
    expect((await listJson()).find((e) => e.token === created.body.token.slice(0, 10))?.key).toBe(created.body.key);
    const revoked = await s.npm.run(['token', 'revoke', created.body.token]);
    expect(revoked.code).toBe(0);
    expect((await call(s.t.url, '-/whoami', 'GET', created.body.token)).status).toBe(401);
  });

  it('refuses a wrong password, and throttles password guesses through token create', async () => {
    const wrong = await s.npm.run(['token', 'create'], { prompts: [{ expect: 'npm password:', send: 'not-the-password' }] });
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toContain('EBADCREDENTIALS');
    expect(await listJson()).toHaveLength(1);

    const own = await loginToken(s.t.url, 'tokthrottle', 'tokthrottle-password');
    const replies = [];
    for (let i = 0; i < 11; i++) replies.push(await call(s.t.url, '-/npm/v1/tokens', 'POST', own, { password: `wrong-${i}` }));
    expect(replies.slice(0, 10).map((r) => `${r.status} ${r.body.code}`)).toEqual(new Array(10).fill('401 EBADCREDENTIALS'));
    expect(`${replies[10].status} ${replies[10].body.code}`).toBe('429 ETOOMANYATTEMPTS');
    expect(Number(replies[10].headers.get('retry-after'))).toBeGreaterThan(0);
    // The token itself still works: only password checks are throttled.
    expect((await call(s.t.url, '-/whoami', 'GET', own)).status).toBe(200);
  });

  it('refuses read-only, CIDR-limited and granular tokens instead of ignoring the restriction', async () => {
    const readonly = await call(s.t.url, '-/npm/v1/tokens', 'POST', loginTokenValue, { password: 'tokuser-password', readonly: true, cidr_whitelist: [] });
    expect([readonly.status, readonly.body.code]).toEqual([400, 'EVALIDATION']);
    expect(readonly.body.error).toContain('read-only tokens are not supported');
    // Any other value than false is refused too: no client's "yes" gets a full token.
    for (const value of ['true', 1, 'yes', {}, '']) {
      const odd = await call(s.t.url, '-/npm/v1/tokens', 'POST', loginTokenValue, { password: 'tokuser-password', readonly: value });
      expect({ value, status: odd.status, code: odd.body.code, error: odd.body.error }).toEqual({ value, status: 400, code: 'EVALIDATION', error: expect.stringContaining('readonly must be true or false') });
    }
    const cidr = await s.npm.run(['token', 'create', '--cidr=10.0.0.0/8'], { prompts: [{ expect: 'npm password:', send: 'tokuser-password' }] });
    expect(cidr.code).not.toBe(0);
    expect(cidr.output).toContain('EVALIDATION');
    expect(cidr.output).toContain('CIDR');
    const granular = await call(s.t.url, '-/npm/v1/tokens', 'POST', loginTokenValue, { password: 'tokuser-password', packages: ['plain-fixture'], expires: 30 });
    expect([granular.status, granular.body.code]).toEqual([400, 'EVALIDATION']);
    expect(await listJson()).toHaveLength(1);
  });

  it('revokes only the caller\'s own tokens; admins may revoke anyone\'s', async () => {
    const others = await loginToken(s.t.url, 'other', 'other-password');
    const [mine] = await listJson();
    const attempt = await call(s.t.url, `-/npm/v1/tokens/token/${mine.key}`, 'DELETE', others);
    expect([attempt.status, attempt.body.code]).toEqual([404, 'ENOTFOUND']);
    expect((await call(s.t.url, '-/whoami', 'GET', loginTokenValue)).status).toBe(200);

    const otherKeys = (await call(s.t.url, '-/npm/v1/tokens', 'GET', others)).body.objects;
    expect(otherKeys).toHaveLength(1);
    const byAdmin = await call(s.t.url, `-/npm/v1/tokens/token/${otherKeys[0].key}`, 'DELETE', s.t.adminToken);
    expect(byAdmin.status).toBe(204);
    expect((await call(s.t.url, '-/whoami', 'GET', others)).status).toBe(401);
    const unknown = await call(s.t.url, `-/npm/v1/tokens/token/${'0'.repeat(64)}`, 'DELETE', loginTokenValue);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'ENOTFOUND']);
  });

  it('npm profile get shows the caller from our users table', async () => {
    const result = await s.npm.run(['profile', 'get']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^name: tokuser$/m);
    expect(result.stdout).toMatch(/^role: developer$/m);
    expect(result.stdout).toMatch(/^two-factor auth: disabled$/m);
    const json = await s.npm.run(['profile', 'get', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'tokuser', role: 'developer', tfa: false });
  });

  it('refuses profile changes but the password with 403 ENOTSUPPORTED (passwords: test/integration/passwords.test.ts)', async () => {
    const post = await call(s.t.url, '-/npm/v1/user', 'POST', loginTokenValue, { fullname: 'Someone' });
    expect([post.status, post.body.code]).toEqual([403, 'ENOTSUPPORTED']);
    expect(post.body.error).toBe("[ENOTSUPPORTED] the profile's 'fullname' cannot be changed here: this registry keeps no such profile. Only the password can be changed, with 'npm profile set password'");
    const viaNpm = await s.npm.run(['profile', 'set', 'fullname', 'Someone']);
    expect(viaNpm.code).not.toBe(0);
    expect(viaNpm.output).toContain('ENOTSUPPORTED');
  });

  it('needs a login for every one of these routes', async () => {
    const anonymous = [
      await call(s.t.url, '-/npm/v1/tokens', 'GET', null),
      await call(s.t.url, '-/npm/v1/tokens', 'POST', null, { password: 'tokuser-password' }),
      await call(s.t.url, `-/npm/v1/tokens/token/${'0'.repeat(64)}`, 'DELETE', null),
      await call(s.t.url, '-/npm/v1/user', 'GET', null),
      await call(s.t.url, '-/npm/v1/user', 'POST', null, {}),
    ];
    expect(anonymous.map((r) => `${r.status} ${r.body.code}`)).toEqual(new Array(5).fill('401 EUNAUTHENTICATED'));
  });
});

/**
 * Changing passwords: an admin resets a user's (the admin API, `gatekeeper user password`), a
 * user changes their own with the current one (`npm profile set password`, through the real npm
 * CLIs under a pseudo-terminal, and the raw request npm sends). Real servers, real PostgreSQL.
 */
import path from 'node:path';
import { loginToken } from '../support/gatekeeper';
import { runGatekeeper } from '../support/cli';
import { resolveNpmCli } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

const API = '-/gatekeeper/v1';
const CLIENTS_DIR = path.resolve(__dirname, '../clients/node_modules');

describe('passwords', () => {
  const s = gatekeeperSuite({ policyMode: 'none', settings: { loginMaxFailuresPerUser: 3 } });

  const signIn = async (username: string, password: string) => {
    const res = await fetch(new URL(`${API}/session`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect(res.status).toBe(201);
    return res.headers.getSetCookie().find((c) => c.startsWith('gk_session=gks_'))!.split(';')[0];
  };
  const sessionStatus = async (cookie: string) => {
    const res = await fetch(new URL(`${API}/session`, s.t.url), { headers: { cookie } });
    return [res.status, ((await res.json()) as { code?: string }).code];
  };
  const tokenStatus = async (token: string) => (await fetch(new URL(`${API}/whoami`, s.t.url), { headers: { authorization: `Bearer ${token}` } })).status;
  const loginCode = (username: string, password: string) => loginToken(s.t.url, username, password).then(() => 'ok', (err: Error) => /\[(E[A-Z]+)\]|(E[A-Z]{5,})/.exec(err.message)?.slice(1).find(Boolean));
  const auditOf = async (action: string, username: string) =>
    ((await s.t.api('GET', `/audit?action=${action}&limit=500`)).body.items as Array<{ actor: string; details: Record<string, unknown> }>).filter((e) => e.details.username === username);
  /** What npm profile set password sends (npm 9 to 11): the whole profile back, with password {old, new}. */
  const npmProfileSet = (token: string, body: unknown) =>
    fetch(new URL('-/npm/v1/user', s.t.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const clearThrottle = () => s.t.gk.database.knex('login_throttle').del();

  it('an admin resets a password (same rules as creation, hashed): the old one stops working, console sessions end, npm tokens stay, audited', async () => {
    expect((await s.t.api('POST', '/users', { username: 'rosa', password: 'rosa-password', role: 'developer' })).status).toBe(201);
    const cookie = await signIn('rosa', 'rosa-password');
    const npmToken = await loginToken(s.t.url, 'rosa', 'rosa-password');

    // Too short: refused, and nothing changed (the role neither, sent with it).
    const weak = await s.t.api('PATCH', '/users/rosa', { password: 'short', role: 'reader' });
    expect([weak.status, weak.body.error]).toEqual([400, '[EVALIDATION] a password must be 8 to 1024 characters long']);
    expect((await s.t.api('GET', '/users')).body.items.find((u: { username: string }) => u.username === 'rosa').role).toBe('developer');
    // Only admins.
    const byUser = await s.t.api('PATCH', '/users/rosa', { password: 'taken-over-password' }, npmToken);
    expect([byUser.status, byUser.body.code]).toEqual([403, 'EFORBIDDEN']);

    const reset = await s.t.api('PATCH', '/users/rosa', { password: 'rosa-new-password' });
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ username: 'rosa', role: 'developer' });
    expect(JSON.stringify(reset.body)).not.toContain('password');
    const row = await s.t.gk.database.knex('users').where({ username: 'rosa' }).first();
    expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(row.password_hash).not.toContain('rosa-new-password');

    expect(await loginCode('rosa', 'rosa-password')).toBe('EBADCREDENTIALS');
    expect(await loginCode('rosa', 'rosa-new-password')).toBe('ok');
    expect(await sessionStatus(cookie)).toEqual([401, 'ETOKENREVOKED']);
    expect(await tokenStatus(npmToken)).toBe(200);
    const [entry] = await auditOf('user.password', 'rosa');
    expect(entry).toMatchObject({ actor: 'admin', details: { username: 'rosa', by: 'admin', revokedSessions: 1 } });
    expect(JSON.stringify(entry)).not.toContain('rosa-new-password');
    expect((await auditOf('token.revoke', 'rosa')).map((e) => e.details.reason)).toEqual(['the password was changed']);

    // Users without a password of ours keep having none.
    expect((await s.t.api('POST', '/service-accounts/ci-bot/tokens', { scope: 'read', expires: '1d' })).status).toBe(201);
    const service = await s.t.api('PATCH', '/users/ci-bot', { password: 'service-password' });
    expect([service.status, service.body.code]).toEqual([409, 'ECONFLICT']);
    // With a role too: refused before anything changes, the role included.
    const before = (await s.t.api('GET', '/users')).body.items.find((u: { username: string }) => u.username === 'ci-bot');
    const both = await s.t.api('PATCH', '/users/ci-bot', { role: 'publisher', password: 'service-password' });
    expect([both.status, both.body.code]).toEqual([409, 'ECONFLICT']);
    expect((await s.t.api('GET', '/users')).body.items.find((u: { username: string }) => u.username === 'ci-bot')).toEqual(before);
    expect(before.role).not.toBe('publisher');
    expect(await auditOf('user.role', 'ci-bot')).toEqual([]);
    const unknown = await s.t.api('PATCH', '/users/nobody-here', { password: 'whatever-password' });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'ENOTFOUND']);
  });

  it('gatekeeper user password reads the new password from stdin, or generates one and shows it once (never from argv)', async () => {
    expect((await s.t.api('POST', '/users', { username: 'ivan', password: 'ivan-password', role: 'developer' })).status).toBe(201);
    const env = { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken, HOME: s.t.dataDir, PATH: process.env.PATH };
    const fromStdin = await runGatekeeper(env, ['user', 'password', 'ivan', '--password-stdin'], 'ivan-stdin-password\n');
    expect(fromStdin).toMatchObject({ code: 0, err: '' });
    expect(fromStdin.out).toContain('password of ivan reset; their console sessions were ended');
    expect(fromStdin.out).not.toContain('ivan-stdin-password');
    expect(await loginCode('ivan', 'ivan-stdin-password')).toBe('ok');

    const generated = await runGatekeeper(env, ['user', 'password', 'ivan']);
    expect(generated.code).toBe(0);
    const password = /password: (\S+)/.exec(generated.out)?.[1] as string;
    expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(await loginCode('ivan', password)).toBe('ok');
    expect(await loginCode('ivan', 'ivan-stdin-password')).toBe('EBADCREDENTIALS');

    // A password on the command line is no password: an unknown argument, refused before any request.
    const argv = await runGatekeeper(env, ['user', 'password', 'ivan', 'in-argv-password']);
    expect(argv.code).toBe(2);
    expect(await loginCode('ivan', password)).toBe('ok');
    // user add likewise: the word is refused, not dropped for a generated password (the user is not made).
    const added = await runGatekeeper(env, ['user', 'add', 'ivan2', 'in-argv-password']);
    expect([added.code, added.err]).toEqual([2, expect.stringContaining('a password is never taken from the command line')]);
    expect(((await s.t.api('GET', '/users')).body.items as Array<{ username: string }>).map((u) => u.username)).not.toContain('ivan2');
    const weak = await runGatekeeper(env, ['user', 'password', 'ivan', '--password-stdin'], 'short\n');
    expect(weak.code).toBe(2);
    expect(weak.err).toContain('[EVALIDATION] a password must be 8 to 1024 characters long');
    expect((await auditOf('user.password', 'ivan')).map((e) => e.details.by)).toEqual(['admin', 'admin']);
  });

  it('a user changes their own password with the current one (the request npm profile set password sends): throttled, same rules, sessions end', async () => {
    expect((await s.t.api('POST', '/users', { username: 'nina', password: 'nina-password', role: 'developer' })).status).toBe(201);
    const token = await loginToken(s.t.url, 'nina', 'nina-password');
    const cookie = await signIn('nina', 'nina-password');
    const profile = { email: '', fullname: '' };
    const refusal = async (res: Response) => [res.status, ((await res.json()) as { code: string }).code];

    // The new one follows the rules, checked before the current one (a refused new password costs no attempt).
    expect(await refusal(await npmProfileSet(token, { ...profile, password: { old: 'nina-password', new: 'short' } }))).toEqual([400, 'EVALIDATION']);
    expect(await refusal(await npmProfileSet(token, { ...profile, password: { old: 'nina-password', new: 'nina-password' } }))).toEqual([400, 'EVALIDATION']);
    expect(await refusal(await npmProfileSet(token, { ...profile, password: 'nina-new-password' }))).toEqual([400, 'EVALIDATION']);
    // Other properties are not kept here: refused, and not with a pointer to a command that does not exist.
    const email = await npmProfileSet(token, { ...profile, email: 'nina@example.test' });
    const emailBody = (await email.json()) as { code: string; error: string };
    expect([email.status, emailBody.code]).toEqual([403, 'ENOTSUPPORTED']);
    expect(emailBody.error).toBe("[ENOTSUPPORTED] the profile's 'email' cannot be changed here: this registry keeps no such profile. Only the password can be changed, with 'npm profile set password'");

    // A wrong current password is a failed password check like any other: counted, then throttled.
    const wrong = await npmProfileSet(token, { ...profile, password: { old: 'not-the-password', new: 'nina-new-password' } });
    const wrongBody = (await wrong.json()) as { code: string; error: string };
    expect([wrong.status, wrongBody.code]).toEqual([401, 'EBADCREDENTIALS']);
    expect(wrongBody.error).toMatch(/^\[EBADCREDENTIALS\] the current password of nina is wrong, so it was not changed\. .*gatekeeper user password nina/);
    for (let i = 0; i < 2; i++) await npmProfileSet(token, { ...profile, password: { old: 'not-the-password', new: 'nina-new-password' } });
    const throttled = await npmProfileSet(token, { ...profile, password: { old: 'nina-password', new: 'nina-new-password' } });
    expect([throttled.status, ((await throttled.json()) as { code: string }).code]).toEqual([429, 'ETOOMANYATTEMPTS']);
    expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
    await clearThrottle();
    expect(await loginCode('nina', 'nina-password')).toBe('ok');

    const changed = await npmProfileSet(token, { ...profile, password: { old: 'nina-password', new: 'nina-new-password' } });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ name: 'nina', role: 'developer' });
    expect(await loginCode('nina', 'nina-password')).toBe('EBADCREDENTIALS');
    expect(await loginCode('nina', 'nina-new-password')).toBe('ok');
    expect(await sessionStatus(cookie)).toEqual([401, 'ETOKENREVOKED']);
    expect(await tokenStatus(token)).toBe(200);
    const [entry] = await auditOf('user.password', 'nina');
    expect(entry).toMatchObject({ actor: 'nina', details: { username: 'nina', by: 'self', via: 'npm profile set password', revokedSessions: 1 } });
    // A service account's scoped token changes nothing.
    const sa = await s.t.api('POST', '/service-accounts/ci-reader/tokens', { scope: 'read', expires: '1d' });
    expect(await refusal(await npmProfileSet(sa.body.token, { ...profile, password: { old: 'x', new: 'some-new-password' } }))).toEqual([403, 'ETOKENSCOPE']);
  });

  const NPMS = [
    { id: 'npm (the machine’s)', cli: resolveNpmCli() ?? undefined },
    { id: 'npm 10', cli: path.join(CLIENTS_DIR, 'npm10/bin/npm-cli.js') },
    { id: 'npm 9', cli: path.join(CLIENTS_DIR, 'npm9/bin/npm-cli.js') },
  ];

  it.each(NPMS)('$id: npm profile set password asks for the current and the new password and changes it', async ({ id, cli }) => {
    const username = `pw-${id.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '').toLowerCase()}`;
    expect((await s.t.api('POST', '/users', { username, password: `${username}-old`, role: 'developer' })).status).toBe(201);
    const token = await loginToken(s.t.url, username, `${username}-old`);
    await s.npm.setToken(token);
    const prompts = [
      { expect: 'Current password:', send: `${username}-old` },
      { expect: 'New password:', send: `${username}-new` },
      { expect: 'Again:', send: `${username}-new` },
    ];
    const result = await s.npm.run(['profile', 'set', 'password'], { prompts, cli });
    expect({ id, code: result.code, output: result.output }).toMatchObject({ id, code: 0, output: expect.stringContaining('Set password') });
    expect(await loginCode(username, `${username}-old`)).toBe('EBADCREDENTIALS');
    expect(await loginCode(username, `${username}-new`)).toBe('ok');
    // A wrong current password: npm shows our refusal.
    const wrong = await s.npm.run(['profile', 'set', 'password'], {
      cli,
      prompts: [
        { expect: 'Current password:', send: 'not-the-password' },
        { expect: 'New password:', send: `${username}-newer` },
        { expect: 'Again:', send: `${username}-newer` },
      ],
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toContain('the current password of');
    await clearThrottle();
    expect((await auditOf('user.password', username)).map((e) => e.details.via)).toEqual(['npm profile set password']);
  });
});

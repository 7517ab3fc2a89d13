/**
 * Defects a hostile sweep of the admin API found, each pinned by the request that showed it:
 * empty bodies, unknown query parameters and flags, blank ranges, lenient dates, token ids
 * told apart, usernames differing only in case, no-op and field-less writes, and projects
 * overwritten by someone else.
 */
import http from 'node:http';
import { migrations, migrationSource } from '../../migrations';
import { createKnex, Knex, migrateLatest } from '../../src/db/connection';
import { Store } from '../../src/db/store';
import { IdentityService } from '../../src/services/identity';
import { createTestDatabase, TestDatabase, whileLocked } from '../support/database';
import { loginToken } from '../support/gatekeeper';
import { gatekeeperSuite } from '../support/suite';

const API = '/-/gatekeeper/v1';

interface Raw {
  status: number;
  body: { code?: string; error?: string; [key: string]: unknown };
  headers: http.IncomingHttpHeaders;
}

/** One request exactly as given (headers and framing), which fetch would not send. */
function raw(base: string, method: string, path: string, headers: Record<string, string>, chunks: string[] | undefined): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(`${API}${path}`, base), { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: Raw['body'] = {};
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          body = { error: text };
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    for (const c of chunks ?? []) req.write(c);
    req.end();
  });
}

describe('admin API hardening', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'harden-ok', versions: [{ version: '1.0.0', license: 'MIT' }] }], policyMode: 'none', npm: false });
  let developerToken: string;
  let readerToken: string;

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'harden-dev', password: 'harden-dev-password', role: 'developer' });
    await s.t.api('POST', '/users', { username: 'harden-reader', password: 'harden-reader-password', role: 'reader' });
    developerToken = await loginToken(s.t.url, 'harden-dev', 'harden-dev-password');
    readerToken = await loginToken(s.t.url, 'harden-reader', 'harden-reader-password');
  });

  describe('an empty body is no body', () => {
    const json = { 'content-type': 'application/json' };
    const empty = { ...json, 'content-length': '0' };
    const chunked = { ...json, 'transfer-encoding': 'chunked' };

    it('answers a write without body fields as if no body was sent (Bearer token), declared empty or chunked', async () => {
      const auth = { authorization: `Bearer ${s.t.adminToken}` };
      const ban = await s.t.api('POST', '/bans', { name: 'harden-ok', range: '0.0.1', reason: 'empty body test' });
      expect(ban.status).toBe(201);
      for (const framing of [empty, chunked]) {
        const missing = await raw(s.t.url, 'DELETE', '/bans/999999', { ...auth, ...framing }, framing === chunked ? [''] : undefined);
        expect([missing.status, missing.body.code]).toEqual([404, 'ENOTFOUND']);
        expect(missing.body.error).not.toMatch(/stream/);
      }
      const removed = await raw(s.t.url, 'DELETE', `/bans/${ban.body.id}`, { ...auth, ...empty }, undefined);
      expect(removed.status).toBe(200);
    });

    it('refuses an empty body with a 400 naming the fields where the route needs them', async () => {
      const auth = { authorization: `Bearer ${s.t.adminToken}` };
      for (const framing of [empty, chunked]) {
        const res = await raw(s.t.url, 'POST', '/bans', { ...auth, ...framing }, framing === chunked ? [''] : undefined);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatch(/^\[(EVALIDATION|EINVALIDNAME)\] /);
        expect(res.body.error).not.toMatch(/stream|not readable/);
      }
    });

    it('signs in with a cookie session and writes and signs out with an empty body (cookie and CSRF token)', async () => {
      const signIn = await fetch(`${s.t.url}${API.slice(1)}/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'harden-dev', password: 'harden-dev-password' }),
      });
      expect(signIn.status).toBe(201);
      const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('gk_session=gks_'))!.split(';')[0];
      const { csrfToken } = (await signIn.json()) as { csrfToken: string };
      const session = { cookie, 'x-gatekeeper-csrf': csrfToken };
      const other = await raw(s.t.url, 'DELETE', '/tokens/999999', { ...session, ...empty }, undefined);
      expect([other.status, other.body.code]).toEqual([404, 'ENOTFOUND']);
      const out = await raw(s.t.url, 'DELETE', '/session', { ...session, ...empty }, undefined);
      expect(out.status).toBe(200);
      // Sign-in with an empty body: no credentials, a 400 (not a 500).
      const noCredentials = await raw(s.t.url, 'POST', '/session', empty, undefined);
      expect(noCredentials.status).toBeGreaterThanOrEqual(400);
      expect(noCredentials.status).toBeLessThan(500);
    });
  });
  describe('query parameters', () => {
    const get = (path: string, token = s.t.adminToken) => s.t.api('GET', path, undefined, token);

    it('refuses a flag that is neither true nor false, naming the parameter and what it takes', async () => {
      for (const value of ['1', 'yes', 'TRUE', '', '0']) {
        for (const [path, flag] of [['/requests', 'mine'], ['/tags', 'all']]) {
          const res = await get(`${path}?${flag}=${value}`);
          expect([path, value, res.status, res.body.code]).toEqual([path, value, 400, 'EVALIDATION']);
          expect(res.body.error).toBe(`[EVALIDATION] query parameter '${flag}' is a flag: give ${flag}=true or ${flag}=false, not '${value}'`);
        }
      }
      for (const value of ['true', 'false']) {
        expect((await get(`/requests?mine=${value}`)).status).toBe(200);
        expect((await get(`/tags?all=${value}`)).status).toBe(200);
      }
    });

    it('refuses a query parameter the route does not take, naming it and what the route takes', async () => {
      const bans = await get('/bans?tag=x');
      expect([bans.status, bans.body.error]).toEqual([400, '[EVALIDATION] list_bans does not take the query parameter tag. It takes name, cursor, limit (see openapi.json)']);
      for (const path of ['/audit?bogus=1', '/approvals?bogus=1', '/users?limit=5', '/requests?mine=true&bogus=1']) {
        const res = await get(path);
        expect([path, res.status, res.body.code]).toEqual([path, 400, 'EVALIDATION']);
        expect(res.body.error).toMatch(/does not take the query parameter bogus|does not take the query parameter limit\. It takes no query parameters/);
      }
      // The declared ones still work, and openapi.json lists them, flags as booleans.
      expect((await get('/approvals?tag=nope&limit=5')).status).toBeLessThan(500);
      const doc = (await s.t.api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string; schema: { type: string } }> }>> };
      const listed = doc.paths['/-/gatekeeper/v1/requests'].get.parameters.filter((p) => p.in === 'query');
      expect(listed.map((p) => [p.name, p.schema.type])).toEqual([
        ['status', 'string'],
        ['mine', 'boolean'],
        ['cursor', 'string'],
        ['limit', 'string'],
      ]);
    });
  });
  it('refuses a blank range on every route that takes one, instead of storing it as an empty string', async () => {
    const routes: Array<[string, Record<string, unknown>]> = [
      ['/approvals', { name: 'harden-ok', reason: 'r' }],
      ['/bans', { name: 'harden-ok', reason: 'r' }],
      ['/policy/exemptions', { rule: 'release-age', name: 'harden-ok', reason: 'r' }],
      ['/licenses/waivers', { name: 'harden-ok', reason: 'r' }],
      ['/requests', { name: 'harden-ok', reason: 'r' }],
      ['/advisories/malware', { name: 'harden-ok', reason: 'r' }],
    ];
    for (const [path, body] of routes) {
      for (const range of [' ', '\u2028']) {
        const res = await s.t.api('POST', path, { ...body, range });
        expect([path, JSON.stringify(range), res.status, res.body.code]).toEqual([path, JSON.stringify(range), 400, 'EINVALIDRANGE']);
        expect(res.body.error).toContain("Give '*' for every version");
      }
    }
  });
  it('reads every date strictly as ISO 8601: no rolled-over days, no other formats, the whole year 9999', async () => {
    for (const path of ['/approvals', '/licenses/waivers']) {
      for (const expiresAt of ['2030-02-30', 'Tue, 01 Jan 2030 00:00:00 GMT', '2030', '2030-01-01T12:00']) {
        const res = await s.t.api('POST', path, { name: 'harden-ok', range: '^9.0.0', reason: 'dates', expiresAt });
        expect([path, expiresAt, res.status, res.body.code]).toEqual([path, expiresAt, 400, 'EVALIDATION']);
        expect(res.body.error).toMatch(/^\[EVALIDATION\] expiresAt '.+' /);
        expect(res.body.error).toMatch(/2027-01-31/);
      }
      const last = await s.t.api('POST', path, { name: 'harden-ok', range: '^9.0.0', reason: 'the last millisecond', expiresAt: '9999-12-31T23:59:59.999Z' });
      expect([path, last.status, last.body.expiresAt]).toEqual([path, 201, '9999-12-31T23:59:59.999Z']);
    }
    for (const since of ['0', '-1', '2030', '2030-02-30', 'Tue, 01 Jan 2030 00:00:00 GMT']) {
      const res = await s.t.api('GET', `/audit?since=${encodeURIComponent(since)}`);
      expect([since, res.status, res.body.code]).toEqual([since, 400, 'EVALIDATION']);
      expect(res.body.error).toMatch(/^\[EVALIDATION\] since '.+' /);
    }
    expect((await s.t.api('GET', '/audit?since=2024-05-01&until=2099-01-01T00:00:00%2B02:00')).status).toBe(200);
  });
  it("answers a non-admin's revoke of another user's token exactly as one of a token that does not exist", async () => {
    const tokens = (await s.t.api('GET', '/tokens?username=harden-reader')).body.items as Array<{ id: number; revokedAt: string | null }>;
    const readers = tokens.find((t) => !t.revokedAt);
    expect(readers).toBeDefined();
    const theirs = await s.t.api('DELETE', `/tokens/${readers?.id}`, undefined, developerToken);
    const missing = await s.t.api('DELETE', '/tokens/999999', undefined, developerToken);
    expect([theirs.status, theirs.body.code]).toEqual([404, 'ENOTFOUND']);
    expect(theirs.body.error.replace(String(readers?.id), 'N')).toBe(missing.body.error.replace('999999', 'N'));
    expect(theirs.body.error).toBe(`[ENOTFOUND] there is no token ${readers?.id} of yours. 'gatekeeper token list' lists yours`);
    // The reader's token still works; an admin may still revoke it.
    expect((await s.t.api('GET', '/whoami', undefined, readerToken)).status).toBe(200);
  });
  it('refuses a username equal to an existing one without regard to case, for users and service accounts, also when created at the same moment', async () => {
    for (const username of ['ADMIN', 'Harden-Dev']) {
      const res = await s.t.api('POST', '/users', { username, password: 'some-password', role: 'reader' });
      expect([username, res.status, res.body.code]).toEqual([username, 409, 'ECONFLICT']);
      expect(res.body.error).toBe(
        `[ECONFLICT] the username '${username}' is taken: the user '${username.toLowerCase()}' exists, and usernames are unique without regard to case. Choose another username`,
      );
    }
    const service = await s.t.api('POST', '/service-accounts/HARDEN-READER/tokens', { scope: 'read', expires: '1d' });
    expect([service.status, service.body.code]).toEqual([409, 'ECONFLICT']);
    expect(service.body.error).toMatch(/^\[ECONFLICT\] the username 'HARDEN-READER' is taken: the user 'harden-reader' exists, .* Pick another name for the service account$/);
    // A service account first, then a user of the same name in other letters.
    expect((await s.t.api('POST', '/service-accounts/harden-ci/tokens', { scope: 'read', expires: '1d' })).status).toBe(201);
    expect((await s.t.api('POST', '/users', { username: 'Harden-CI', password: 'some-password', role: 'reader' })).status).toBe(409);
    // Two at once: the index decides, and the loser gets the same 409 (not a 500).
    const raced = await Promise.all(['Race-User', 'race-user', 'RACE-USER'].map((username) => s.t.api('POST', '/users', { username, password: 'race-password', role: 'reader' })));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const r of raced.filter((r) => r.status === 409)) expect(r.body.error).toMatch(/^\[ECONFLICT\] the username '.+' is taken: .*unique without regard to case/);
    const users = (await s.t.api('GET', '/users')).body.items as Array<{ username: string }>;
    expect(users.filter((u) => u.username.toLowerCase() === 'race-user')).toHaveLength(1);
  });
  it('refuses a license policy change that names nothing, and neither audits nor bumps the generation for one that changes nothing', async () => {
    const audited = async () => ((await s.t.api('GET', '/audit?action=license.policy&limit=500')).body.items as unknown[]).length;
    const before = await audited();
    const empty = await s.t.api('PUT', '/licenses', {});
    expect([empty.status, empty.body.error]).toEqual([400, '[EVALIDATION] the change names nothing to change. Give at least one of allow, deny, unknown']);
    const current = (await s.t.api('GET', '/licenses')).body as { allow: string[]; deny: string[]; unknown: string };
    const generation = (await s.t.api('GET', '/policy')).body.generation;
    const same = await s.t.api('PUT', '/licenses', { allow: current.allow, deny: current.deny, unknown: current.unknown });
    expect(same.status).toBe(200);
    expect(await audited()).toBe(before);
    expect((await s.t.api('GET', '/policy')).body.generation).toBe(generation);
    // A real change is still made and audited.
    expect((await s.t.api('PUT', '/licenses', { deny: [...current.deny, 'BUSL-1.1'] })).status).toBe(200);
    expect(await audited()).toBe(before + 1);
    expect((await s.t.api('PUT', '/licenses', { deny: current.deny })).status).toBe(200);
  });

  it('keeps every one of concurrent policy changes to different settings: each merges into what the one before it wrote', async () => {
    const knex = s.t.gk.database.knex;
    /** Starts the changes while a transaction holds the policy's state row, and lets them go once all of them wait for it. */
    const racing = async (changes: Array<() => Promise<{ status: number }>>) =>
      (await whileLocked(knex, (trx) => trx('policy_state').where({ id: 1 }).forUpdate().first('id'), () => changes.map((change) => change()), changes.length)).map((a) => a.status);
    const rules = ['deprecated', 'scripts', 'manifest'];
    for (const mode of ['enforce', 'warn']) {
      expect(await racing(rules.map((rule) => () => s.t.api('PATCH', '/policy', { [rule]: { mode } })))).toEqual([200, 200, 200]);
      const after = (await s.t.api('GET', '/policy')).body.rules as Record<string, { mode: string }>;
      expect(Object.fromEntries(rules.map((r) => [r, after[r].mode]))).toEqual(Object.fromEntries(rules.map((r) => [r, mode])));
    }
    const current = (await s.t.api('GET', '/licenses')).body as { deny: string[]; unknown: string };
    const unknown = current.unknown === 'block' ? 'allow' : 'block';
    expect(await racing([() => s.t.api('PUT', '/licenses', { unknown }), () => s.t.api('PUT', '/licenses', { deny: [...current.deny, 'BUSL-1.1'] })])).toEqual([200, 200]);
    expect((await s.t.api('GET', '/licenses')).body).toMatchObject({ unknown, deny: [...current.deny, 'BUSL-1.1'] });
    expect((await s.t.api('PUT', '/licenses', { unknown: current.unknown, deny: current.deny })).status).toBe(200);
  });

  it('refuses a body with fields on a route that takes none, naming the field; {} and no body stay fine', async () => {
    const ban = (await s.t.api('POST', '/bans', { name: 'harden-ok', range: '0.0.2', reason: 'fields' })).body as { id: number };
    const withField = await s.t.api('DELETE', `/bans/${ban.id}`, { zzz: 1 });
    expect([withField.status, withField.body.error]).toEqual([400, '[EVALIDATION] delete_ban does not take the field zzz. It takes no body: send none, or {}']);
    const notObject = await s.t.api('DELETE', `/bans/${ban.id}`, [1]);
    expect([notObject.status, notObject.body.code]).toEqual([400, 'EVALIDATION']);
    expect((await s.t.api('DELETE', `/bans/${ban.id}`, {})).status).toBe(200);
    expect((await s.t.api('DELETE', '/tokens/999999', { reason: 'x' })).status).toBe(400);
    // Cancelling a request takes a comment (what gatekeeper requests cancel sends), and nothing else.
    const request = (await s.t.api('POST', '/requests', { name: 'harden-ok', range: '^1.0.0', reason: 'to cancel' }, developerToken)).body as { id: number };
    const zzz = await s.t.api('POST', `/requests/${request.id}/cancel`, { zzz: 1 }, developerToken);
    expect([zzz.status, zzz.body.error]).toEqual([400, '[EVALIDATION] cancel_request does not take the field zzz. It takes comment (see openapi.json)']);
    const cancelled = await s.t.api('POST', `/requests/${request.id}/cancel`, { comment: 'not needed after all' }, developerToken);
    expect([cancelled.status, cancelled.body.status]).toEqual([200, 'cancelled']);
  });
  it("keeps a recorded project version its recorder's: others get 403 naming who recorded it, and its usage and impact stay", async () => {
    const project = { name: 'payments', version: '1.0.0', format: 'npm' };
    const evil = { name: 'evil-pkg', version: '1.0.0' };
    const flagged = await s.t.api('POST', '/advisories/malware', { name: 'evil-pkg', reason: 'exfiltrates tokens' });
    expect(flagged.status).toBe(201);
    expect((await s.t.api('POST', '/projects', { ...project, entries: [evil] })).status).toBe(201);
    const impact = async () => (await s.t.api('GET', '/advisories/impact?package=evil-pkg')).body.items as Array<{ state: string; projects: unknown[] }>;
    expect((await impact()).map((r) => r.state)).toEqual(['open']);

    for (const token of [readerToken, developerToken]) {
      const other = await s.t.api('POST', '/projects', { ...project, entries: [{ name: 'harden-ok', version: '1.0.0' }] }, token);
      expect([other.status, other.body.error]).toEqual([
        403,
        '[EFORBIDDEN] the project payments@1.0.0 was recorded by admin; only they or an admin may record it again. Record your lockfile under another project version or name, or ask admin to record it',
      ]);
      const viaCheck = await s.t.api('POST', '/lockfile/check', { entries: [{ name: 'harden-ok', version: '1.0.0' }], project }, token);
      expect([viaCheck.status, viaCheck.body.code]).toEqual([403, 'EFORBIDDEN']);
    }
    expect((await s.t.api('GET', '/usage/evil-pkg@1.0.0')).body.projects).toEqual([expect.objectContaining({ project: 'payments', projectVersion: '1.0.0' })]);
    expect((await impact()).map((r) => r.state)).toEqual(['open']);

    // The recorder records it again (a developer's own project), and an admin may replace anyone's.
    const own = { name: 'dev-app', version: '2.0.0', format: 'npm' };
    expect((await s.t.api('POST', '/projects', { ...own, entries: [evil] }, developerToken)).status).toBe(201);
    expect((await s.t.api('POST', '/projects', { ...own, entries: [{ name: 'harden-ok', version: '1.0.0' }] }, developerToken)).status).toBe(201);
    expect((await s.t.api('POST', '/projects', { ...own, entries: [evil] }, readerToken)).status).toBe(403);
    expect((await s.t.api('POST', '/projects', { ...own, entries: [evil] })).status).toBe(201);
  });

  describe('a write that sets what is already set: 200, no audit entry, no stored row rewritten', () => {
    type Entry = { details: Record<string, unknown> };
    const entries = async (action: string) => (await s.t.api('GET', `/audit?action=${action}&limit=500`)).body.items as Entry[];
    /** A table's row with its xmin, which every UPDATE of it renews (even one writing the same values). */
    const row = async (table: string, where: Record<string, unknown>, columns: string[]) => {
      const knex = s.t.gk.database.knex;
      return knex(table).where(where).first(...columns, knex.raw('xmin::text as xmin'));
    };

    it('PATCH /users {"disabled": true} on a disabled user: no second user.disable, disabled_at kept', async () => {
      expect((await s.t.api('POST', '/users', { username: 'harden-off', password: 'harden-off-password', role: 'developer' })).status).toBe(201);
      expect((await s.t.api('PATCH', '/users/harden-off', { disabled: true })).status).toBe(200);
      const stored = await row('users', { username: 'harden-off' }, ['disabled_at']);
      expect(stored.disabled_at).toBeInstanceOf(Date);
      const again = await s.t.api('PATCH', '/users/harden-off', { disabled: true });
      expect([again.status, again.body.disabledAt]).toEqual([200, stored.disabled_at.toISOString()]);
      expect(await row('users', { username: 'harden-off' }, ['disabled_at'])).toEqual(stored);
      expect((await entries('user.disable')).filter((e) => e.details.username === 'harden-off')).toHaveLength(1);
    });

    it('PATCH /users {"disabled": false} on an active user: no user.enable', async () => {
      expect((await s.t.api('POST', '/users', { username: 'harden-on', password: 'harden-on-password', role: 'developer' })).status).toBe(201);
      const stored = await row('users', { username: 'harden-on' }, ['disabled_at']);
      const res = await s.t.api('PATCH', '/users/harden-on', { disabled: false });
      expect([res.status, res.body.username, res.body.disabledAt]).toEqual([200, 'harden-on', null]);
      expect(await row('users', { username: 'harden-on' }, ['disabled_at'])).toEqual(stored);
      expect((await entries('user.enable')).filter((e) => e.details.username === 'harden-on')).toEqual([]);
    });

    it('PATCH /tags/:slug with the values it has: no tag.update, updated_by and updated_at kept; a real change audits only what changed', async () => {
      const created = await s.t.api('POST', '/tags', { name: 'Harden Tag', colour: '#36c', description: 'd' });
      expect(created.status).toBe(201);
      const id = created.body.id;
      const stored = await row('tags', { id }, ['name', 'slug', 'colour', 'description', 'updated_by', 'updated_at']);
      // The same values as sent before their normalisation (spaces, colour case and length).
      const same = await s.t.api('PATCH', '/tags/harden-tag', { name: ' Harden  Tag ', slug: 'harden-tag', colour: '#3366CC', description: ' d ' });
      expect([same.status, same.body.name, same.body.colour, same.body.description]).toEqual([200, 'Harden Tag', '#3366cc', 'd']);
      expect(await row('tags', { id }, ['name', 'slug', 'colour', 'description', 'updated_by', 'updated_at'])).toEqual(stored);
      const updates = async () => (await entries('tag.update')).filter((e) => e.details.id === id).map((e) => [e.details.from, e.details.to]);
      expect(await updates()).toEqual([]);
      expect((await s.t.api('PATCH', '/tags/harden-tag', { name: 'Harden Tag', description: 'e' })).status).toBe(200);
      expect(await updates()).toEqual([[{ description: 'd' }, { description: 'e' }]]);
    });

    it('PATCH /policy with a mode change and rule settings already set: policy.mode only, the rules row kept', async () => {
      const policy = async () => (await s.t.api('GET', '/policy')).body as { mode: string; generation: number; rules: Record<string, { mode: string }> };
      const before = await policy();
      const malware = before.rules.malware.mode;
      expect((await s.t.api('PATCH', '/policy', { malware: { mode: 'warn' } })).status).toBe(200);
      const rulesBefore = (await entries('policy.rules')).length;
      const modesBefore = (await entries('policy.mode')).length;
      const { rules } = await row('policy_state', { id: 1 }, ['rules']);
      const generation = (await policy()).generation;
      const other = before.mode === 'open' ? 'allowlist' : 'open';
      expect((await s.t.api('PATCH', '/policy', { mode: other, malware: { mode: 'warn' } })).status).toBe(200);
      expect((await entries('policy.rules')).length).toBe(rulesBefore);
      const modes = await entries('policy.mode');
      expect([modes.length, modes[0].details]).toEqual([modesBefore + 1, { from: before.mode, to: other }]);
      expect((await row('policy_state', { id: 1 }, ['rules'])).rules).toEqual(rules);
      expect(await policy()).toMatchObject({ mode: other, generation: generation + 1 });
      expect((await s.t.api('PATCH', '/policy', { mode: before.mode, malware: { mode: malware } })).status).toBe(200);
    });

    it('PUT /licenses with the stored lists in another order or with a repeat: no license.policy, no new generation, the stored order kept', async () => {
      const current = (await s.t.api('GET', '/licenses')).body as { allow: string[] };
      expect((await s.t.api('PUT', '/licenses', { allow: ['MIT', 'ISC'] })).status).toBe(200);
      const audited = (await entries('license.policy')).length;
      const generation = (await s.t.api('GET', '/policy')).body.generation;
      for (const allow of [['ISC', 'MIT'], ['ISC', 'MIT', 'ISC']]) {
        const res = await s.t.api('PUT', '/licenses', { allow });
        expect([res.status, res.body.allow]).toEqual([200, ['MIT', 'ISC']]);
      }
      expect((await entries('license.policy')).length).toBe(audited);
      expect((await s.t.api('GET', '/policy')).body.generation).toBe(generation);
      expect((await row('policy_state', { id: 1 }, ['license_allow'])).license_allow).toEqual(['MIT', 'ISC']);
      // A real change is stored in the order sent.
      expect((await s.t.api('PUT', '/licenses', { allow: ['ISC', '0BSD', 'MIT'] })).status).toBe(200);
      expect((await row('policy_state', { id: 1 }, ['license_allow'])).license_allow).toEqual(['ISC', '0BSD', 'MIT']);
      expect((await entries('license.policy')).length).toBe(audited + 1);
      expect((await s.t.api('PUT', '/licenses', { allow: current.allow })).status).toBe(200);
    });
  });
});

describe('migration 014: usernames unique without regard to case', () => {
  let db: TestDatabase;
  let knex: Knex;

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url, 2);
  });

  afterAll(async () => {
    await knex?.destroy();
    await db?.drop();
  });

  it('migrates a database that already holds names differing only in case, keeps them, and refuses any new one', async () => {
    const before = migrations.filter(([name]) => name < '014');
    await knex.migrate.latest({ migrationSource: { ...migrationSource, getMigrations: async () => [...before] } });
    for (const username of ['bob', 'Bob', 'BOB', 'carol']) await knex('users').insert({ username, password_hash: '!', role: 'developer' });
    await expect(migrateLatest(knex)).resolves.toContain('014_username_case');
    expect((await knex('users').orderBy('id').select('username')).map((r: { username: string }) => r.username)).toEqual(['bob', 'Bob', 'BOB', 'carol']);
    // The index refuses a new one, race-free; the service names the oldest.
    for (const username of ['bOb', 'CAROL']) {
      await expect(knex('users').insert({ username, password_hash: '!', role: 'developer' })).rejects.toMatchObject({ code: '23505', constraint: 'users_username_lower_unique' });
    }
    const identity = new IdentityService(new Store(knex), { allowSelfRegistration: false });
    await expect(identity.createUser({ username: 'test' }, { username: 'boB', password: 'long-enough-password', role: 'reader' })).rejects.toMatchObject({
      code: 'ECONFLICT',
      message: "the username 'boB' is taken: the user 'bob' exists, and usernames are unique without regard to case. Choose another username",
    });
    expect((await identity.createUser({ username: 'test' }, { username: 'dave', password: 'long-enough-password', role: 'reader' })).username).toBe('dave');
    // And back (the migrations after 014 first).
    while ((await knex.migrate.currentVersion({ migrationSource })) >= '014') await knex.migrate.down({ migrationSource });
    await knex('users').insert({ username: 'DAVE', password_hash: '!', role: 'developer' });
  });
});

/**
 * Refusals by role: the next step in a refusal's body and status text depends on who asks
 * (a developer is told how to request, an admin how to approve), including responses served
 * from the packument cache and its fast path; the 401 under GATEKEEPER_REQUIRE_AUTH names
 * each client's setting for sending its token.
 */
import { loginToken } from '../support/gatekeeper';
import { gatekeeperSuite } from '../support/suite';

const get = async (base: string, urlPath: string, token?: string) => {
  const res = await fetch(new URL(urlPath, base), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await res.json()) as { error?: string };
  return { status: res.status, statusText: res.statusText, error: body.error ?? '' };
};

describe('refusals by role', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'role-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], policyMode: 'allowlist', npm: false });
  let developer: string;

  beforeAll(async () => {
    expect((await s.t.api('POST', '/users', { username: 'dev1', password: 'dev1-password', role: 'developer' })).status).toBe(201);
    developer = await loginToken(s.t.url, 'dev1', 'dev1-password');
  });

  const asks = (text: string) => {
    expect(text).toContain('[ENOTAPPROVED] role-fixture@1.0.0 is not approved');
    expect(text).toContain('gatekeeper request role-fixture@1.0.0');
    expect(text).not.toContain('gatekeeper approve');
  };
  const approves = (text: string) => {
    expect(text).toContain('[ENOTAPPROVED] role-fixture@1.0.0 is not approved');
    expect(text).toContain('gatekeeper approve role-fixture@1.0.0');
    expect(text).not.toContain('gatekeeper request ');
  };

  it('packument: an admin is told how to approve, a developer and an anonymous caller how to ask, cached or not', async () => {
    // Each audience twice: the second answer comes from the cache (for anonymous and cached tokens, its fast path).
    for (let round = 0; round < 2; round++) {
      const admin = await get(s.t.url, 'role-fixture', s.t.adminToken);
      expect(admin.status).toBe(403);
      approves(admin.statusText);
      approves(admin.error);
      for (const token of [developer, undefined]) {
        const dev = await get(s.t.url, 'role-fixture', token);
        expect(dev.status).toBe(403);
        asks(dev.statusText);
        asks(dev.error);
      }
    }
    expect(s.t.gk.runtime.packuments.stats().hits).toBeGreaterThan(0);
  });

  it('tarball and version: the same next steps by role', async () => {
    for (const urlPath of ['role-fixture/-/role-fixture-1.0.0.tgz', 'role-fixture/1.0.0']) {
      const admin = await get(s.t.url, urlPath, s.t.adminToken);
      expect([urlPath, admin.status]).toEqual([urlPath, 403]);
      approves(admin.statusText);
      approves(admin.error);
      for (const token of [developer, undefined]) {
        const dev = await get(s.t.url, urlPath, token);
        expect([urlPath, dev.status]).toEqual([urlPath, 403]);
        asks(dev.statusText);
        asks(dev.error);
      }
    }
  });
});

describe('the 401 under GATEKEEPER_REQUIRE_AUTH', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'auth-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { requireAuth: true }, policyMode: 'none', npm: false });

  it('says how to log in and which setting makes each client send its token, in the body and the status text', async () => {
    for (const urlPath of ['auth-fixture', 'auth-fixture/-/auth-fixture-1.0.0.tgz']) {
      const res = await get(s.t.url, urlPath);
      expect([urlPath, res.status]).toEqual([urlPath, 401]);
      for (const text of [res.statusText, res.error]) {
        expect(text).toContain('[EUNAUTHENTICATED] this registry requires a login');
        expect(text).toContain(`npm login --registry ${s.t.url}`);
        expect(text).toContain('always-auth=true');
        expect(text).toContain('npmAlwaysAuth: true');
        expect(text).toContain('pnpm and bun');
        // Whole: not cut at the status text's bound.
        expect(text).toContain('docs/clients.md)');
      }
    }
    const audit = await fetch(new URL('-/npm/v1/security/advisories/bulk', s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(audit.status).toBe(401);
    expect(audit.statusText).toContain('npmAlwaysAuth');
  });
});

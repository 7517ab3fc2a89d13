/**
 * GATEKEEPER_TRUST_PROXY: behind a load balancer every client shares its address, so login
 * throttling per address would throttle everyone at once, or (were X-Forwarded-For believed
 * from anyone) let an attacker name a fresh address per guess. X-Forwarded-For is believed only
 * from the configured proxies, read from its right end: a client's own entries count for nothing.
 * Real gatekeeper and PostgreSQL; requests come from distinct loopback addresses.
 */
import { couchLogin, Reply, requestFrom } from '../support/http';
import { gatekeeperSuite } from '../support/suite';

const PROXY = '127.0.0.41';
const OTHER = '127.0.0.42';

describe('trusted proxies and client addresses', () => {
  const s = gatekeeperSuite({
    packages: [{ name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }],
    settings: { trustProxy: [PROXY], loginMaxFailuresPerAddress: 3, loginMaxFailuresPerUser: 100 },
    policyMode: 'none',
    npm: false,
  });
  const codes = (replies: Reply[]) => replies.map((r) => `${r.status} ${r.body.code}`);
  const fails = (n: number, prefix: string, from: string, forwarded: (i: number) => string | undefined) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => {
        const xff = forwarded(i);
        return couchLogin(s.t.url, `${prefix}-${i}`, 'wrong', { from, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
      }),
    );

  beforeAll(async () => {
    expect((await s.t.api('POST', '/users', { username: 'dev', password: 'dev-password', role: 'developer' })).status).toBe(201);
  });

  it('counts the forwarded client behind a trusted proxy, not the proxy', async () => {
    expect(codes(await fails(3, 'a', PROXY, () => '198.51.100.1'))).toEqual(new Array(3).fill('401 EBADCREDENTIALS'));
    const fourth = await couchLogin(s.t.url, 'dev', 'dev-password', { from: PROXY, headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect([fourth.status, fourth.body.code]).toEqual([429, 'ETOOMANYATTEMPTS']);
    expect(fourth.body.error).toContain('from your address');
    // Another client behind the same proxy is not throttled, and the proxy itself is not.
    expect((await couchLogin(s.t.url, 'dev', 'dev-password', { from: PROXY, headers: { 'x-forwarded-for': '198.51.100.2' } })).status).toBe(201);
    expect((await couchLogin(s.t.url, 'dev', 'dev-password', { from: PROXY })).status).toBe(201);
    // The audit names the client.
    const rows = await s.t.gk.database.knex('audit_log').where({ action: 'user.login_throttled' }).whereRaw(`details->>'key' = ?`, ['198.51.100.1']);
    expect(rows.map((r: { actor_ip: string }) => r.actor_ip)).toEqual(['198.51.100.1']);
  });

  it("ignores what the client put in front of the proxy's entry", async () => {
    // Each guess claims another origin on the left; the proxy appends the real one on the right.
    const replies = await fails(3, 'b', PROXY, (i) => `203.0.113.${i}, 198.51.100.3`);
    expect(codes(replies)).toEqual(new Array(3).fill('401 EBADCREDENTIALS'));
    const next = await couchLogin(s.t.url, 'dev', 'dev-password', { from: PROXY, headers: { 'x-forwarded-for': '203.0.113.99, 198.51.100.3' } });
    expect(next.status).toBe(429);
  });

  it('does not believe X-Forwarded-For from an address that is not a trusted proxy', async () => {
    const replies = await fails(3, 'c', OTHER, (i) => `198.51.100.${10 + i}`);
    expect(codes(replies)).toEqual(new Array(3).fill('401 EBADCREDENTIALS'));
    const next = await couchLogin(s.t.url, 'dev', 'dev-password', { from: OTHER, headers: { 'x-forwarded-for': '198.51.100.50' } });
    expect([next.status, next.body.code]).toEqual([429, 'ETOOMANYATTEMPTS']);
    const rows = await s.t.gk.database.knex('audit_log').where({ action: 'user.login_throttled' }).whereRaw(`details->>'key' = ?`, [OTHER]);
    expect(rows).toHaveLength(1);
  });

  it('serves warm reads behind a TLS-terminating proxy from the fast path, with https tarball URLs', async () => {
    const read = (from: string) => requestFrom(s.t.url, 'GET', 'plain-fixture', { from, headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.60' } });
    const tarballOf = (r: Reply) => (r.body as { versions: Record<string, { dist: { tarball: string } }> }).versions['1.0.0'].dist.tarball;
    expect((await s.t.api('POST', '/approvals', { name: 'plain-fixture', reason: 'read behind a proxy' })).status).toBe(201);
    const first = await read(PROXY);
    expect(first.status).toBe(200);
    expect(tarballOf(first)).toMatch(/^https:\/\//);
    // Verdaccio's express stack sets x-powered-by; the fast path, which answers before it, does not.
    expect(first.headers['x-powered-by']).toBeDefined();
    const again = await read(PROXY);
    expect(again.status).toBe(200);
    expect(again.headers['x-powered-by']).toBeUndefined();
    expect(again.text).toBe(first.text);
    // From an address that is not a trusted proxy the header is not believed, on either path.
    const other = await read(OTHER);
    expect(tarballOf(other)).toMatch(/^http:\/\//);
    const otherAgain = await read(OTHER);
    expect(otherAgain.headers['x-powered-by']).toBeUndefined();
    expect(tarballOf(otherAgain)).toMatch(/^http:\/\//);
  });
});

/**
 * A policy change made through one gatekeeper holds on the very next request to every other
 * gatekeeper on the database: the admin API answers only after every listening process has
 * handled the change's announcement (PolicyCache.invalidated, ChannelListener.barrier), and a
 * process that has handled it serves nothing decided with the policy before it, not from its
 * fast path nor from its cached decisions and packuments, until the new policy has loaded
 * (PolicyCache.settled).
 *
 * A is in this process; B is a separate `gatekeeper start` process (the build output) whose
 * database connections go through a relay, so that B can be made to learn of a change late
 * (its answers delayed) as a second instance farther from the database does. Nothing here
 * waits between the change's answer and the request that must see it.
 */
import fs from 'node:fs';
import { makeReachableTempDir } from '../../src/db/embedded';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { loginToken, startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { GatekeeperProcess, spawnGatekeeper } from '../support/process';
import { relayTo } from '../support/relay';

const PACKUMENT = 'beta';
const TARBALL = 'beta/-/beta-1.0.0.tgz';

describe('a policy change made through one gatekeeper, on the next request to another', () => {
  let upstream: FixtureRegistry;
  let a: TestGatekeeper;
  let b: GatekeeperProcess;
  let relay: Awaited<ReturnType<typeof relayTo>>;
  let dataDir: string;

  const get = async (target: string): Promise<{ status: number; code?: string; versions?: string[] }> => {
    const res = await fetch(new URL(target, b.url));
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status === 200 && target.endsWith('.tgz')) return { status: 200, code: undefined, versions: undefined };
    const body = JSON.parse(bytes.toString('utf8')) as { code?: string; versions?: Record<string, unknown> };
    return { status: res.status, code: body.code, versions: body.versions ? Object.keys(body.versions) : undefined };
  };

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'beta', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] }]);
    a = await startTestGatekeeper({ upstream: upstream.url });
    relay = await relayTo(new URL(a.db.url));
    dataDir = makeReachableTempDir('gk-propagation-b-');
    b = await spawnGatekeeper({ GATEKEEPER_DATABASE_URL: relay.url, GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url });
    expect((await a.api('POST', '/approvals', { name: 'beta', reason: 'policy propagation test' })).status).toBe(201);
  });

  afterAll(async () => {
    relay?.delay(0);
    if (b) expect(await b.stop()).toBe(0);
    await a?.close();
    await relay?.close();
    await upstream?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** B serves 1.0.0 again (the ban is gone), warm: its packument cached and its tarball decided. */
  const warm = async () => {
    await eventually(async () => (await get(TARBALL)).status === 200, 'B to serve beta@1.0.0 again', 30_000);
    for (let i = 0; i < 2; i++) {
      expect(await get(TARBALL)).toEqual({ status: 200, code: undefined, versions: undefined });
      expect((await get(PACKUMENT)).versions).toEqual(['1.0.0', '1.1.0']);
    }
  };

  it.each([
    ['B learns of changes at once', 0, 10],
    ['B learns of changes 300 ms late', 300, 6],
  ])('a ban is enforced by the other process on its next request, every round (%s)', async (_what, delayMs, rounds) => {
    relay.delay(delayMs, 'answers');
    for (let round = 0; round < rounds; round++) {
      await warm();
      const ban = await a.api('POST', '/bans', { name: 'beta', range: '1.0.0', reason: `race round ${round}` });
      expect(ban.status).toBe(201);
      // At once, the tarball first: the fast path would answer it from B's cached decision.
      expect({ round, ...(await get(TARBALL)) }).toEqual({ round, status: 403, code: 'EBANNED', versions: undefined });
      expect({ round, versions: (await get(PACKUMENT)).versions }).toEqual({ round, versions: ['1.1.0'] });
      expect((await a.api('DELETE', `/bans/${ban.body.id}`)).status).toBe(200);
    }
  }, 240_000);

  it('an approval withdrawn through one process is enforced by the other on its next request', async () => {
    relay.delay(300, 'answers');
    await warm();
    const approvals = await a.api('GET', '/approvals');
    const approval = (approvals.body.items as Array<{ id: string; pattern: string }>).find((x) => x.pattern === 'beta');
    expect(approval).toBeDefined();
    expect((await a.api('DELETE', `/approvals/${approval!.id}`)).status).toBe(200);
    const refused = await get(TARBALL);
    expect(refused.status).toBe(403);
    expect(refused.code).not.toBe('EPOLICYUNAVAILABLE');
    expect((await a.api('POST', '/approvals', { name: 'beta', reason: 'approved again' })).status).toBe(201);
  }, 120_000);

  it('a malware flag, and its override, made through one process are enforced by the other on its next request (B learns of changes 300 ms late)', async () => {
    relay.delay(300, 'answers');
    await warm();
    const flag = await a.api('POST', '/advisories/malware', { name: 'beta', range: '1.0.0', reason: 'propagation test: a flagged release' });
    expect(flag.status).toBe(201);
    // At once, the tarball first: the fast path would answer it from B's cached decision.
    expect(await get(TARBALL)).toEqual({ status: 403, code: 'EMALWARE', versions: undefined });
    expect((await get(PACKUMENT)).versions).toEqual(['1.1.0']);
    const override = await a.api('POST', '/advisories/overrides', { name: 'beta', id: flag.body.id, reason: 'propagation test: a false positive' });
    expect(override.status).toBe(201);
    expect(await get(TARBALL)).toEqual({ status: 200, code: undefined, versions: undefined });
    expect((await get(PACKUMENT)).versions).toEqual(['1.0.0', '1.1.0']);
  }, 120_000);

  it("with the other process's database link hung behind something that acknowledges TCP, its next request after the change is not served", async () => {
    // A proxy in between (PgBouncer, HAProxy, a cloud SQL proxy) that stays connected and
    // forwards nothing: B's heartbeat bytes are acknowledged by the relay's kernel, and B never
    // hears of the ban. The change answers once B's acknowledgement is overdue, by when B's
    // heartbeat has gone unanswered past its grace and B no longer trusts its caches.
    relay.delay(0);
    await warm();
    relay.freeze();
    try {
      const ban = await a.api('POST', '/bans', { name: 'beta', range: '1.0.0', reason: 'banned while B hangs' });
      expect(ban.status).toBe(201);
      const next = await get(TARBALL);
      expect(next.status).not.toBe(200);
      expect(next.code).toBe('EPOLICYUNAVAILABLE');
    } finally {
      // The hung connections are ended (as a proxy restart would): B reconnects.
      relay.cut();
    }
    // Once its link works again, B enforces the ban.
    await eventually(async () => (await get(TARBALL)).code === 'EBANNED', 'B to reconnect and refuse the banned tarball', 60_000);
  }, 120_000);

  it("a token revoked while the other process's database link hangs is not served by it once the revocation answers", async () => {
    // As for the ban above: the revocation answers once B has confirmed or, past the listener's
    // confirmation window, has stopped trusting its token cache (it waited 2 s before, while B
    // trusted its cache for the heartbeat's grace, and B served the revoked token).
    relay.delay(0);
    expect((await a.api('POST', '/users', { username: 'gil', password: 'gil-password', role: 'developer' })).status).toBe(201);
    const token = await loginToken(a.url, 'gil', 'gil-password');
    const read = async () => {
      // B, no longer trusting its cache, asks the database through the hung link: refused with
      // EDATABASE once the client stops waiting (12 s: its 10 s deadline and READ_GRACE_MS), or given up on here.
      try {
        const res = await fetch(new URL('beta/-/beta-1.1.0.tgz', b.url), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
        await res.arrayBuffer();
        return res.status;
      } catch (err) {
        if ((err as Error).name !== 'TimeoutError') throw err;
        return 0;
      }
    };
    // Warm in B's token cache (B may still be reconnecting after the test before).
    await eventually(async () => (await read()) === 200, 'B to serve beta@1.1.0 to the token', 60_000);
    expect(await read()).toBe(200);
    const id = ((await a.api('GET', '/tokens?username=gil')).body.items as Array<{ id: number }>)[0].id;
    relay.freeze();
    try {
      expect((await a.api('DELETE', `/tokens/${id}`)).status).toBe(200);
      expect(await read()).not.toBe(200);
    } finally {
      relay.cut();
    }
    await eventually(async () => (await read()) === 401, 'B to reconnect and refuse the revoked token', 60_000);
  }, 120_000);
});

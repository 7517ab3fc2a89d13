/**
 * A hung link to the database (a proxy or network that passes nothing and closes nothing):
 * PostgreSQL's statement_timeout cannot end the wait, since the statement never arrives. The
 * client gives up READ_GRACE_MS after the deadline, the request is refused with 503 EDATABASE
 * instead of being held for as long as the link hangs, and the connection that waited is
 * closed, not handed to the next request, once the link passes bytes again.
 */
import { createTestDatabase, TestDatabase } from '../support/database';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { relayTo } from '../support/relay';

/** Without a client deadline the request waits as long as the link hangs, which is until this: give up then. */
const GIVE_UP_MS = 30_000;

describe('a hung link to the database', () => {
  let upstream: FixtureRegistry;
  let db: TestDatabase;
  let relay: Awaited<ReturnType<typeof relayTo>>;
  let t: TestGatekeeper;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([]);
    db = await createTestDatabase();
    relay = await relayTo(new URL(db.url));
    t = await startTestGatekeeper({ upstream: upstream.url, db: { url: relay.url, drop: async () => undefined }, settings: { databaseTimeout: '1s' } });
  });

  afterAll(async () => {
    await t?.close();
    await relay?.close();
    await upstream?.close();
    await db?.drop();
  });

  const users = async (): Promise<{ status: number; code?: string; error?: string }> => {
    try {
      const res = await fetch(new URL('/-/gatekeeper/v1/users', t.url), { headers: { authorization: `Bearer ${t.adminToken}` }, signal: AbortSignal.timeout(GIVE_UP_MS) });
      const body = (await res.json()) as { code?: string; error?: string };
      return { status: res.status, code: body.code, error: body.error };
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
      return { status: 0 };
    }
  };

  it('refuses a request whose statement gets no answer with 503 EDATABASE, and serves the next ones once the link passes bytes again', async () => {
    expect((await users()).status).toBe(200);
    relay.freeze();
    let hung: Awaited<ReturnType<typeof users>>;
    try {
      hung = await users();
    } finally {
      // Bytes pass again; what was sent while frozen is lost, so the connection that sent it would wait for ever.
      relay.thaw();
    }
    expect(hung).toEqual({ status: 503, code: 'EDATABASE', error: expect.stringMatching(/^\[EDATABASE\] the governance database sent no answer in time \(GATEKEEPER_DATABASE_TIMEOUT\): the connection to it may be hung, so the request was stopped\. Try again shortly/) });
    // The connection that waited is closed when the pool would hand it out again: every request is served.
    for (let i = 0; i < 6; i++) expect({ i, ...(await users()) }).toMatchObject({ i, status: 200 });
  }, 120_000);
});

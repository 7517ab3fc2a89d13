/**
 * The advisory feed as the only advisory source (GATEKEEPER_ADVISORY_SOURCE=feed), with real
 * parts: a feed server on 127.0.0.1 serving an OSV array, a fixture upstream whose bulk endpoint
 * knows an advisory the feed does not, two gatekeepers on one database.
 *
 * Nothing is asked per package: a first sight costs one upstream request (the packument) and no
 * read of the advisory tables. What the feed stored decides; the upstream's advisories count for
 * nothing. Fail closed: before the feed has ever been read every package is unchecked (warned,
 * or refused with `unavailable: block`), and once its last successful read (by any instance, as
 * the jobs table records) is older than twice its interval, decisions say the source is stale.
 */
import { eventually } from '../support/assert';
import { Recorder, startRecorder } from '../support/recorder';
import { gatekeeperSuite } from '../support/suite';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';

const FEED_JOB = 'advisories.feed';
const GHSA = 'GHSA-feed-only-0001';
const old = () => new Date(Date.now() - 30 * 86_400_000);
const pkg = (name: string, versions = ['1.0.0']) => ({ name, versions: versions.map((version) => ({ version, license: 'MIT', publishedAt: old() })) });

const osv = JSON.stringify([
  {
    id: GHSA,
    summary: 'Prototype pollution in feed-vuln',
    modified: '2026-11-01T00:00:00Z',
    database_specific: { severity: 'CRITICAL' },
    affected: [{ package: { ecosystem: 'npm', name: 'feed-vuln' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.1' }] }] }],
  },
]);

describe('the advisory feed as the only source', () => {
  let feed: Recorder;
  let serving = false;
  let session = 0;

  beforeAll(async () => {
    feed = await startRecorder(() => (serving ? { status: 200, body: osv } : { status: 503, body: 'feed down' }));
  });

  const settings = () => ({ advisorySource: 'feed' as const, advisoryFeedUrl: `${feed.url}/osv.json`, advisoryFeedInterval: '10m', jobPoll: '1s' });
  const s = gatekeeperSuite({
    packages: () => [pkg('feed-vuln', ['1.0.0', '1.0.1']), pkg('upstream-vuln'), pkg('quiet-lib'), pkg('quiet-block'), pkg('fresh-lib'), pkg('late-lib')],
    settings,
    npm: false,
  });

  beforeAll(() => {
    // The upstream knows a critical advisory the feed does not: with the feed as the only source it counts for nothing.
    s.upstream.setAdvisories({ 'upstream-vuln': [{ id: 2001, url: 'https://github.com/advisories/GHSA-upst-ream-0001', title: 'Upstream only', severity: 'critical', vulnerable_versions: '*' }] });
  });

  afterAll(async () => {
    await feed?.close();
  });

  /** A read as one npm install (its own npm-session), so the once-per-install notice is sent. */
  const read = async (t: TestGatekeeper, path: string) => {
    const res = await fetch(new URL(path, t.url), { headers: { 'npm-session': `feed-source-${++session}` } });
    const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return { status: res.status, notice: res.headers.get('npm-notice') ?? '', error: res.status === 200 ? undefined : (JSON.parse(body) as { error: string }).error };
  };
  const bulkRequests = () => s.upstream.requests.filter((r) => r.url.includes('/security/advisories/bulk')).length;
  const advisoryHealth = async (t: TestGatekeeper) => (await t.api('GET', '/health')).body.advisories;

  it('before the feed has ever been read, packages are unchecked: warned, or refused with unavailable: block; /health says why', async () => {
    // The first run (due at start) fails after its retries.
    await eventually(async () => (await s.t.api('GET', '/health')).body.jobs[FEED_JOB]?.failures >= 1, 'the first run of the feed to fail', 60_000);
    expect(await advisoryHealth(s.t)).toMatchObject({ ok: false, lastSuccessAt: null, lastError: expect.stringContaining('has not been read successfully yet'), mode: 'enforce' });

    const warned = await read(s.t, 'quiet-lib');
    expect(warned.status).toBe(200);
    expect(warned.notice).toContain('the advisory source is unreachable');

    expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'block' } })).status).toBe(200);
    try {
      const refused = await read(s.t, 'quiet-block/-/quiet-block-1.0.0.tgz');
      expect(refused.status).toBe(403);
      expect(refused.error).toMatch(/^\[EADVISORY\] quiet-block@1\.0\.0: its advisories could not be checked/);
    } finally {
      expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'warn' } })).status).toBe(200);
    }
    expect(bulkRequests()).toBe(0);
  });

  it("once read, the feed's entries decide and the upstream's count for nothing; a first sight asks the upstream only for the packument and reads no advisory table", async () => {
    serving = true;
    expect(await s.t.gk.runtime.jobs.runNow(FEED_JOB)).toBe(true);
    expect(await advisoryHealth(s.t)).toMatchObject({ ok: true, lastError: null, lastSuccessAt: expect.any(String) });

    const blocked = await read(s.t, 'feed-vuln/-/feed-vuln-1.0.0.tgz');
    expect(blocked.status).toBe(403);
    expect(blocked.error).toMatch(new RegExp(`^\\[EADVISORY\\] feed-vuln@1\\.0\\.0: ${GHSA} \\(critical\\).*fixed in 1\\.0\\.1`));
    expect((await read(s.t, 'feed-vuln/-/feed-vuln-1.0.1.tgz')).status).toBe(200);
    // Known to the upstream's bulk endpoint only: served, and nobody asked it.
    expect((await read(s.t, 'upstream-vuln/-/upstream-vuln-1.0.0.tgz')).status).toBe(200);

    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/advisor/i.test(q.sql)) queries.push(q.sql);
    };
    const before = s.upstream.requests.length;
    s.t.gk.database.knex.on('query', onQuery);
    let first;
    try {
      first = await read(s.t, 'fresh-lib');
    } finally {
      s.t.gk.database.knex.off('query', onQuery);
    }
    expect(first.status).toBe(200);
    expect(first.notice).not.toContain('advisory source');
    expect(s.upstream.requests.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual(['GET /fresh-lib']);
    expect(queries).toEqual([]);
    expect(s.t.gk.runtime.advisories.known('fresh-lib')).toEqual({ advisories: [], status: 'fresh' });
    expect(bulkRequests()).toBe(0);
  });

  it("another instance knows the feed's last read from the jobs table; once it is older than twice the interval, decisions say the source is stale", async () => {
    const b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db, settings: settings() });
    try {
      // Read at start: fresh before its first poll, and the feed's entry refuses the version there too.
      expect(b.gk.runtime.advisories.health()).toMatchObject({ ok: true, lastError: null });
      expect((await read(b, 'feed-vuln/-/feed-vuln-1.0.0.tgz')).status).toBe(403);

      // The feed is down and its last success lies an hour back (its freshness is 20 minutes).
      serving = false;
      await s.t.gk.database.knex.raw(`update jobs set last_success_at = now() - interval '1 hour' where name = ?`, [FEED_JOB]);
      await eventually(async () => (await advisoryHealth(b)).ok === false, 'the second instance to see the feed as stale', 30_000);
      expect(await advisoryHealth(b)).toMatchObject({ ok: false, lastError: expect.stringContaining('was last read more than 20 min ago') });
      const stale = await read(b, 'late-lib');
      expect(stale.status).toBe(200);
      expect(stale.notice).toContain('the advisory source is unreachable');
      expect(b.gk.runtime.advisories.known('late-lib')?.status).toBe('stale');
      // Decided with what is known: the feed's entry still refuses its version.
      expect((await read(b, 'feed-vuln/-/feed-vuln-1.0.0.tgz')).status).toBe(403);
      expect(bulkRequests()).toBe(0);
    } finally {
      await b.close();
    }
  });
});

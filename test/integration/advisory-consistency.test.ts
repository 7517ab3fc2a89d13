/**
 * What a gatekeeper knows of a package's advisories stays true across the moments it changes:
 * a reconnect of the invalidation channel while a request waits for the source, announcements
 * read out of order, a source that comes back after an outage, another process's check, and
 * the feed read for the first time. Found by a hostile sweep; each test failed before its fix.
 */
import { LISTENER_APPLICATION_NAME } from '../../src/db/listener';
import { eventually } from '../support/assert';
import { startRecorder, Recorder } from '../support/recorder';
import { startTestGatekeeper } from '../support/gatekeeper';
import { osvDocument } from '../support/osv';
import { gatekeeperSuite } from '../support/suite';

const BULK = '/-/npm/v1/security/advisories/bulk';
const old = () => new Date(Date.now() - 30 * 86_400_000);
const pkg = (name: string) => ({ name, versions: ['1.0.0', '1.0.1'].map((version) => ({ version, license: 'MIT', publishedAt: old() })) });

/** The versions a packument read shows, or the refusal's status and code. */
async function versionsOf(url: string, name: string): Promise<string[] | string> {
  const res = await fetch(new URL(name, url));
  const body = (await res.json()) as { versions?: Record<string, unknown>; code?: string };
  return res.status === 200 ? Object.keys(body.versions ?? {}) : `${res.status} ${body.code}`;
}

async function tarballStatus(url: string, name: string, version: string): Promise<number> {
  const res = await fetch(new URL(`${name}/-/${name}-${version}.tgz`, url));
  await res.arrayBuffer();
  return res.status;
}

describe('advisories stay consistent', () => {
  const s = gatekeeperSuite({
    packages: ['osv-kept', 'osv-dropped', 'ovr', 'outage', 'prior'].map(pkg),
    settings: { advisoryTimeout: '1s' },
    npm: false,
  });

  afterEach(async () => {
    s.upstream.clearFaults();
    expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'warn' } })).status).toBe(200);
  });

  it.each([
    ['the channel is replaced', 'osv-dropped'],
    ['forgetAll runs, as on every reconnect', 'osv-kept'],
  ])('a reconnect while a first sight waits for a slow source does not serve a version a known advisory blocks (%s)', async (how, name) => {
    expect((await s.t.api('POST', '/advisories/import', osvDocument({ id: name === 'osv-kept' ? 'GHSA-kept-kept-kept' : 'GHSA-drop-drop-drop', name, fixed: '1.0.1', severity: 'CRITICAL' }))).status).toBe(201);
    const b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db, settings: { advisoryTimeout: '2s' } });
    try {
      await eventually(async () => b.gk.runtime.advisories.indexed, "B's index of packages with entries");
      s.upstream.fault({ path: BULK }, { delayMs: 4000, times: 1 });
      const pending = versionsOf(b.url, name);
      // The request has loaded the package's entries and waits for the source.
      await eventually(async () => s.upstream.requests.some((r) => r.method === 'POST' && r.url.startsWith(BULK) && (r.body ?? '').includes(name)), 'the bulk question');
      if (how === 'the channel is replaced') {
        await s.t.gk.database.knex.raw('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = ? and pid <> pg_backend_pid()', [LISTENER_APPLICATION_NAME]);
      } else {
        b.gk.runtime.advisories.forgetAll();
      }
      expect(await pending).toEqual(['1.0.1']);
      expect(await versionsOf(b.url, name)).toEqual(['1.0.1']);
      expect(await tarballStatus(b.url, name, '1.0.0')).toBe(403);
    } finally {
      await b.close();
    }
  }, 60_000);

  it('applies two announcements for one package in the order they were made, however their reads finish', async () => {
    expect((await s.t.api('POST', '/advisories/import', osvDocument({ id: 'GHSA-ovrr-ovrr-ovrr', name: 'ovr', fixed: '1.0.1', severity: 'CRITICAL' }))).status).toBe(201);
    const b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db });
    try {
      expect(await versionsOf(b.url, 'ovr')).toEqual(['1.0.1']);
      // The first announcement's read is slow (a slow pooled connection): it finishes after the second's.
      const repo = (b.gk.runtime.advisories as unknown as { store: { repos: { advisories: { list(name: string): Promise<unknown> } } } }).store.repos.advisories;
      const list = repo.list.bind(repo);
      let reads = 0;
      const slowFirst = jest.spyOn(repo, 'list').mockImplementation(async (name: string) => {
        const n = ++reads;
        const entries = await list(name);
        if (n === 1) await new Promise((resolve) => setTimeout(resolve, 1000));
        return entries;
      });
      try {
        expect((await s.t.api('POST', '/advisories/overrides', { name: 'ovr', id: 'GHSA-ovrr-ovrr-ovrr', reason: 'not reachable in our use' })).status).toBe(201);
        await eventually(async () => reads >= 1, "B's read of the override");
        expect((await s.t.api('DELETE', '/advisories/overrides?name=ovr&id=GHSA-ovrr-ovrr-ovrr')).status).toBe(200);
        await eventually(async () => reads >= 2, "B's read of the undo");
        // Both reads done: the slow first one landed last.
        await new Promise((resolve) => setTimeout(resolve, 1500));
      } finally {
        slowFirst.mockRestore();
      }
      expect(b.gk.runtime.advisories.known('ovr')?.advisories.map((a) => a.overridden ?? null)).toEqual([null]);
      expect(await versionsOf(b.url, 'ovr')).toEqual(['1.0.1']);
    } finally {
      await b.close();
    }
  }, 60_000);

  it('lifts a refusal made while the source was unreachable as soon as the source answers again', async () => {
    expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'block' } })).status).toBe(200);
    s.upstream.fault({ path: BULK }, { status: 503, body: '{}', times: 1 });
    expect(await versionsOf(s.t.url, 'outage')).toBe('403 EADVISORY');
    expect(await tarballStatus(s.t.url, 'outage', '1.0.1')).toBe(403);
    s.upstream.clearFaults();
    // The refresh asks about the package again (never answered: due).
    await s.t.gk.runtime.advisories.refreshDue();
    expect(s.t.gk.runtime.advisories.known('outage')?.status).toBe('fresh');
    expect(await versionsOf(s.t.url, 'outage')).toEqual(['1.0.0', '1.0.1']);
    expect(await tarballStatus(s.t.url, 'outage', '1.0.1')).toBe(200);
  });

  it("decides with another process's recent check when the source is slower than the timeout", async () => {
    expect(await versionsOf(s.t.url, 'prior')).toEqual(['1.0.0', '1.0.1']);
    await s.t.gk.runtime.advisories.flushChecks();
    expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'block' } })).status).toBe(200);
    const b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db, settings: { advisoryTimeout: '1s' } });
    try {
      await eventually(async () => b.gk.runtime.advisories.indexed, "B's index of packages with entries");
      s.upstream.fault({ path: BULK }, { delayMs: 3000, times: 1 });
      // Not "could not be checked": A checked it a moment ago, and nothing was found.
      expect(await versionsOf(b.url, 'prior')).toEqual(['1.0.0', '1.0.1']);
      expect(await tarballStatus(b.url, 'prior', '1.0.1')).toBe(200);
    } finally {
      await b.close();
    }
  }, 60_000);
});

describe('the feed as the only source, read for the first time after refusals', () => {
  const FEED_JOB = 'advisories.feed';
  const osv = JSON.stringify([osvDocument({ id: 'GHSA-feed-feed-feed', name: 'feed-vuln', fixed: '1.0.1', severity: 'CRITICAL' })]);
  let feed: Recorder;
  let serving = false;
  beforeAll(async () => {
    feed = await startRecorder(() => (serving ? { status: 200, body: osv } : { status: 503, body: 'feed down' }));
  });
  afterAll(async () => feed?.close());
  const s = gatekeeperSuite({
    packages: () => [pkg('feed-vuln'), pkg('feed-quiet')],
    settings: () => ({ advisorySource: 'feed' as const, advisoryFeedUrl: `${feed.url}/osv.json`, advisoryFeedInterval: '10m', jobPoll: '1s' }),
    npm: false,
  });

  it('serves a refused package again once the feed has been read, without a change to it', async () => {
    expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'block' } })).status).toBe(200);
    expect(await versionsOf(s.t.url, 'feed-quiet')).toBe('403 EADVISORY');
    expect(await tarballStatus(s.t.url, 'feed-quiet', '1.0.1')).toBe(403);
    // The job's first run (at start) has failed: the feed was never read.
    await eventually(async () => ((await s.t.api('GET', '/health')).body as { jobs: Record<string, { failures?: number }> }).jobs[FEED_JOB]?.failures! >= 1, "the feed job's first run", 60_000);
    serving = true;
    expect(await s.t.gk.runtime.jobs.runNow(FEED_JOB)).toBe(true);
    expect(s.t.gk.runtime.advisories.known('feed-quiet')?.status).toBe('fresh');
    // Decisions made without a fresh answer expire (UNCHECKED_DECISION_MS), the cached packument with them.
    await eventually(async () => (await tarballStatus(s.t.url, 'feed-quiet', '1.0.1')) === 200, 'the tarball to be served', 30_000);
    await eventually(async () => JSON.stringify(await versionsOf(s.t.url, 'feed-quiet')) === JSON.stringify(['1.0.0', '1.0.1']), 'the packument to be served', 30_000);
    expect(await versionsOf(s.t.url, 'feed-vuln')).toEqual(['1.0.1']);
  }, 90_000);
});

describe('an advisory known from two sources, overridden by its id', () => {
  const NAME = 'dup-id-lib';
  const GHSA = 'GHSA-2f3g-4h5j-6m7p';
  const s = gatekeeperSuite({ npm: false, packages: [{ name: NAME, versions: [{ version: '1.0.0', license: 'MIT', publishedAt: new Date(Date.now() - 30 * 86_400_000) }] }] });

  it('overrides every entry showing the id, so the version goes through; undoing it blocks it again', async () => {
    // The upstream's bulk answer (ghsa:…) and an OSV import (osv:…) of the same GHSA.
    s.upstream.setAdvisories({ [NAME]: [{ id: 777, url: `https://github.com/advisories/${GHSA}`, title: 'bad', severity: 'critical', vulnerable_versions: '<2.0.0', github_advisory_id: GHSA }] });
    const osv = { id: GHSA, summary: 'bad', affected: [{ package: { ecosystem: 'npm', name: NAME }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }], database_specific: { severity: 'CRITICAL' } };
    expect((await s.t.api('POST', '/advisories/import', osv)).status).toBe(201);
    expect((await s.t.api('GET', `/decisions/${NAME}/1.0.0`)).body.decision).toMatchObject({ allowed: false, code: 'EADVISORY' });
    const keys = ((await s.t.api('GET', `/advisories?name=${NAME}`)).body.items as Array<{ key: string; id: string }>).filter((a) => a.id === GHSA).map((a) => a.key).sort();
    expect(keys).toEqual([`ghsa:${GHSA}`, `osv:${GHSA}`]);
    const overridden = await s.t.api('POST', '/advisories/overrides', { name: NAME, id: GHSA, reason: 'false positive for us' });
    expect(overridden.status).toBe(201);
    expect((await s.t.api('GET', `/decisions/${NAME}/1.0.0`)).body.decision).toMatchObject({ allowed: true });
    const audited = ((await s.t.api('GET', '/audit?action=advisory.override&limit=10')).body.items as Array<{ details: { key: string } }>).map((e) => e.details.key).sort();
    expect(audited).toEqual(keys);
    expect((await s.t.api('POST', '/advisories/overrides', { name: NAME, id: GHSA, reason: 'again' })).body.code).toBe('ECONFLICT');
    // One entry by its key: only that one.
    expect((await s.t.api('DELETE', `/advisories/overrides?name=${NAME}&id=${encodeURIComponent(`osv:${GHSA}`)}`)).status).toBe(200);
    expect((await s.t.api('GET', `/decisions/${NAME}/1.0.0`)).body.decision).toMatchObject({ allowed: false, code: 'EADVISORY' });
  });
});

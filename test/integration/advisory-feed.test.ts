/**
 * The scheduled advisory feed (GATEKEEPER_ADVISORY_FEED_URL), with real parts: a feed server on
 * 127.0.0.1 serving an OSV array, a fixture upstream, a gatekeeper, the real npm CLI.
 *
 * The feed first answers 500, then 200: the run retries with backoff and imports the MAL-
 * entry, which blocks its version (EMALWARE) while the other version installs; /health shows
 * the feed's state; later runs import nothing again (unchanged entries are not re-imported or
 * re-audited). The entry withdrawn in the feed un-blocks the version. A redirect to another
 * origin is not followed and shows as the feed's error. A hostile document (NUL and control
 * characters, invalid names and ids) is imported without what cannot be stored or validated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { eventually } from '../support/assert';
import { makeProject } from '../support/npm';
import { Recorder, startRecorder } from '../support/recorder';
import { gatekeeperSuite } from '../support/suite';

const NAME = 'feed-lib';
const MAL_ID = 'MAL-2026-8100';

const entry = (extra: Record<string, unknown> = {}) => ({
  id: MAL_ID,
  summary: `Malicious code in ${NAME} (npm)`,
  modified: '2026-11-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name: NAME }, versions: ['1.0.0'] }],
  ...extra,
});

describe('the scheduled advisory feed', () => {
  let feed: Recorder;
  let elsewhere: Recorder;
  let body = JSON.stringify([entry(), { id: 'PYSEC-0000-1', affected: [{ package: { ecosystem: 'PyPI', name: 'x' } }] }]);
  let mode: 'serve' | 'redirect' = 'serve';

  const install = async (spec: string) => {
    const project = await makeProject(s.npm.dir, { name: 'feed-app' });
    const result = await s.npm.run(['install', spec, '--ignore-scripts', '--prefer-online'], { cwd: project });
    const lock = path.join(project, 'package-lock.json');
    const installed = result.code === 0 ? (JSON.parse(fs.readFileSync(lock, 'utf8')).packages[`node_modules/${NAME}`]?.version as string) : undefined;
    return { ...result, installed };
  };
  const tarball = async (version: string) => {
    const res = await fetch(new URL(`${NAME}/-/${NAME}-${version}.tgz`, s.t.url));
    const text = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return { status: res.status, code: res.status === 200 ? undefined : (JSON.parse(text) as { code?: string }).code };
  };
  const feedHealth = async () => (await s.t.api('GET', '/health')).body.advisoryFeed;

  // The feed's servers start first: the gatekeeper's settings name the feed.
  beforeAll(async () => {
    elsewhere = await startRecorder(() => ({ status: 200, body: '[]' }));
    // The feed's first answer is a 500; after that it serves `body` (or redirects elsewhere).
    feed = await startRecorder(({ index }) => {
      if (index === 0) return { status: 500, body: 'try later' };
      if (mode === 'redirect') return { status: 302, headers: { location: `${elsewhere.url}/osv.json` } };
      return { status: 200, body };
    });
  });

  const s = gatekeeperSuite({
    packages: () => [{ name: NAME, versions: ['1.0.0', '1.0.1'].map((version) => ({ version, license: 'MIT', publishedAt: new Date(Date.now() - 30 * 86_400_000) })) }],
    settings: () => ({ advisoryFeedUrl: `${feed.url}/osv.json?token=secret`, advisoryFeedInterval: '2s', jobPoll: '1s' }),
  });

  afterAll(async () => {
    await feed?.close();
    await elsewhere?.close();
  });

  it('a 500 is retried; the imported MAL- entry blocks its version through npm, the other version installs; /health shows the feed', async () => {
    await eventually(async () => (await feedHealth())?.lastSuccessAt !== null, 'the feed to be imported', 30_000);
    const [first, second] = feed.to('/osv.json');
    expect(first.status).toBe(500);
    expect(second.status).toBe(200);
    const health = await feedHealth();
    // The query (which may hold a token) is never shown.
    expect(health).toMatchObject({ url: `${feed.url}/osv.json?…`, ok: true, lastError: null, entries: 1, imported: 1 });
    expect(JSON.stringify(health)).not.toContain('secret');

    expect(await tarball('1.0.0')).toEqual({ status: 403, code: 'EMALWARE' });
    const blocked = await install(`${NAME}@1.0.0`);
    expect(blocked.code).not.toBe(0);
    // npm says why the version is hidden, not only that it found none.
    expect(blocked.output).toContain(`Could not download ${NAME}@1.0.0 due to policy violations`);
    expect(blocked.output).toContain(`1.0.0: [EMALWARE] ${NAME}@1.0.0 is malware: ${MAL_ID}`);
    expect((await install(NAME)).installed).toBe('1.0.1');
    const explained = await s.t.api('GET', `/decisions/${NAME}/1.0.0`);
    expect(explained.body.decision).toMatchObject({ allowed: false, code: 'EMALWARE', ruleId: `malware:${MAL_ID}` });

    // Later runs find nothing new: the entry is imported (and audited) once.
    const runs = feed.to('/osv.json').length;
    await eventually(async () => feed.to('/osv.json').length >= runs + 2, 'two more runs of the feed', 30_000);
    await eventually(async () => (await feedHealth()).imported === 0, 'a run that imported nothing', 30_000);
    const audit = await s.t.api('GET', `/audit?package=${NAME}&action=advisory.import`);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({ actor: '$system', details: expect.objectContaining({ id: MAL_ID, malware: true, feed: `${feed.url}/osv.json?…` }) });
  });

  it('the entry withdrawn in the feed un-blocks the version', async () => {
    body = JSON.stringify([entry({ withdrawn: '2026-11-02T00:00:00Z', modified: '2026-11-02T00:00:00Z' })]);
    await eventually(async () => (await tarball('1.0.0')).status === 200, 'the withdrawn entry to un-block 1.0.0', 30_000);
    expect((await install(`${NAME}@1.0.0`)).installed).toBe('1.0.0');
    expect((await s.t.api('GET', `/audit?package=${NAME}&action=advisory.import`)).body.items).toHaveLength(2);
  });

  it("hostile feed text: NUL and control characters, invalid names and ids are skipped or cleaned, and the rest is imported", async () => {
    const OTHER = 'feed-other';
    const affected = (name: string, version: string) => [{ package: { ecosystem: 'npm', name }, versions: [version] }];
    const runs = feed.to('/osv.json').length;
    body = JSON.stringify([
      entry({ withdrawn: '2026-11-02T00:00:00Z', modified: '2026-11-02T00:00:00Z' }),
      { id: 'MAL-2026-8102', summary: 'evil\u0000 text \u001b[2J', affected: affected(OTHER, '2.0.0'), references: [{ type: 'ADVISORY', url: 'https://example.invalid/\u0000' }] },
      { id: 'MAL-2026-8103', summary: 'bad name', affected: affected('bad\u0000name', '1.0.0') },
      { id: 'MAL-2026-8104', summary: 'path name', affected: affected('../../etc', '1.0.0') },
      { id: 'MAL-\u0000-8105', summary: 'bad id', affected: affected(OTHER, '2.0.1') },
      { id: 'x'.repeat(5000), summary: 'long id', affected: affected(OTHER, '2.0.2') },
      { id: 'MAL-2026-8106', summary: 'bad versions', affected: [{ package: { ecosystem: 'npm', name: OTHER }, versions: [null, 5, '2.0.3'] }] },
    ]);
    await eventually(async () => feed.to('/osv.json').length > runs + 1 && (await feedHealth()).imported === 0, 'a run after the hostile document was imported', 30_000);
    const health = await feedHealth();
    expect(health).toMatchObject({ ok: true, lastError: null, entries: 3, skipped: 2 });
    const listed = (await s.t.api('GET', `/advisories?name=${OTHER}`)).body.items as Array<{ id: string; title: string; url: string | null; vulnerableVersions: string }>;
    expect(listed.map((a) => [a.id, a.title, a.url, a.vulnerableVersions]).sort()).toEqual([
      ['MAL-2026-8102', 'evil text  [2J', null, '2.0.0'],
      ['MAL-2026-8106', 'bad versions', null, '2.0.3'],
    ]);
    const audit = (await s.t.api('GET', `/audit?package=${OTHER}&action=advisory.import`)).body.items as unknown[];
    expect(audit).toHaveLength(2);
    for (const name of ['bad\u0000name', '../../etc']) expect((await s.t.api('GET', `/advisories?name=${encodeURIComponent(name)}`)).status).toBe(400);
  });

  it('a feed with 10,000 new entries is imported whole (the audit rows go in slices, below the statement parameter limit)', async () => {
    const BULK = 'feed-bulk';
    const many = Array.from({ length: 10_000 }, (_, i) => ({ id: `MAL-2026-B${i}`, summary: `bulk ${i}`, affected: [{ package: { ecosystem: 'npm', name: BULK }, versions: ['9.9.9'] }] }));
    body = JSON.stringify(many);
    await eventually(async () => (await feedHealth()).imported === 10_000, 'the 10,000 entries to be imported', 60_000);
    expect(await feedHealth()).toMatchObject({ ok: true, lastError: null, entries: 10_000 });
    const [{ count }] = await s.t.gk.database.knex('audit_log').where({ action: 'advisory.import', package: BULK }).count('* as count');
    expect(Number(count)).toBe(10_000);
    // The next run finds all 10,000 stored and unchanged: nothing is imported again.
    await eventually(async () => (await feedHealth()).imported === 0, 'a run that imported nothing', 60_000);
    const [{ count: after }] = await s.t.gk.database.knex('audit_log').where({ action: 'advisory.import', package: BULK }).count('* as count');
    expect(Number(after)).toBe(10_000);
  });

  it('a feed of documents none of which is OSV is a failed read, not a successful one', async () => {
    body = JSON.stringify([{ error: 'token expired' }, { message: 'not found' }]);
    await eventually(async () => (await feedHealth()).ok === false, 'the feed to fail', 60_000);
    const health = await feedHealth();
    expect(health.lastError).toBe('the advisory feed held no OSV document (2 documents were not OSV). Check that the feed URL serves OSV JSON');
    const last = Date.parse(health.lastSuccessAt);
    await eventually(async () => feed.to('/osv.json').length > 0 && (await feedHealth()).lastAttemptAt > new Date(last).toISOString(), 'another attempt', 30_000);
    expect((await feedHealth()).lastSuccessAt).toBe(health.lastSuccessAt);
    // An empty list is a feed with nothing in it: a successful read.
    body = '[]';
    await eventually(async () => (await feedHealth()).ok === true, 'the feed to be read again', 60_000);
  });

  it('a redirect to another origin is not followed; the failed run shows in /health', async () => {
    mode = 'redirect';
    await eventually(async () => (await feedHealth()).ok === false, 'the feed to fail', 60_000);
    const health = await feedHealth();
    expect(health.lastError).toContain('redirected to another origin');
    expect(health.lastSuccessAt).not.toBeNull();
    expect(elsewhere.requests).toHaveLength(0);
    const jobs = (await s.t.api('GET', '/health')).body.jobs;
    expect(jobs['advisories.feed']).toBeDefined();
  });
});

describe('a feed entry naming one package in two affected entries', () => {
  const NAME = 'feed-twice-lib';
  const s = gatekeeperSuite({ npm: false, packages: [{ name: NAME, versions: ['1.0.0', '2.0.0'].map((version) => ({ version, license: 'MIT' })) }] });

  it('is imported once: a later run finds it stored (as one entry of both ranges) and imports nothing', async () => {
    // As GHSA's OSV export writes an advisory with two vulnerable ranges.
    const doc = {
      id: 'GHSA-2222-3333-4444',
      summary: 'two ranges',
      affected: [
        { package: { ecosystem: 'npm', name: NAME }, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.0.1' }] }] },
        { package: { ecosystem: 'npm', name: NAME }, ranges: [{ type: 'SEMVER', events: [{ introduced: '2.0.0' }, { fixed: '2.0.1' }] }] },
      ],
      database_specific: { severity: 'CRITICAL' },
    };
    const actor = { username: '$feed', ip: null };
    expect(await s.t.gk.runtime.advisories.importFeed(actor, [doc], 'http://feed.example/osv.json')).toMatchObject({ entries: 2, imported: 1 });
    expect(await s.t.gk.runtime.advisories.importFeed(actor, [doc], 'http://feed.example/osv.json')).toMatchObject({ entries: 2, imported: 0, packages: [] });
    const stored = (await s.t.api('GET', `/advisories?name=${NAME}`)).body.items as Array<{ vulnerableVersions: string }>;
    expect(stored.map((a) => a.vulnerableVersions)).toEqual(['>=1.0.0 <1.0.1 || >=2.0.0 <2.0.1']);
    expect((await s.t.api('GET', `/audit?package=${NAME}&action=advisory.import&limit=10`)).body.items).toHaveLength(1);
  });
});

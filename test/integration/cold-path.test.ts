/**
 * The cold path: packages seen for the first time by concurrent requests are asked about in
 * shared bulk advisory requests, and no request waits for the advisory source longer than
 * GATEKEEPER_ADVISORY_TIMEOUT; the answer, when it comes, replaces the decisions made without it.
 */
import { eventually } from '../support/assert';
import type { FixtureAdvisory } from '../support/fixture-registry';
import { startTestGatekeeper } from '../support/gatekeeper';
import { gatekeeperSuite } from '../support/suite';

const BULK = '/-/npm/v1/security/advisories/bulk';
const NAMES = Array.from({ length: 12 }, (_, i) => `cold-${i}`);
const GHSA = 'GHSA-8fxw-76j4-5wqw';

describe('the cold path', () => {
  const s = gatekeeperSuite({
    packages: [
      ...NAMES.map((name) => ({ name, versions: [{ version: '1.0.0', license: 'MIT' }] })),
      { name: 'slow-advice', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.0.1', license: 'MIT' }] },
      { name: 'direct-read', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'asked-early', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'quiet-package', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'was-vulnerable', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.0.1', license: 'MIT' }] },
      ...['batch-a', 'batch-b', 'batch-c'].map((name) => ({ name, versions: [{ version: '1.0.0', license: 'MIT' }] })),
      ...['flagged-before', 'flagged-after', 'never-flagged', 'never-checked'].map((name) => ({ name, versions: [{ version: '1.0.0', license: 'MIT' }] })),
    ],
    settings: { advisoryTimeout: '1s' },
    policyMode: 'none',
    npm: false,
  });

  const SLOW_ADVICE: FixtureAdvisory[] = [{ id: 1001, url: `https://github.com/advisories/${GHSA}`, title: 'Prototype pollution', severity: 'critical', vulnerable_versions: '<1.0.1' }];
  const WAS_VULNERABLE: FixtureAdvisory[] = [{ id: 1002, url: 'https://advisories.example.test/1002', title: 'Command injection', severity: 'critical', vulnerable_versions: '<1.0.1' }];

  beforeAll(async () => {
    s.upstream.setAdvisories({ 'slow-advice': SLOW_ADVICE, 'was-vulnerable': WAS_VULNERABLE });
    for (const name of [...NAMES, 'slow-advice', 'direct-read', 'asked-early', 'quiet-package', 'was-vulnerable', 'flagged-before', 'flagged-after', 'never-flagged', 'never-checked', 'batch-a', 'batch-b', 'batch-c']) expect((await s.t.api('POST', '/approvals', { name, reason: 'cold path test' })).status).toBe(201);
  });

  const bulkBodies = () => s.upstream.requests.filter((r) => r.method === 'POST' && r.url.split('?')[0] === BULK).map((r) => JSON.parse(r.body ?? '{}') as Record<string, string[]>);

  it('asks about packages first seen together in shared bulk requests, each package once', async () => {
    // Each bulk answer takes a while (well within the timeout), so first sights overlap.
    s.upstream.fault({ path: BULK }, { delayMs: 300, times: 100 });
    try {
      const before = bulkBodies().length;
      const statuses = await Promise.all(NAMES.map(async (name) => (await fetch(new URL(name, s.t.url))).status));
      expect(statuses).toEqual(NAMES.map(() => 200));
      const bodies = bulkBodies().slice(before);
      const asked = bodies.flatMap((b) => Object.keys(b)).sort();
      expect(asked).toEqual([...NAMES].sort());
      expect(bodies.length).toBeLessThan(NAMES.length);
      expect(Math.max(...bodies.map((b) => Object.keys(b).length))).toBeGreaterThan(1);
    } finally {
      s.upstream.clearFaults();
    }
  });

  it('decides without a source slower than its timeout, and with its answer once it arrives', async () => {
    s.upstream.fault({ path: BULK }, { delayMs: 5000, times: 1 });
    try {
      // The answer would block 1.0.0: serving it shows the request did not wait for the answer.
      const res = await fetch(new URL('slow-advice', s.t.url));
      expect(res.status).toBe(200);
      expect(Object.keys(((await res.json()) as { versions: Record<string, unknown> }).versions)).toEqual(['1.0.0', '1.0.1']);

      // Once the answer is in, 1.0.0 is blocked, in the packument and for its tarball.
      await eventually(
        async () => {
          const doc = (await (await fetch(new URL('slow-advice', s.t.url))).json()) as { versions: Record<string, unknown> };
          return !('1.0.0' in doc.versions);
        },
        'the late advisory answer to replace the decisions',
        20_000,
      );
      const refused = await fetch(new URL('slow-advice/-/slow-advice-1.0.0.tgz', s.t.url));
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { code: string }).code).toBe('EADVISORY');
      expect((await fetch(new URL('slow-advice/-/slow-advice-1.0.1.tgz', s.t.url))).status).toBe(200);
    } finally {
      s.upstream.clearFaults();
    }
  });

  it("reads a first packument through Verdaccio's uplink in process, not over the loopback gateway", async () => {
    const reads = s.t.gk.runtime.gateway.httpReads;
    const res = await fetch(new URL('direct-read', s.t.url));
    expect(res.status).toBe(200);
    expect(Object.keys(((await res.json()) as { versions: Record<string, unknown> }).versions)).toEqual(['1.0.0']);
    expect(s.upstream.requests.filter((r) => r.method === 'GET' && r.url === '/direct-read')).toHaveLength(1);
    expect(s.t.gk.runtime.gateway.httpReads).toBe(reads);
  });

  it('asks about a first sight as soon as its packument arrives, before Verdaccio has stored it', async () => {
    // The question's round trip then overlaps Verdaccio's merge and write instead of following them.
    const runtime = s.t.gk.runtime;
    const source = (runtime.advisories as unknown as { source: { bulk(query: Record<string, string[]>): Promise<Record<string, unknown[]>> } }).source;
    const stored: string[] = [];
    const original = source.bulk.bind(source);
    const bulk = jest.spyOn(source, 'bulk').mockImplementation((query) => {
      for (const name of Object.keys(query)) stored.push(`${name}: ${runtime.storage.revision(name) === 'absent' ? 'not stored' : 'stored'}`);
      return original(query);
    });
    try {
      expect((await fetch(new URL('asked-early', s.t.url))).status).toBe(200);
    } finally {
      bulk.mockRestore();
    }
    expect(stored).toEqual(['asked-early: not stored']);
    expect(runtime.storage.revision('asked-early')).not.toBe('absent');
  });

  it('writes the check times of first sights asked in separate bulk requests with one statement, behind the requests', async () => {
    const advisories = s.t.gk.runtime.advisories;
    const knex = s.t.gk.database.knex;
    const names = ['batch-a', 'batch-b', 'batch-c'];
    const rows = () => knex('advisory_checks').whereIn('package', names).select('package', 'checked_at');
    const delay = advisories.checkWriteDelayMs;
    // Check times of earlier tests still waiting are written first: their timer would write these too.
    await advisories.flushChecks();
    advisories.checkWriteDelayMs = 3_600_000; // nothing is written until flushed
    try {
      const before = bulkBodies().length;
      // One after the other: each first sight is its own bulk request.
      for (const name of names) expect((await fetch(new URL(name, s.t.url))).status).toBe(200);
      expect(bulkBodies().slice(before).map((b) => Object.keys(b))).toEqual(names.map((n) => [n]));
      for (const name of names) expect(advisories.known(name)).toEqual({ advisories: [], status: 'fresh' });
      expect(await rows()).toEqual([]);
      await advisories.flushChecks();
      const written = await rows();
      expect(written.map((r) => r.package).sort()).toEqual(names);
      // now() is the statement's transaction time: one statement wrote them all.
      expect(new Set(written.map((r) => new Date(r.checked_at).getTime())).size).toBe(1);
    } finally {
      advisories.checkWriteDelayMs = delay;
      // Nothing left behind a timer of an hour for the tests after this one.
      await advisories.flushChecks();
    }
  });

  it('records the check of a package the upstream knows nothing about, and does not ask again while it is fresh', async () => {
    const asked = () => bulkBodies().filter((b) => 'quiet-package' in b).length;
    expect((await fetch(new URL('quiet-package', s.t.url))).status).toBe(200);
    expect(asked()).toBe(1);
    const knex = s.t.gk.database.knex;
    await eventually(async () => (await knex('advisory_checks').where({ package: 'quiet-package', ok: true })).length === 1, 'the check to be recorded');
    const advisories = s.t.gk.runtime.advisories;
    expect(advisories.known('quiet-package')).toEqual({ advisories: [], status: 'fresh' });
    await advisories.prepare('quiet-package', ['1.0.0']);
    expect(asked()).toBe(1);
  });

  it("an empty answer still removes what the upstream said before, and the version is served again", async () => {
    const res = await fetch(new URL('was-vulnerable/-/was-vulnerable-1.0.0.tgz', s.t.url));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('EADVISORY');
    const knex = s.t.gk.database.knex;
    expect(await knex('advisories').where({ package: 'was-vulnerable', source: 'upstream' })).toHaveLength(1);
    s.upstream.setAdvisories({ 'slow-advice': SLOW_ADVICE });
    // The background refresh would ask about the package too once it is stale: the refresh below is the only one.
    await s.t.gk.runtime.jobs.stop();
    await knex('advisory_checks').where({ package: 'was-vulnerable' }).update({ checked_at: knex.raw(`now() - interval '1 day'`) }); // older than GATEKEEPER_ADVISORY_REFRESH (1h)
    expect(await s.t.gk.runtime.advisories.refreshDue()).toBeGreaterThanOrEqual(1);
    expect(await knex('advisories').where({ package: 'was-vulnerable' })).toHaveLength(0);
    expect(s.t.gk.runtime.advisories.known('was-vulnerable')?.advisories).toEqual([]);
    expect((await fetch(new URL('was-vulnerable/-/was-vulnerable-1.0.0.tgz', s.t.url))).status).toBe(200);
  });

  it('decides a first sight with the entries the database held before the process started or was told of since, and reads nothing for a package without any', async () => {
    expect((await s.t.api('POST', '/advisories/malware', { name: 'flagged-before', reason: 'stole tokens' })).status).toBe(201);
    // A second process on the same database: its index of packages with entries is loaded at start.
    const b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db });
    try {
      expect(b.gk.runtime.advisories.indexed).toBe(true);
      const code = async (name: string) => {
        const res = await fetch(new URL(name, b.url));
        return res.status === 200 ? 200 : ((await res.json()) as { code: string }).code;
      };
      expect(await code('flagged-before')).toBe('EMALWARE');
      // Flagged by the first process after the second one started: known from the announcement.
      expect((await s.t.api('POST', '/advisories/malware', { name: 'flagged-after', reason: 'stole tokens' })).status).toBe(201);
      await eventually(async () => (await code('flagged-after')) === 'EMALWARE', 'the second process to refuse a package flagged after it started');
      // A package without entries: no read of the advisory tables on its first sight.
      const reads: string[] = [];
      const onQuery = (q: { sql: string }) => {
        if (/^\s*select/i.test(q.sql) && /advisor/i.test(q.sql)) reads.push(q.sql);
      };
      b.gk.database.knex.on('query', onQuery);
      try {
        expect(await code('never-flagged')).toBe(200);
      } finally {
        b.gk.database.knex.off('query', onQuery);
      }
      expect(reads).toEqual([]);
      expect(b.gk.runtime.advisories.known('never-flagged')).toEqual({ advisories: [], status: 'fresh' });
    } finally {
      await b.close();
    }
  });

  it('with the advisory source down, a package another process checked is decided with that check, not as never checked', async () => {
    // quiet-package was checked by the first process (an empty answer), never-checked by nobody.
    const knex = s.t.gk.database.knex;
    await eventually(async () => (await knex('advisory_checks').where({ package: 'quiet-package' })).length === 1, 'the first check to be recorded');
    expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'block' } })).status).toBe(200);
    s.upstream.fault({ path: BULK }, { status: 503, body: '{"error":"down"}' });
    const b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db });
    try {
      const read = async (name: string) => {
        const res = await fetch(new URL(name, b.url));
        return res.status === 200 ? 200 : ((await res.json()) as { error: string }).error;
      };
      expect(await read('quiet-package')).toBe(200);
      expect(await read('never-checked')).toMatch(/^\[EADVISORY\] never-checked@1\.0\.0: its advisories could not be checked/);
    } finally {
      await b.close();
      s.upstream.clearFaults();
      expect((await s.t.api('PATCH', '/policy', { advisories: { unavailable: 'warn' } })).status).toBe(200);
    }
  });
});

/**
 * A tarball inspection recorded by one process reaches every other process on the database:
 * it is announced (NOTIFY) when stored, and a process that already decided the package, or
 * holds it as never inspected, decides it again with what the tarball showed. A process that
 * never saw the package reads nothing on its first sight while the index of inspected
 * packages says there is nothing to read.
 *
 * Two gatekeepers share one database: A in this process, B a separate `gatekeeper start`
 * process (the build output), each with its own storage.
 */
import fs from 'node:fs';
import { makeReachableTempDir } from '../../src/db/embedded';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { GatekeeperProcess, spawnGatekeeper } from '../support/process';

// The manifest has no install script; the tarball's own package.json has one.
const HIDING = 'hides-a-script';

describe('tarball inspections announced to every process', () => {
  let upstream: FixtureRegistry;
  let a: TestGatekeeper;
  let b: GatekeeperProcess;
  let dataDir: string;

  const versionsAt = async (base: string, name: string): Promise<{ status: number; versions: string[] }> => {
    const res = await fetch(new URL(name, base));
    const body = (await res.json()) as { versions?: Record<string, unknown> };
    return { status: res.status, versions: Object.keys(body.versions ?? {}) };
  };

  beforeAll(async () => {
    upstream = await startFixtureRegistry([
      {
        name: HIDING,
        versions: [
          { version: '1.0.0', license: 'MIT' },
          { version: '1.1.0', license: 'MIT', tarballPackageJson: { scripts: { postinstall: 'node collect.js' } } },
        ],
      },
      { name: 'never-inspected', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'fetched-here', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ]);
    a = await startTestGatekeeper({ upstream: upstream.url });
    dataDir = makeReachableTempDir('gk-inspections-b-');
    b = await spawnGatekeeper({ GATEKEEPER_DATABASE_URL: a.db.url, GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url });
    for (const name of [HIDING, 'never-inspected', 'fetched-here']) expect((await a.api('POST', '/approvals', { name, reason: 'inspection announcements' })).status).toBe(201);
    await eventually(async () => a.gk.runtime.inspections.indexed, 'the index of inspected packages to load');
  });

  afterAll(async () => {
    if (b) expect(await b.stop()).toBe(0);
    await a?.close();
    await upstream?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('hides a version in a process that had decided it, once another process found what its tarball hides', async () => {
    // A decides the package from its manifests alone: nothing has read a tarball yet.
    expect(await versionsAt(a.url, HIDING)).toEqual({ status: 200, versions: ['1.0.0', '1.1.0'] });
    expect(a.gk.runtime.governance.cache.peek(a.gk.runtime.governance.cache.current(), HIDING, '1.1.0')?.allowed).toBe(true);

    // B is the first to fetch 1.1.0's tarball: its package.json has a script the manifest hides.
    const refused = await fetch(new URL(`${HIDING}/-/${HIDING}-1.1.0.tgz`, b.url));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('EMANIFESTMISMATCH');

    // A never fetched that tarball; the announcement alone makes it decide the version again.
    await eventually(async () => JSON.stringify(await versionsAt(a.url, HIDING)) === JSON.stringify({ status: 200, versions: ['1.0.0'] }), 'A to hide 1.1.0');
    // What B recorded, read from the database: A refuses the tarball without fetching it.
    expect(a.gk.runtime.inspections.known(HIDING, '1.1.0')?.mismatches.map((m) => m.field)).toEqual(['installScripts']);
    const tarball = await fetch(new URL(`${HIDING}/-/${HIDING}-1.1.0.tgz`, a.url));
    expect(tarball.status).toBe(403);
    expect(((await tarball.json()) as { code: string }).code).toBe('EMANIFESTMISMATCH');
    expect(upstream.requests.filter((r) => r.url.endsWith(`/${HIDING}-1.1.0.tgz`))).toHaveLength(1);
  });

  it('takes its own announcement as known: a first tarball fetch stores the inspection and reads none back', async () => {
    expect((await versionsAt(a.url, 'fetched-here')).status).toBe(200);
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    a.gk.database.knex.on('query', onQuery);
    try {
      expect((await fetch(new URL('fetched-here/-/fetched-here-1.0.0.tgz', a.url))).status).toBe(200);
      // The announcement of that inspection has come back to this process too.
      await eventually(async () => a.gk.runtime.inspections.known('fetched-here', '1.0.0') !== undefined, 'the inspection to be held');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await fetch(new URL('fetched-here/-/fetched-here-1.0.0.tgz', a.url))).status).toBe(200);
    } finally {
      a.gk.database.knex.off('query', onQuery);
    }
    const touching = queries.filter((q) => q.includes('tarball_inspections'));
    expect(touching).toHaveLength(1);
    expect(touching[0]).toMatch(/^with saved as \(insert into "tarball_inspections"/);
  });

  it('reads a package again when an inspection of it is announced while it is being read', async () => {
    const inspections = a.gk.runtime.inspections;
    inspections.forgetAll(); // nothing held: the next prepare reads the database
    await inspections.loadIndex();
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    a.gk.database.knex.on('query', onQuery);
    try {
      // HIDING has an inspection recorded, so it is read; the announcement comes while that read runs.
      const reading = inspections.prepareMany([HIDING]);
      expect(inspections.announced(`${HIDING}@9.9.9`)).toBeUndefined(); // not held yet
      await reading;
    } finally {
      a.gk.database.knex.off('query', onQuery);
    }
    expect(queries.filter((q) => q.includes('from "tarball_inspections"'))).toHaveLength(2);
    expect(inspections.known(HIDING, '1.1.0')?.mismatches.map((m) => m.field)).toEqual(['installScripts']);
  });

  it('reads no inspections on the first sight of a package none was recorded for', async () => {
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    a.gk.database.knex.on('query', onQuery);
    try {
      expect(await versionsAt(a.url, 'never-inspected')).toEqual({ status: 200, versions: ['1.0.0'] });
    } finally {
      a.gk.database.knex.off('query', onQuery);
    }
    expect(queries.filter((q) => q.includes('tarball_inspections'))).toEqual([]);
    expect(a.gk.runtime.inspections.known('never-inspected', '1.0.0')).toBeUndefined();
  });
});

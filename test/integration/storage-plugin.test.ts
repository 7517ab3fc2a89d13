/**
 * Verdaccio's writes go through the package storage and its lock (plugins/
 * verdaccio-gatekeeper-storage): two gatekeepers on one database and one data directory, a
 * write through one waiting for the package's lock another holds, a refusal past the bound,
 * and concurrent read-modify-writes of one document through both that lose nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { documentKey } from '../../src/core/storage';
import { packageLockKeys } from '../../src/db/package-lock';
import { FixtureRegistry, startFixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, tempDir, TestGatekeeper } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import { createTestDatabase, TestDatabase } from '../support/database';
import { eventually } from '../support/assert';

describe('Verdaccio storage through the package storage and its lock', () => {
  let upstream: FixtureRegistry;
  let db: TestDatabase;
  let dataDir: string;
  let a: TestGatekeeper;
  let b: TestGatekeeper;

  const distTag = (t: TestGatekeeper, name: string, tag: string, version: string) =>
    fetch(new URL(`-/package/${name.replace('/', '%2f')}/dist-tags/${tag}`, t.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(version),
    });

  /** Whether a connection waits for the package's advisory lock. */
  const lockWaiters = async (name: string): Promise<number> => {
    const [k1, k2] = packageLockKeys(name);
    const rows = await a.gk.database.knex.raw("select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = ?::int4::oid and objid = ?::int4::oid and objsubid = 2 and not granted", [k1, k2]);
    return (rows.rows[0] as { n: number }).n;
  };

  /** Holds the package's storage lock through instance b until the returned release() (which waits until it is let go). */
  const holdLock = async (name: string): Promise<() => Promise<void>> => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = b.gk.runtime.storage.lock(name, async () => {
      entered();
      await held;
    });
    await inside;
    return async () => {
      release();
      await holding;
    };
  };

  beforeAll(async () => {
    upstream = await startFixtureRegistry([]);
    db = await createTestDatabase();
    dataDir = tempDir('gk-shared-');
    a = await startTestGatekeeper({ upstream: upstream.url, db, settings: { dataDir } });
    b = await startTestGatekeeper({ upstream: upstream.url, db, settings: { dataDir } });
    await a.api('POST', '/approvals', { name: '@acme/*', reason: 'our own scope' });
    expect((await a.api('POST', '/publish-rules', { pattern: '@acme/*', role: 'publisher' })).status).toBe(201);
    const res = await fetch(new URL('@acme%2flocked', a.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(publishDocument('@acme/locked', '1.0.0')),
    });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
    await upstream?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('uses the package storage: Verdaccio\'s layout in the shared directory, the package list included', async () => {
    const stored = JSON.parse(fs.readFileSync(path.join(dataDir, 'storage/@acme/locked/package.json'), 'utf8'));
    expect(Object.keys(stored.versions)).toEqual(['1.0.0']);
    expect(fs.existsSync(path.join(dataDir, 'storage/@acme/locked/locked-1.0.0.tgz'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'storage/.verdaccio-db.json'), 'utf8')).list).toEqual(['@acme/locked']);
    // Read through the other instance.
    expect((await b.gk.runtime.storage.get(documentKey('@acme/locked')))?.toString('utf8')).toContain('"1.0.0"');
  });

  it('a write through one instance waits while another holds the package lock, then completes', async () => {
    const release = await holdLock('@acme/locked');
    let answered = false;
    const write = distTag(a, '@acme/locked', 'beta', '1.0.0').then((res) => {
      answered = true;
      return res;
    });
    try {
      await eventually(async () => (await lockWaiters('@acme/locked')) === 1, 'the write waits for the advisory lock');
      expect(answered).toBe(false);
    } finally {
      await release();
    }
    const res = await write;
    expect(res.status).toBe(201);
    const stored = JSON.parse(fs.readFileSync(path.join(dataDir, 'storage/@acme/locked/package.json'), 'utf8'));
    expect(stored['dist-tags']).toMatchObject({ latest: '1.0.0', beta: '1.0.0' });
  });

  it('refuses a write that waits past the bound with 503 ELOCKTIMEOUT and changes nothing', async () => {
    const before = fs.readFileSync(path.join(dataDir, 'storage/@acme/locked/package.json'), 'utf8');
    const release = await holdLock('@acme/locked');
    try {
      // The bound is 10 s (src/server/start.ts).
      const res = await distTag(a, '@acme/locked', 'late', '1.0.0');
      expect(res.status).toBe(503);
      const body = (await res.json()) as { code: string; error: string };
      expect(body.code).toBe('ELOCKTIMEOUT');
      expect(body.error).toMatch(/^\[ELOCKTIMEOUT\] another write to @acme\/locked held its storage lock for more than \d+(\.\d)?s; nothing was written\. Try again$/);
    } finally {
      await release();
    }
    expect(fs.readFileSync(path.join(dataDir, 'storage/@acme/locked/package.json'), 'utf8')).toBe(before);
  });

  it('concurrent dist-tag writes of one package through both instances all survive', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => distTag(i % 2 === 0 ? a : b, '@acme/locked', `t${i}`, '1.0.0')));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const stored = JSON.parse(fs.readFileSync(path.join(dataDir, 'storage/@acme/locked/package.json'), 'utf8'));
    for (let i = 0; i < 20; i++) expect(stored['dist-tags'][`t${i}`]).toBe('1.0.0');
  });
});

/**
 * A publish that did not finish, or that Verdaccio refused after the gate's checks, leaves
 * storage and the version record agreeing: a version storage holds is recorded as published
 * (never reclaimed for other bytes), a tarball whose version is not listed is removed (never
 * blocking the version forever), the gate refuses what Verdaccio would refuse after writing,
 * a listed version's tarball cannot be removed on its own, and every refusal is audited with
 * the code and message the client got.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loginToken } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import { buildTarball, integrityOf, shasumOf } from '../support/tarball';
import { gatekeeperSuite } from '../support/suite';
import type { StoredVersions } from '../../src/services/publishing';

describe('publishes that did not finish', () => {
  const s = gatekeeperSuite({ settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }] } });
  let pub1: string;
  let pub2: string;
  const send = (method: string, urlPath: string, body: unknown, token = pub1) =>
    fetch(new URL(urlPath, s.t.url), {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const put = (name: string, doc: unknown, token = pub1) => send('PUT', name.replace('/', '%2f'), doc, token);
  /** The document of a publish whose tarball's index.js says `content`. */
  const other = (name: string, version: string, content: string) => {
    const doc = publishDocument(name, version) as any;
    const tarball = buildTarball({ 'package/package.json': JSON.stringify({ name, version, license: 'MIT' }), 'package/index.js': content });
    const [key] = Object.keys(doc._attachments);
    doc._attachments[key] = { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length };
    doc.versions[version].dist = { ...doc.versions[version].dist, integrity: integrityOf(tarball), shasum: shasumOf(tarball) };
    return doc;
  };
  const tarballOf = async (name: string, file: string) => {
    const res = await fetch(new URL(`${name.replace('/', '%2f')}/-/${file}`, s.t.url));
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const record = (name: string, version: string) => s.t.gk.database.knex('published_versions').where({ name, version }).first();
  const refusal = async (res: Response) => {
    const body = (await res.json()) as { error: string; code: string };
    // Clients that print only the status text read the same refusal.
    expect(res.statusText).toBe(body.error.slice(0, res.statusText.length));
    return { status: res.status, code: body.code, error: body.error };
  };
  const storageDir = (name: string) => path.join(s.t.dataDir, 'storage', ...name.split('/'));
  const audit = async (name: string) => (await s.t.api('GET', `/audit?package=${encodeURIComponent(name)}`)).body.items as Array<{ action: string; actor: string; version: string | null; details: Record<string, any> }>;

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'pub1', password: 'pub1-password', role: 'publisher' });
    await s.t.api('POST', '/users', { username: 'pub2', password: 'pub2-password', role: 'publisher' });
    pub1 = await loginToken(s.t.url, 'pub1', 'pub1-password');
    pub2 = await loginToken(s.t.url, 'pub2', 'pub2-password');
  });

  it('records a version a killed publish stored as published, with the stored bytes, and never lets a stale reservation be reclaimed for other bytes', async () => {
    expect((await put('@acme/killed', publishDocument('@acme/killed', '1.0.0'))).status).toBe(201);
    const stored = await tarballOf('@acme/killed', 'killed-1.0.0.tgz');
    // What kill -9 between Verdaccio's write and the confirmation leaves: the version stored and served, its record
    // still reserved (confirm() never ran), older than the stale-reservation window.
    await s.t.gk.database
      .knex('published_versions')
      .where({ name: '@acme/killed', version: '1.0.0' })
      .update({ state: 'reserved', published_at: null, integrity: 'sha512-not-what-was-stored', reserved_at: new Date(Date.now() - 11 * 60_000) });

    const again = await put('@acme/killed', other('@acme/killed', '1.0.0', 'module.exports = "other bytes";'), pub2);
    const answer = await refusal(again);
    expect(answer).toMatchObject({ status: 409, code: 'EVERSIONEXISTS' });
    expect(answer.error).toMatch(/^\[EVERSIONEXISTS\] @acme\/killed@1\.0\.0 was published on .*; versions are immutable, publish a new version$/);
    // Recorded as published, with what storage holds; the served bytes are the first publish's.
    expect(await record('@acme/killed', '1.0.0')).toMatchObject({ state: 'published', publisher: 'pub1', integrity: integrityOf(stored.bytes), published_at: expect.any(Date) });
    expect((await tarballOf('@acme/killed', 'killed-1.0.0.tgz')).bytes.equals(stored.bytes)).toBe(true);
    expect((await audit('@acme/killed')).find((e) => e.action === 'package.publish' && e.details.recovered)).toMatchObject({ actor: 'pub1', version: '1.0.0', details: { integrity: integrityOf(stored.bytes), noticedBy: 'pub2' } });

    // Unpublished by an admin while still reserved, it is never published again either.
    expect((await put('@acme/killed', publishDocument('@acme/killed', '1.1.0'))).status).toBe(201);
    await s.t.gk.database.knex('published_versions').where({ name: '@acme/killed', version: '1.1.0' }).update({ state: 'reserved', published_at: null, reserved_at: new Date(Date.now() - 11 * 60_000) });
    await s.npm.setToken(s.t.adminToken);
    const unpublished = await s.npm.run(['unpublish', '@acme/killed@1.1.0']);
    expect(unpublished.output).not.toContain('npm error');
    expect(await record('@acme/killed', '1.1.0')).toMatchObject({ state: 'unpublished' });
    expect((await refusal(await put('@acme/killed', other('@acme/killed', '1.1.0', 'module.exports = 2;'))))).toMatchObject({ status: 409, code: 'EVERSIONEXISTS' });
  });

  it('removes the tarball a killed publish left before its version was listed, so the version can be published', async () => {
    expect((await put('@acme/orphaned', publishDocument('@acme/orphaned', '1.0.0'))).status).toBe(201);
    // Killed after Verdaccio wrote the tarball of 1.1.0 and before it listed the version: the tarball is there, the record reserved and stale.
    const orphan = buildTarball({ 'package/package.json': JSON.stringify({ name: '@acme/orphaned', version: '1.1.0' }), 'package/index.js': 'half-published' });
    fs.writeFileSync(path.join(storageDir('@acme/orphaned'), 'orphaned-1.1.0.tgz'), orphan);
    await s.t.gk.database.knex('published_versions').insert({ name: '@acme/orphaned', version: '1.1.0', integrity: integrityOf(orphan), shasum: 'x', publisher: 'pub1', state: 'reserved', reserved_at: new Date(Date.now() - 11 * 60_000) });
    const doc = publishDocument('@acme/orphaned', '1.1.0');
    const published = await put('@acme/orphaned', doc, pub2);
    expect(published.status).toBe(201);
    const served = await tarballOf('@acme/orphaned', 'orphaned-1.1.0.tgz');
    expect(served.status).toBe(200);
    expect(integrityOf(served.bytes)).toBe((doc.versions as any)['1.1.0'].dist.integrity);
    expect(await record('@acme/orphaned', '1.1.0')).toMatchObject({ state: 'published', publisher: 'pub2', integrity: integrityOf(served.bytes) });
  });

  it('settles dead publishes without waiting for the next publish: the reconcile job records a stored version, releases an unstored one with its orphan, and leaves a fresh reservation alone', async () => {
    const name = '@acme/settled';
    const knex = s.t.gk.database.knex;
    const stale = new Date(Date.now() - 11 * 60_000);
    // 1.0.0 stored and served, its record still reserved: killed between Verdaccio's write and the confirmation.
    expect((await put(name, publishDocument(name, '1.0.0'))).status).toBe(201);
    const stored = await tarballOf(name, 'settled-1.0.0.tgz');
    await knex('published_versions').where({ name, version: '1.0.0' }).update({ state: 'reserved', published_at: null, integrity: 'sha512-not-what-was-stored', reserved_at: stale });
    // 1.1.0: its tarball written, the version never listed.
    const orphanPath = path.join(storageDir(name), 'settled-1.1.0.tgz');
    const orphan = buildTarball({ 'package/package.json': JSON.stringify({ name, version: '1.1.0' }), 'package/index.js': 'half-published' });
    fs.writeFileSync(orphanPath, orphan);
    await knex('published_versions').insert({ name, version: '1.1.0', integrity: integrityOf(orphan), shasum: shasumOf(orphan), publisher: 'pub1', state: 'reserved', reserved_at: stale });
    // 1.2.0: reserved a moment ago, its publish possibly still running.
    await knex('published_versions').insert({ name, version: '1.2.0', integrity: 'sha512-in-flight', shasum: 'x', publisher: 'pub1', state: 'reserved', reserved_at: new Date() });

    // The oldest stale reservation's storage cannot be read: it must not hold back the others.
    fs.mkdirSync(storageDir('@acme/unreadable'), { recursive: true });
    fs.writeFileSync(path.join(storageDir('@acme/unreadable'), 'package.json'), '{"versions": ');
    await knex('published_versions').insert({ name: '@acme/unreadable', version: '1.0.0', integrity: 'sha512-x', shasum: 'x', publisher: 'pub1', state: 'reserved', reserved_at: new Date(stale.getTime() - 60_000) });

    expect(await s.t.gk.runtime.jobs.runNow('publishing.reconcile')).toBe(true);
    // The run failed, naming the one it could not settle, after settling the rest.
    expect(s.t.gk.runtime.jobs.health()['publishing.reconcile']).toMatchObject({ ok: false, lastError: expect.stringMatching(/^1 stale reservation\(s\) could not be settled: @acme\/unreadable@1\.0\.0: /) });
    expect(await record('@acme/unreadable', '1.0.0')).toMatchObject({ state: 'reserved' });

    expect(await record(name, '1.0.0')).toMatchObject({ state: 'published', publisher: 'pub1', integrity: integrityOf(stored.bytes), published_at: expect.any(Date) });
    expect(await record(name, '1.1.0')).toBeUndefined();
    expect(fs.existsSync(orphanPath)).toBe(false);
    expect(await record(name, '1.2.0')).toMatchObject({ state: 'reserved', integrity: 'sha512-in-flight' });
    const entries = await audit(name);
    expect(entries.find((e) => e.action === 'package.publish' && e.details.recovered)).toMatchObject({ actor: 'pub1', version: '1.0.0', details: { integrity: integrityOf(stored.bytes), noticedBy: '$system' } });
    expect(entries.filter((e) => e.action === 'package.publish_failed')).toEqual([
      expect.objectContaining({ actor: '$system', version: '1.1.0', details: { publisher: 'pub1', reason: 'its publish died before storing it: the reservation was released', noticedBy: '$system' } }),
    ]);

    // The released version publishes, with the new bytes; the settled one and the fresh reservation refuse.
    const republished = publishDocument(name, '1.1.0');
    expect((await put(name, republished, pub2)).status).toBe(201);
    expect(integrityOf((await tarballOf(name, 'settled-1.1.0.tgz')).bytes)).toBe((republished.versions as any)['1.1.0'].dist.integrity);
    expect((await refusal(await put(name, other(name, '1.0.0', 'module.exports = "other";'), pub2))).code).toBe('EVERSIONEXISTS');
    expect((await put(name, publishDocument(name, '1.2.0'), pub2)).status).toBe(409);
    // Its storage mended, the next run settles the last one and touches nothing else.
    fs.rmSync(storageDir('@acme/unreadable'), { recursive: true });
    expect(await s.t.gk.runtime.jobs.runNow('publishing.reconcile')).toBe(true);
    expect(s.t.gk.runtime.jobs.health()['publishing.reconcile']).toMatchObject({ ok: true });
    expect(await record('@acme/unreadable', '1.0.0')).toBeUndefined();
    expect(await record(name, '1.2.0')).toMatchObject({ state: 'reserved' });
    expect((await audit(name)).filter((e) => e.action === 'package.publish_failed')).toHaveLength(1);
  });

  it("settles a dead publish holding its reservation's lock: a publish of the version meanwhile waits, and the tarball it writes is never taken for the dead one's orphan", async () => {
    const name = '@acme/raced';
    const knex = s.t.gk.database.knex;
    expect((await put(name, publishDocument(name, '1.0.0'))).status).toBe(201);
    await knex('published_versions').insert({ name, version: '1.1.0', integrity: 'sha512-dead', shasum: 'x', publisher: 'pub1', state: 'reserved', reserved_at: new Date(Date.now() - 11 * 60_000) });
    // The job is held as it asks storage about 1.1.0 (a fault hook on the service's storage reader).
    const service = s.t.gk.runtime.publishing as unknown as { stored: StoredVersions };
    const stored = service.stored;
    let entered!: () => void;
    let open!: () => void;
    const inJob = new Promise<void>((resolve) => (entered = resolve));
    const gate = new Promise<void>((resolve) => (open = resolve));
    let held = false;
    service.stored = {
      ...stored,
      find: async (n, v) => {
        if (!held && n === name && v === '1.1.0') {
          held = true;
          entered();
          await gate;
        }
        return stored.find(n, v);
      },
    };
    const tarballPath = path.join(storageDir(name), 'raced-1.1.0.tgz');
    const bytes = buildTarball({ 'package/package.json': JSON.stringify({ name, version: '1.1.0', license: 'MIT' }), 'package/index.js': 'the new publish' });
    // What Verdaccio does once a publish holds the version: it writes the tarball (then lists the version).
    const writeTarball = () => fs.writeFileSync(tarballPath, bytes);
    let stopPolling = false;
    const waitingOnLock = async () => {
      while (!stopPolling) {
        const { rows } = await knex.raw("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
        if (rows[0].n > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    try {
      const job = s.t.gk.runtime.jobs.runNow('publishing.reconcile');
      await inJob;
      const tarball = { filename: 'raced-1.1.0.tgz', data: bytes, integrity: integrityOf(bytes), shasum: shasumOf(bytes) };
      const reserving = s.t.gk.runtime.publishing.reserve({ username: 'pub2' }, { username: 'pub2', role: 'publisher' }, { name, version: '1.1.0', manifest: {}, tarball, distTags: {} });
      const first = await Promise.race([reserving.then(() => 'reserved'), waitingOnLock().then(() => 'waiting')]);
      stopPolling = true;
      // It waits for the job's lock; without the lock it would reserve and write at once, and the job would delete that tarball.
      if (first === 'reserved') writeTarball();
      open();
      expect(await job).toBe(true);
      const reservation = await reserving;
      if (first === 'waiting') writeTarball();
      expect(fs.existsSync(tarballPath)).toBe(true);
      expect(first).toBe('waiting');
      expect(await record(name, '1.1.0')).toMatchObject({ state: 'reserved', publisher: 'pub2', integrity: integrityOf(bytes) });
      expect((await audit(name)).filter((e) => e.action === 'package.publish_failed')).toEqual([
        expect.objectContaining({ actor: '$system', version: '1.1.0', details: expect.objectContaining({ publisher: 'pub1', noticedBy: '$system' }) }),
      ]);
      // Its own failure then removes its tarball, under its own reservation's lock, and frees the version.
      await reservation.release({ status: 500, code: 'EINTERNAL', reason: 'the storage write failed' });
      expect(fs.existsSync(tarballPath)).toBe(false);
      expect(await record(name, '1.1.0')).toBeUndefined();
    } finally {
      stopPolling = true;
      open();
      service.stored = stored;
    }
  });

  it('keeps a failed publish\'s reservation when storage cannot be read, audits why, and the reconcile job settles it once stale', async () => {
    const name = '@acme/unreadable-release';
    const service = s.t.gk.runtime.publishing as unknown as { stored: StoredVersions };
    const stored = service.stored;
    const bytes = buildTarball({ 'package/package.json': JSON.stringify({ name, version: '1.0.0', license: 'MIT' }), 'package/index.js': '1' });
    const tarball = { filename: 'unreadable-release-1.0.0.tgz', data: bytes, integrity: integrityOf(bytes), shasum: shasumOf(bytes) };
    const reservation = await s.t.gk.runtime.publishing.reserve({ username: 'pub1' }, { username: 'pub1', role: 'publisher' }, { name, version: '1.0.0', manifest: {}, tarball, distTags: {} });
    // A fault hook: the storage reader fails (a disk error) as the failed publish is settled.
    service.stored = { ...stored, find: async () => Promise.reject(new Error('EIO: i/o error, read')) };
    try {
      await reservation.release({ status: 500, code: 'EINTERNAL', reason: 'the storage write failed' });
    } finally {
      service.stored = stored;
    }
    // Whether it was stored is unknown: the version stays reserved, so it is never reclaimed for other bytes meanwhile.
    expect(await record(name, '1.0.0')).toMatchObject({ state: 'reserved', publisher: 'pub1' });
    const [entry] = (await audit(name)).filter((e) => e.action === 'package.publish_failed');
    expect(entry).toMatchObject({ actor: 'pub1', version: '1.0.0', details: { code: 'EINTERNAL', status: 500, kept: expect.stringContaining('EIO: i/o error, read') } });
    expect((await refusal(await put(name, publishDocument(name, '1.0.0'), pub2))).code).toBe('EVERSIONEXISTS');
    // Once stale, the job finds nothing stored and releases it.
    await s.t.gk.database.knex('published_versions').where({ name, version: '1.0.0' }).update({ reserved_at: new Date(Date.now() - 11 * 60_000) });
    expect(await s.t.gk.runtime.jobs.runNow('publishing.reconcile')).toBe(true);
    expect(await record(name, '1.0.0')).toBeUndefined();
    expect((await put(name, publishDocument(name, '1.0.0'), pub2)).status).toBe(201);
  });

  it('refuses before writing anything what Verdaccio would refuse after writing the tarball, and a clean publish then succeeds', async () => {
    expect((await put('@acme/b5', publishDocument('@acme/b5', '1.0.0'))).status).toBe(201);
    const filesBefore = fs.readdirSync(storageDir('@acme/b5')).filter((f) => !f.startsWith('.')).sort();
    // dist.tarball naming another version's tarball (Verdaccio compares the shasum of the one it names).
    const misnamed = publishDocument('@acme/b5', '1.2.0') as any;
    misnamed.versions['1.2.0'].dist.tarball = 'http://x/@acme/b5/-/b5-1.0.0.tgz';
    const first = await refusal(await put('@acme/b5', misnamed));
    expect(first).toMatchObject({ status: 400, code: 'EBADPUBLISH' });
    expect(first.error).toBe("[EBADPUBLISH] the dist.tarball of @acme/b5@1.2.0 ('http://x/@acme/b5/-/b5-1.0.0.tgz') does not name its tarball b5-1.2.0.tgz. Publish with npm, which computes it from the tarball it sends");
    // A shasum that is no SHA-1 hex string.
    const numeric = publishDocument('@acme/b5', '1.2.0') as any;
    numeric.versions['1.2.0'].dist.shasum = 42;
    expect(await refusal(await put('@acme/b5', numeric))).toMatchObject({ status: 400, code: 'EBADPUBLISH', error: expect.stringMatching(/dist\.shasum of @acme\/b5@1\.2\.0 \('42'\) is not a SHA-1 digest/) });
    // An integrity that is not sha512-prefixed is verified too: sha1 alone, and a wrong sha512 beside another hash.
    const sha1 = publishDocument('@acme/b5', '1.2.0') as any;
    sha1.versions['1.2.0'].dist.integrity = 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=';
    delete sha1.versions['1.2.0'].dist.shasum;
    expect(await refusal(await put('@acme/b5', sha1))).toMatchObject({ status: 400, code: 'EBADPUBLISH', error: expect.stringContaining('does not match its declared integrity (sha1)') });
    const mixed = publishDocument('@acme/b5', '1.2.0') as any;
    mixed.versions['1.2.0'].dist.integrity = `sha256-AAAA ${integrityOf(Buffer.from('other'))}`;
    expect(await refusal(await put('@acme/b5', mixed))).toMatchObject({ status: 400, code: 'EBADPUBLISH' });
    // Nothing was written, nothing reserved; the version publishes cleanly.
    expect(fs.readdirSync(storageDir('@acme/b5')).filter((f) => !f.startsWith('.')).sort()).toEqual(filesBefore);
    expect(await record('@acme/b5', '1.2.0')).toBeUndefined();
    expect((await put('@acme/b5', publishDocument('@acme/b5', '1.2.0'))).status).toBe(201);
    // The refusals are audited with the version the body named.
    const refused = (await audit('@acme/b5')).filter((e) => e.action === 'package.publish_refused');
    expect(refused.map((e) => [e.version, e.details.code])).toEqual(Array(4).fill(['1.2.0', 'EBADPUBLISH']));
  });

  it('removes what a publish wrote when storing it fails after its tarball, audits what the client was told, and the version publishes later', async () => {
    expect((await put('@acme/half', publishDocument('@acme/half', '1.0.0'))).status).toBe(201);
    // Verdaccio writes the tarball, then lists the new package in its package list: that write fails.
    const list = path.join(s.t.dataDir, 'storage', '.verdaccio-db.json');
    const saved = `${list}.saved`;
    fs.renameSync(list, saved);
    fs.mkdirSync(list);
    let failed: Response;
    try {
      failed = await put('@acme/half-new', publishDocument('@acme/half-new', '1.0.0'));
    } finally {
      fs.rmdirSync(list);
      fs.renameSync(saved, list);
    }
    const answer = await refusal(failed);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(fs.existsSync(path.join(storageDir('@acme/half-new'), 'half-new-1.0.0.tgz'))).toBe(false);
    expect(await record('@acme/half-new', '1.0.0')).toBeUndefined();
    const [entry] = (await audit('@acme/half-new')).filter((e) => e.action === 'package.publish_refused' || e.action === 'package.publish_failed');
    expect(entry).toMatchObject({ actor: 'pub1', version: '1.0.0', details: { code: answer.code, status: answer.status } });
    expect(`[${entry.details.code}] ${entry.details.reason}`).toBe(answer.error);
    expect((await put('@acme/half-new', publishDocument('@acme/half-new', '1.0.0'))).status).toBe(201);
  });

  it("removes only the tarball of a version no longer listed, under the unpublish policy, and audits it", async () => {
    expect((await put('@acme/b3', publishDocument('@acme/b3', '1.0.0'))).status).toBe(201);
    expect((await put('@acme/b3', publishDocument('@acme/b3', '1.1.0'))).status).toBe(201);
    const removal = await refusal(await send('DELETE', '@acme%2fb3/-/b3-1.0.0.tgz/-rev/whatever', undefined, pub2));
    expect(removal).toMatchObject({ status: 409, code: 'ECONFLICT' });
    expect(removal.error).toBe(
      '[ECONFLICT] b3-1.0.0.tgz is the tarball of @acme/b3@1.0.0, which is still listed: removing it alone would leave a version nobody can install. Unpublish the version with npm unpublish @acme/b3@1.0.0, which removes its tarball too',
    );
    expect((await tarballOf('@acme/b3', 'b3-1.0.0.tgz')).status).toBe(200);
    expect((await audit('@acme/b3')).find((e) => e.action === 'package.remove_tarball_refused')).toMatchObject({ actor: 'pub2', version: '1.0.0', details: { code: 'ECONFLICT' } });
    // npm unpublish: the document without the version, then its tarball.
    await s.npm.setToken(pub1);
    const unpublished = await s.npm.run(['unpublish', '@acme/b3@1.1.0']);
    expect(unpublished.output).not.toContain('npm error');
    expect(unpublished.code).toBe(0);
    expect(fs.existsSync(path.join(storageDir('@acme/b3'), 'b3-1.1.0.tgz'))).toBe(false);
    expect((await audit('@acme/b3')).find((e) => e.action === 'package.remove_tarball')).toMatchObject({ actor: 'pub1', version: '1.1.0', details: { filename: 'b3-1.1.0.tgz' } });
  });

  it('audits the refusals Verdaccio answers after the gate, with their code and message', async () => {
    expect((await put('@acme/dep', publishDocument('@acme/dep', '1.0.0'))).status).toBe(201);
    const stored = (await (await send('GET', '@acme%2fdep?write=true', undefined)).json()) as any;
    // A document written back without dist-tags and without a deprecation: Verdaccio takes it for a new package.
    const { 'dist-tags': _tags, ...withoutTags } = stored;
    const answer = await refusal(await put('@acme/dep', withoutTags));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    const entry = (await audit('@acme/dep')).find((e) => e.action === 'package.deprecate_refused');
    expect(entry).toMatchObject({ actor: 'pub1', details: { code: answer.code } });
    expect(`[${entry?.details.code}] ${entry?.details.reason}`).toBe(answer.error);
    // A body refused before it is read still names its version.
    const notGzip = publishDocument('@acme/dep', '1.1.0') as any;
    notGzip._attachments['dep-1.1.0.tgz'].data = Buffer.from('plain').toString('base64');
    delete notGzip.versions['1.1.0'].dist.integrity;
    delete notGzip.versions['1.1.0'].dist.shasum;
    expect(await refusal(await put('@acme/dep', notGzip))).toMatchObject({ status: 400, code: 'EBADPUBLISH' });
    expect((await audit('@acme/dep')).find((e) => e.action === 'package.publish_refused')).toMatchObject({ version: '1.1.0', details: { code: 'EBADPUBLISH' } });
  });

  it('refuses dist-tags named like members of every JavaScript object, at publish and on npm dist-tag', async () => {
    // JSON.stringify cannot write an own __proto__ key: the body is written by hand.
    const doc = JSON.stringify(publishDocument('@acme/proto', '1.0.0')).replace('"dist-tags":{"latest":"1.0.0"}', '"dist-tags":{"__proto__":"1.0.0"}');
    const atPublish = await refusal(await put('@acme/proto', doc));
    expect(atPublish).toMatchObject({ status: 400, code: 'EINVALIDTAG' });
    expect(atPublish.error).toBe(
      "[EINVALIDTAG] '__proto__' is not a dist-tag name: every JavaScript object has a member of that name, so registries and clients lose or misread such a tag. Pick another name, such as next or beta",
    );
    expect(await record('@acme/proto', '1.0.0')).toBeUndefined();
    expect((await put('@acme/proto', publishDocument('@acme/proto', '1.0.0'))).status).toBe(201);
    for (const tag of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'prototype']) {
      const res = await refusal(await send('PUT', `-/package/@acme%2fproto/dist-tags/${tag}`, JSON.stringify('1.0.0')));
      expect({ tag, ...res }).toMatchObject({ tag, status: 400, code: 'EINVALIDTAG' });
    }
    await s.npm.setToken(pub1);
    const cli = await s.npm.run(['dist-tag', 'add', '@acme/proto@1.0.0', 'constructor']);
    expect(cli.code).not.toBe(0);
    expect(cli.output).toContain("[EINVALIDTAG] 'constructor' is not a dist-tag name");
    const packument = (await (await fetch(new URL('@acme%2fproto', s.t.url))).json()) as any;
    expect(Object.keys(packument['dist-tags'])).toEqual(['latest']);
  });
});

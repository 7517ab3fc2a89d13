/**
 * A stored tarball is served only while it matches the integrity it was verified against: its
 * inspection's, which must therefore be recorded whatever the package text holds (a lone UTF-16
 * surrogate, which jsonb cannot hold, once failed the insert and left the copy unchecked), and
 * for a private version also when this process does not hold its inspections, or it has none
 * (its publish record's integrity).
 */
import { storageKey } from '../../src/core/storage';
import { tarballCacheOf } from '../../src/server/registry/gate';
import { eventually } from '../support/assert';
import { loginToken } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import type { FixturePackage } from '../support/fixture-registry';
import { gatekeeperSuite } from '../support/suite';
import { integrityOf } from '../support/tarball';

describe('stored copies and the integrity they are checked against', () => {
  const packages: FixturePackage[] = [
    { name: 'surrogate-text', versions: [{ version: '1.0.0', license: 'MIT', tarballPackageJson: { description: 'x\ud800y\udc00z' } }] },
    // Their dist.integrity is set once the fixture has built the tarballs (see the test).
    { name: 'two-hashes', versions: [{ version: '1.0.0', license: 'MIT' }] },
    { name: 'nul-integrity', versions: [{ version: '1.0.0', license: 'MIT' }] },
  ];
  const s = gatekeeperSuite({
    packages,
    settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }] },
    npm: false,
  });
  let publisher: string;
  const knex = () => s.t.gk.database.knex;
  const url = (name: string, version: string) => new URL(`${name.replace('/', '%2f')}/-/${name.split('/').pop()}-${version}.tgz`, s.t.url);
  const keyOf = (name: string, version: string) => storageKey(name, `${name.split('/').pop()}-${version}.tgz`);
  const publish = (name: string, version: string, packageJson?: Record<string, unknown>) =>
    fetch(new URL(name.replace('/', '%2f'), s.t.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
      body: JSON.stringify(publishDocument(name, version, packageJson ? { packageJson } : {})),
    });
  /** Replaces the stored copy with other bytes (as an edit on disk would), dropping what memory holds of it. */
  const alter = async (name: string, version: string): Promise<Buffer> => {
    const key = keyOf(name, version);
    const bytes = s.t.gk.runtime.storage.readSync(key) as Buffer;
    const altered = Buffer.from(bytes);
    altered[altered.length - 1] ^= 0xff;
    await s.t.gk.runtime.storage.put(key, altered);
    tarballCacheOf(s.t.gk.runtime).invalidate(name);
    return bytes;
  };
  const inspectionRow = (name: string, version: string) => knex()('tarball_inspections').where({ package: name, version }).first();

  beforeAll(async () => {
    expect((await s.t.api('POST', '/users', { username: 'pub', password: 'pub-password', role: 'publisher' })).status).toBe(201);
    publisher = await loginToken(s.t.url, 'pub', 'pub-password');
  });

  it('records the inspection of an upstream tarball whose package.json holds lone surrogates, stores the copy, and checks it', async () => {
    const bytes = s.upstream.tarball('surrogate-text', '1.0.0');
    const first = await fetch(url('surrogate-text', '1.0.0'));
    expect(first.status).toBe(200);
    expect(Buffer.from(await first.arrayBuffer()).equals(bytes)).toBe(true);
    await eventually(async () => (await inspectionRow('surrogate-text', '1.0.0')) !== undefined, 'the inspection recorded');
    expect((await inspectionRow('surrogate-text', '1.0.0')).manifest.description).toBe('xyz');
    await eventually(async () => s.t.gk.runtime.storage.readSync(keyOf('surrogate-text', '1.0.0'))?.equals(bytes) === true, 'the copy stored');
    expect((await s.t.api('GET', '/health')).body.inspections).toEqual({ ok: true, failedWrites: 0 });

    // The stored copy is checked against the recorded integrity: a changed one is fetched again.
    const asked = () => s.upstream.requests.filter((r) => r.url.endsWith('/surrogate-text-1.0.0.tgz')).length;
    const before = asked();
    await alter('surrogate-text', '1.0.0');
    const again = await fetch(url('surrogate-text', '1.0.0'));
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(bytes)).toBe(true);
    expect(asked() - before).toBe(1);
  });

  it("records the integrity of the bytes themselves, not the document's list of hashes, and drops a version whose integrity is not an integrity string", async () => {
    const bytes = s.upstream.tarball('two-hashes', '1.0.0');
    const own = integrityOf(bytes);
    const other = integrityOf(Buffer.from('other bytes'));
    packages[1].versions[0].dist = { integrity: `${other} ${own}` };
    packages[2].versions[0].dist = { integrity: `${integrityOf(s.upstream.tarball('nul-integrity', '1.0.0'))} sha512-x\u0000y` };

    const res = await fetch(url('two-hashes', '1.0.0'));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(res.headers.get('etag')).toBe(`"${own}"`);
    await eventually(async () => (await inspectionRow('two-hashes', '1.0.0')) !== undefined, 'the inspection recorded');
    expect((await inspectionRow('two-hashes', '1.0.0')).integrity).toBe(own);

    // A version whose dist.integrity holds NUL is left out of the packument (it could never be recorded).
    const packument = await fetch(new URL('nul-integrity', s.t.url));
    expect(packument.status).toBe(200);
    expect(Object.keys(((await packument.json()) as { versions: Record<string, unknown> }).versions)).toEqual([]);
    const tarball = await fetch(url('nul-integrity', '1.0.0'));
    expect(tarball.status).toBe(404);
    expect((await s.t.api('GET', '/health')).body.inspections).toEqual({ ok: true, failedWrites: 0 });
  });

  it('records the inspection of a private version whose package.json holds lone surrogates, and refuses a copy of it changed in storage', async () => {
    const name = '@acme/surrogate';
    expect((await publish(name, '1.0.0', { name, version: '1.0.0', license: 'MIT', description: 'x\ud800y' })).status).toBe(201);
    expect((await inspectionRow(name, '1.0.0'))?.manifest.description).toBe('xy');
    expect((await fetch(url(name, '1.0.0'))).status).toBe(200);
    await alter(name, '1.0.0');
    const res = await fetch(url(name, '1.0.0'));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('ENOTFOUND');
  });

  it("refuses a private version's changed copy when this process does not hold its inspection, and when it has none but its publish record", async () => {
    const name = '@acme/evicted';
    expect((await publish(name, '1.0.0')).status).toBe(201);
    const good = await fetch(url(name, '1.0.0'));
    expect(good.status).toBe(200);
    const bytes = Buffer.from(await good.arrayBuffer());
    await alter(name, '1.0.0');
    const refused = async (why: string) => {
      tarballCacheOf(s.t.gk.runtime).invalidate(name);
      s.t.gk.runtime.inspections.forgetAll();
      // Twice: the fast path must not serve it either once the full path has read the inspection again.
      for (const i of [1, 2]) {
        const res = await fetch(url(name, '1.0.0'));
        expect({ why, i, status: res.status }).toEqual({ why, i, status: 404 });
        expect(((await res.json()) as { error: string }).error).toMatch(/^\[ENOTFOUND\] @acme\/evicted@1\.0\.0 is private and its tarball is not in storage, or no longer matches the integrity it was published with/);
      }
    };
    await refused('inspection not held');
    await knex()('tarball_inspections').where({ package: name }).delete();
    await refused('no inspection, the publish record');

    // The same checks pass the bytes it was published with.
    await s.t.gk.runtime.storage.put(keyOf(name, '1.0.0'), bytes);
    tarballCacheOf(s.t.gk.runtime).invalidate(name);
    s.t.gk.runtime.inspections.forgetAll();
    const restored = await fetch(url(name, '1.0.0'));
    expect(restored.status).toBe(200);
    expect(Buffer.from(await restored.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('serves a private version that has no inspection (published before they were recorded) without a database query once warm', async () => {
    const name = '@acme/legacy';
    expect((await publish(name, '1.0.0')).status).toBe(201);
    await knex()('tarball_inspections').where({ package: name }).delete();
    s.t.gk.runtime.inspections.forgetAll();
    tarballCacheOf(s.t.gk.runtime).invalidate(name);
    // Warm: the decision, the package's (empty) inspections, the publish record's integrity, the tarball held.
    for (let i = 0; i < 3; i++) expect((await fetch(url(name, '1.0.0'))).status).toBe(200);
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    knex().on('query', onQuery);
    try {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(url(name, '1.0.0'));
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    } finally {
      knex().off('query', onQuery);
    }
    expect(queries).toEqual([]);
  });
});

/**
 * A stored copy of an upstream tarball whose inspection is missing (stored before inspections
 * existed, or its record lost in a database crash) is inspected from its own bytes before it
 * is served: what its package.json hides is found without the upstream, and a copy that no
 * longer matches its integrity is fetched again.
 */
import { storageKey } from '../../src/core/storage';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';

// The manifest has no install script; the tarball's own package.json has one.
const HIDING = 'stored-hides-a-script';
const PLAIN = 'stored-plain';

describe('stored upstream tarballs without an inspection', () => {
  let upstream: FixtureRegistry;
  let gk: TestGatekeeper;

  const inspectionRows = (name: string) => gk.gk.database.knex('tarball_inspections').where({ package: name }).select('version', 'source');

  beforeAll(async () => {
    upstream = await startFixtureRegistry([
      { name: HIDING, versions: [{ version: '1.0.0', license: 'MIT', tarballPackageJson: { scripts: { postinstall: 'node collect.js' } } }] },
      { name: PLAIN, versions: [{ version: '1.0.0', license: 'MIT' }, { version: '2.0.0', license: 'MIT' }] },
    ]);
    gk = await startTestGatekeeper({ upstream: upstream.url });
    for (const name of [HIDING, PLAIN]) expect((await gk.api('POST', '/approvals', { name, reason: 'stored copies' })).status).toBe(201);
    // Copies as an older gatekeeper stored them: the upstream's bytes, no inspection recorded.
    const storage = gk.gk.runtime.storage;
    for (const [name, version] of [[HIDING, '1.0.0'], [PLAIN, '1.0.0'], [PLAIN, '2.0.0']]) {
      const res = await fetch(new URL(`${name}/-/${name}-${version}.tgz`, upstream.url));
      expect(res.status).toBe(200);
      await storage.put(storageKey(name, `${name}-${version}.tgz`), Buffer.from(await res.arrayBuffer()));
    }
    // Corrupted on disk since.
    await storage.put(storageKey(PLAIN, `${PLAIN}-2.0.0.tgz`), Buffer.from('not the bytes that were verified'));
    // The packuments are in storage and decided (from their manifests alone).
    for (const name of [HIDING, PLAIN]) expect((await fetch(new URL(name, gk.url))).status).toBe(200);
    expect(gk.gk.runtime.governance.cache.peek(gk.gk.runtime.governance.cache.current(), HIDING, '1.0.0')?.allowed).toBe(true);
  });

  afterAll(async () => {
    await gk?.close();
    await upstream?.close();
  });

  it('inspects the stored bytes before serving them, without asking the upstream', async () => {
    const tarballRequests = () => upstream.requests.filter((r) => r.url.endsWith('.tgz')).length;
    const before = tarballRequests();

    const refused = await fetch(new URL(`${HIDING}/-/${HIDING}-1.0.0.tgz`, gk.url));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('EMANIFESTMISMATCH');
    expect(refused.statusText).toMatch(/^\[EMANIFESTMISMATCH\] /);

    const served = await fetch(new URL(`${PLAIN}/-/${PLAIN}-1.0.0.tgz`, gk.url));
    expect(served.status).toBe(200);
    const upstreamCopy = await fetch(new URL(`${PLAIN}/-/${PLAIN}-1.0.0.tgz`, upstream.url));
    expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(await upstreamCopy.arrayBuffer()))).toBe(true);

    // Neither asked the upstream for its tarball (the test's own read above is one request).
    expect(tarballRequests() - before).toBe(1);
    expect(await inspectionRows(HIDING)).toEqual([{ version: '1.0.0', source: 'upstream' }]);
    expect(await inspectionRows(PLAIN)).toEqual([{ version: '1.0.0', source: 'upstream' }]);
    // Now held: the next read of the allowed one is served from storage as before.
    expect(gk.gk.runtime.inspections.known(PLAIN, '1.0.0')).toBeDefined();
    expect((await fetch(new URL(`${PLAIN}/-/${PLAIN}-1.0.0.tgz`, gk.url))).status).toBe(200);
    expect(tarballRequests() - before).toBe(1);
  });

  it('fetches a stored copy that no longer matches its integrity again from the upstream, and replaces it', async () => {
    const asked = () => upstream.requests.filter((r) => r.url.endsWith(`/${PLAIN}-2.0.0.tgz`)).length;
    const before = asked();
    const res = await fetch(new URL(`${PLAIN}/-/${PLAIN}-2.0.0.tgz`, gk.url));
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(asked() - before).toBe(1);
    // Replaced once the inspection's insert has committed (after the answer: see tarball-write-behind.test.ts).
    await eventually(async () => gk.gk.runtime.storage.readSync(storageKey(PLAIN, `${PLAIN}-2.0.0.tgz`))?.equals(body) === true, 'the copy replaced');
    expect((await inspectionRows(PLAIN)).map((r) => r.version).sort()).toEqual(['1.0.0', '2.0.0']);
  });

  it('answers every request made while the stored copy is inspected with the inspection, not with the decision made before it', async () => {
    // Back to an uninspected stored copy, decided from its manifest alone.
    await gk.gk.database.knex('tarball_inspections').where({ package: HIDING }).del();
    gk.gk.runtime.inspections.forgetAll();
    gk.gk.runtime.governance.cache.forget(HIDING);
    gk.gk.runtime.packuments.invalidate(HIDING);
    expect((await fetch(new URL(HIDING, gk.url))).status).toBe(200);
    expect(gk.gk.runtime.governance.cache.peek(gk.gk.runtime.governance.cache.current(), HIDING, '1.0.0')?.allowed).toBe(true);
    const url = new URL(`${HIDING}/-/${HIDING}-1.0.0.tgz`, gk.url);
    const status = async (res: Promise<Response>) => {
      const r = await res;
      await r.arrayBuffer();
      return [r.status, r.status === 200 ? '' : /^\[(\w+)\]/.exec(r.statusText)?.[1]];
    };
    // The inspection's insert waits (a slow commit): the first request holds it in memory meanwhile.
    const knex = gk.gk.database.knex;
    const holder = await knex.client.acquireConnection();
    try {
      await knex.raw('begin').connection(holder);
      await knex.raw('lock table tarball_inspections in exclusive mode').connection(holder);
      const first = status(fetch(url));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const during = await Promise.all([status(fetch(url)), status(fetch(url))]);
      await knex.raw('commit').connection(holder);
      expect(await first).toEqual([403, 'EMANIFESTMISMATCH']);
      expect(during).toEqual([
        [403, 'EMANIFESTMISMATCH'],
        [403, 'EMANIFESTMISMATCH'],
      ]);
    } finally {
      await knex.raw('rollback').connection(holder).catch(() => undefined);
      await knex.client.releaseConnection(holder);
    }
    expect(await status(fetch(url))).toEqual([403, 'EMANIFESTMISMATCH']);
  });
});

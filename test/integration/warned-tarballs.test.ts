/**
 * A warned version's tarball carries its own notice, and tells npm not to store the response
 * (npm prints no notice of a response it answers from its cache): `npm ci` reads no packument,
 * so the tarball is where it learns of the warning. On the first fetch the warning comes from
 * what the inspection of the bytes found, not from the decision made before them.
 */
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { eventually } from '../support/assert';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';

// The manifest says one name, the tarball's own package.json another: EMANIFESTMISMATCH, warned.
const HIDING = 'warned-renamed';
const PLAIN = 'warned-plain';

describe('warned tarballs', () => {
  let upstream: FixtureRegistry;
  let gk: TestGatekeeper;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([
      { name: HIDING, versions: [{ version: '1.0.0', license: 'MIT', tarballPackageJson: { name: 'something-else' } }] },
      { name: PLAIN, versions: [{ version: '1.0.0', license: 'MIT' }] },
    ]);
    gk = await startTestGatekeeper({ upstream: upstream.url });
    for (const name of [HIDING, PLAIN]) expect((await gk.api('POST', '/approvals', { name, reason: 'warned tarballs' })).status).toBe(201);
    expect((await gk.api('PATCH', '/policy', { manifest: { mode: 'warn' } })).status).toBe(200);
    for (const name of [HIDING, PLAIN]) expect((await fetch(new URL(name, gk.url))).status).toBe(200);
  });

  afterAll(async () => {
    await gk?.close();
    await upstream?.close();
  });

  it('sends the inspection\'s warning with the first fetch, and with every later one, never to be stored', async () => {
    const url = new URL(`${HIDING}/-/${HIDING}-1.0.0.tgz`, gk.url);
    // First fetch (the inspection happens now), then from storage, then from the memory cache.
    for (const fetchNo of [1, 2, 3]) {
      const res = await fetch(url);
      expect([fetchNo, res.status]).toEqual([fetchNo, 200]);
      expect([fetchNo, res.headers.get('npm-notice')]).toEqual([fetchNo, expect.stringMatching(new RegExp(`^gatekeeper: warning for ${HIDING}@1\\.0\\.0: .*EMANIFESTMISMATCH`))]);
      expect([fetchNo, res.headers.get('cache-control')]).toEqual([fetchNo, 'no-store, no-transform']);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    // The warning is audited (once per version, rule and policy generation).
    const warned = async () => ((await gk.api('GET', `/audit?package=${HIDING}&action=install.warned`)).body.items as unknown[]).length;
    await eventually(async () => (await warned()) >= 1, 'the install.warned entry');
  });

  it('sends a version without anything to say as before: no notice, and npm may store it', async () => {
    for (const fetchNo of [1, 2]) {
      const res = await fetch(new URL(`${PLAIN}/-/${PLAIN}-1.0.0.tgz`, gk.url));
      expect([fetchNo, res.status, res.headers.get('npm-notice'), res.headers.get('cache-control')]).toEqual([fetchNo, 200, null, 'no-cache, no-transform']);
    }
  });
});

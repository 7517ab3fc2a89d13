/**
 * Signals of a hijacked release through the real npm CLI, with fixture packuments that carry
 * `_npmUser` and `dist.attestations`: ENEWPUBLISHER (a publisher who published none of the
 * previous versions) and EPROVENANCEDOWNGRADE (no provenance after a version in the same release
 * line had it). Both warn by default (the version installs, npm prints a notice), block in
 * enforce mode (npm gets the version before), stay quiet on a package's first version, and let
 * exempted packages and publishers through.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runGatekeeper } from '../support/cli';
import { FixtureVersion } from '../support/fixture-registry';
import { makeProject } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

const DAY = 86_400_000;
const ATTESTATIONS = { url: 'https://registry.example.test/-/npm/v1/attestations/prov-fixture@1.0.0', provenance: { predicateType: 'https://slsa.dev/provenance/v1' } };

function version(v: string, daysAgo: number, by: string | undefined, extra: Partial<FixtureVersion> = {}): FixtureVersion {
  return { version: v, license: 'MIT', publishedAt: new Date(Date.now() - daysAgo * DAY), ...(by ? { npmUser: { name: by, email: `${by}@example.test` } } : {}), ...extra };
}

describe('new publishers and provenance downgrades', () => {
  const s = gatekeeperSuite({
    packages: () => [
      { name: 'hijack-fixture', versions: [version('1.0.0', 30, 'alice'), version('1.0.1', 20, 'alice'), version('1.1.0', 10, 'mallory')] },
      { name: 'trusted-fixture', versions: [version('1.0.0', 30, 'alice'), version('1.1.0', 10, 'ci-bot')] },
      { name: 'exempt-fixture', versions: [version('1.0.0', 30, 'alice'), version('1.1.0', 10, 'mallory')] },
      { name: 'first-fixture', versions: [version('1.0.0', 10, 'zed')] },
      {
        name: 'prov-fixture',
        versions: [version('1.0.0', 30, 'alice', { dist: { attestations: ATTESTATIONS } }), version('1.1.0', 10, 'alice'), version('2.0.0', 5, 'alice')],
      },
    ],
  });
  const cli = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);
  const install = async (name: string) => {
    const project = await makeProject(s.npm.dir, { name: `p-${name}-${Math.random().toString(36).slice(2, 8)}` });
    const result = await s.npm.run(['install', name, '--prefer-online', '--ignore-scripts'], { cwd: project });
    const installed = result.code === 0 ? (JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8')).packages[`node_modules/${name}`]?.version as string) : undefined;
    return { ...result, installed };
  };

  it('warn (the default): the versions install, and npm prints why', async () => {
    const shown = await cli('policy', 'show');
    expect(shown.out).toContain('new-publisher: warn (previous 5 versions)');
    expect(shown.out).toContain('provenance-downgrade: warn');

    const hijacked = await install('hijack-fixture');
    expect(hijacked.installed).toBe('1.1.0');
    expect(hijacked.output).toContain('hijack-fixture@1.1.0 was published by mallory, who published none of the 2 versions before it (1.0.1, 1.0.0: published by alice)');
    expect(hijacked.output).toContain('[ENEWPUBLISHER; the new-publisher rule is in warn mode, so it is not enforced]');

    // prov-fixture's latest (2.0.0) starts a new line: nothing to say about it.
    expect((await install('prov-fixture')).installed).toBe('2.0.0');
    const explained = await cli('explain', 'prov-fixture@1.1.0');
    expect(explained.out).toContain('warn  provenance-downgrade provenance-downgrade: prov-fixture@1.1.0 has no provenance (dist.attestations), while 1.0.0, the newest earlier version in its release line, has it');
  });

  it('enforce: the versions are blocked, npm gets the ones before; first versions and exempt packages and publishers install', async () => {
    expect((await cli('policy', 'set', 'new-publisher', 'enforce')).code).toBe(0);
    expect((await cli('policy', 'set', 'provenance-downgrade', 'enforce')).code).toBe(0);
    expect((await cli('policy', 'set', 'new-publisher.publishers', 'ci-bot')).code).toBe(0);
    expect((await cli('policy', 'exempt', 'new-publisher', 'exempt-fixture', '--reason', 'maintainer handover announced')).code).toBe(0);

    expect((await install('hijack-fixture')).installed).toBe('1.0.1');
    const explained = await cli('explain', 'hijack-fixture@1.1.0');
    expect(explained.out).toContain('BLOCKED [ENEWPUBLISHER]');
    expect(explained.out).toContain('publisher: mallory; before: alice');
    const tarball = await fetch(new URL('hijack-fixture/-/hijack-fixture-1.1.0.tgz', s.t.url));
    expect(tarball.status).toBe(403);
    expect(((await tarball.json()) as { code: string }).code).toBe('ENEWPUBLISHER');

    expect((await install('first-fixture')).installed).toBe('1.0.0');
    expect((await install('trusted-fixture')).installed).toBe('1.1.0');
    expect((await install('exempt-fixture')).installed).toBe('1.1.0');

    const pinned = await fetch(new URL('prov-fixture/-/prov-fixture-1.1.0.tgz', s.t.url));
    expect(pinned.status).toBe(403);
    expect(((await pinned.json()) as { code: string }).code).toBe('EPROVENANCEDOWNGRADE');
    expect((await install('prov-fixture')).installed).toBe('2.0.0');
    const p = await fetch(new URL('prov-fixture', s.t.url));
    expect(Object.keys(((await p.json()) as { versions: Record<string, unknown> }).versions).sort()).toEqual(['1.0.0', '2.0.0']);
  });
});

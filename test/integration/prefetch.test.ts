/**
 * Warm-ahead (GATEKEEPER_PREFETCH_DEPENDENCIES): a packument served to a client has its
 * dependencies' packuments built in the background, so an install's next requests are answered
 * from the response cache; the upstream is asked once per package all the same, nothing is
 * audited before a client asks, and with 0 nothing is built ahead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTestGatekeeper } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { eventually } from '../support/assert';
import { parseMetrics, sumOf } from '../support/prometheus';
import { gatekeeperSuite } from '../support/suite';

const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const pkg = (name: string, dependencies?: Record<string, string>) => ({ name, versions: [{ version: '1.0.0', license: 'MIT', ...(dependencies ? { dependencies } : {}) }] });

describe('warming ahead the packuments an install asks for next', () => {
  const s = gatekeeperSuite({
    packages: [
      pkg('warm-root', { 'warm-a': '^1.0.0', 'warm-b': '^1.0.0', 'warm-alias': 'npm:warm-target@^1.0.0', 'warm-git': 'git+https://example.invalid/x.git' }),
      pkg('warm-a', { 'warm-a-child': '^1.0.0' }),
      pkg('warm-a-child'),
      pkg('warm-b'),
      pkg('warm-target'),
      pkg('warm-refusing', { 'warm-banned': '^1.0.0' }),
      pkg('warm-banned'),
      pkg('warm-install', { 'warm-i1': '^1.0.0', 'warm-i2': '^1.0.0' }),
      pkg('warm-i1', { 'warm-i3': '^1.0.0' }),
      pkg('warm-i2', { 'warm-i3': '^1.0.0' }),
      pkg('warm-i3'),
      pkg('warm-off-root', { 'warm-off-dep': '^1.0.0' }),
      pkg('warm-off-dep'),
    ],
  });
  const asked = (name: string) => s.upstream.requests.filter((r) => r.method === 'GET' && r.url === `/${name}`).length;
  const health = async () => (await s.t.api('GET', '/health', undefined, null)).body;
  const settled = () => eventually(async () => ((await health()).prefetch ?? {}).queued === 0 && (await health()).prefetch.running === 0, 'the warm-ahead builds to finish');
  const read = (name: string) => fetch(new URL(name, s.t.url), { headers: { accept: ABBREVIATED } });

  beforeAll(async () => {
    expect((await s.t.api('POST', '/bans', { name: 'warm-banned', reason: 'banned for the warm-ahead test' })).status).toBe(201);
  });

  it("builds a served packument's dependencies ahead; the client's next request is a cache hit, and only then are theirs built", async () => {
    expect(['warm-a', 'warm-b', 'warm-target', 'warm-a-child'].map(asked)).toEqual([0, 0, 0, 0]);
    expect((await read('warm-root')).status).toBe(200);
    await eventually(async () => ['warm-a', 'warm-b', 'warm-target'].every((n) => asked(n) === 1), 'the dependencies to be fetched ahead');
    await settled();
    // What is not from the registry is never asked for, nor the alias's own key; and the
    // dependencies' own dependencies wait until a client is served them.
    expect(s.upstream.requests.filter((r) => /warm-(git|alias)/.test(r.url))).toEqual([]);
    expect(asked('warm-a-child')).toBe(0);
    expect((await health()).prefetch).toMatchObject({ built: expect.any(Number), failed: 0, dropped: 0 });
    expect((await health()).prefetch.built).toBeGreaterThanOrEqual(3);

    const hits = s.t.gk.runtime.packuments.stats().hits;
    const res = await read('warm-a');
    expect(res.status).toBe(200);
    expect(Object.keys(((await res.json()) as { versions: object }).versions)).toEqual(['1.0.0']);
    expect(s.t.gk.runtime.packuments.stats().hits).toBe(hits + 1);
    expect(asked('warm-a')).toBe(1);
    await eventually(async () => asked('warm-a-child') === 1, "warm-a's dependency to be fetched ahead once warm-a was served");
  });

  it('builds a refused dependency ahead but counts and audits the refusal only when a client asks', async () => {
    const blocked = async () => sumOf(parseMetrics((await fetch(new URL('-/gatekeeper/metrics', s.t.url), { headers: { authorization: `Bearer ${s.t.adminToken}` } }).then((r) => r.text()))), 'gatekeeper_installs_blocked_total', { code: 'EBANNED' });
    const before = await blocked();
    expect((await read('warm-refusing')).status).toBe(200);
    await eventually(async () => asked('warm-banned') === 1, 'the banned dependency to be fetched ahead');
    await settled();
    expect(await blocked()).toBe(before);

    const res = await read('warm-banned');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('EBANNED');
    expect(res.statusText).toMatch(/^\[EBANNED\] /);
    expect(await blocked()).toBe(before + 1);
    await eventually(async () => {
      const audit = await s.t.api('GET', '/audit?package=warm-banned');
      return audit.body.items.filter((i: { action: string }) => i.action === 'install.blocked').length === 1;
    }, 'one audited refusal, for the client that asked');
  });

  it('npm installs a tree through it, and the upstream is asked once per package', async () => {
    const project = await makeProject(s.npm.dir, { name: 'warm-project', dependencies: { 'warm-install': '^1.0.0' } });
    const result = await s.npm.run(['install'], { cwd: project });
    expect(result.code).toBe(0);
    for (const name of ['warm-install', 'warm-i1', 'warm-i2', 'warm-i3']) {
      expect(fs.existsSync(path.join(project, 'node_modules', name, 'package.json'))).toBe(true);
      expect([name, asked(name)]).toEqual([name, 1]);
    }
  });

  it('with GATEKEEPER_PREFETCH_DEPENDENCIES=0 builds nothing ahead', async () => {
    const off = await startTestGatekeeper({ upstream: s.upstream.url, settings: { prefetchDependencies: 0 } });
    try {
      expect((await off.api('PATCH', '/policy', { mode: 'open' })).status).toBe(200);
      const res = await fetch(new URL('warm-off-root', off.url), { headers: { accept: ABBREVIATED } });
      expect(res.status).toBe(200);
      // A warm-ahead is queued and started as the response is sent: none was.
      expect((await off.api('GET', '/health', undefined, null)).body.prefetch).toMatchObject({ started: 0, queued: 0 });
      expect(asked('warm-off-dep')).toBe(0);
    } finally {
      await off.close();
    }
  });
});

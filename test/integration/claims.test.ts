/**
 * Publishing as Verdaccio users expect, without dependency confusion: a glob publish rule
 * (`*` for developers) lets a developer claim a new name on its first publish. The claim is
 * recorded and audited, and the name stays private even when it later appears upstream; a
 * name the upstream has is refused. Through the real npm CLI (publish, install, ci, view,
 * search, dist-tag, deprecate, unpublish) and pnpm (publish).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loginToken } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import { makeProject } from '../support/npm';
import { runTool, toolEnv } from '../support/tools';
import { gatekeeperSuite } from '../support/suite';

describe('claiming names through a glob publish rule', () => {
  const s = gatekeeperSuite({
    packages: [{ name: 'taken-name', versions: [{ version: '1.0.0', license: 'MIT' }] }],
    settings: { upstreamMaxage: '1s', publishRules: [{ pattern: '*', roles: ['developer'] }] },
  });

  function packageDir(name: string, version: string): string {
    const dir = fs.mkdtempSync(path.join(s.npm.dir, 'pkg-'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, license: 'MIT' }));
    fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';`);
    return dir;
  }

  beforeAll(async () => {
    expect((await s.t.api('POST', '/users', { username: 'dev1', password: 'dev1-password', role: 'developer' })).status).toBe(201);
    await s.npm.setToken(await loginToken(s.t.url, 'dev1', 'dev1-password'));
  });

  it('a developer claims a new name by publishing it; the claim is a recorded, audited rule', async () => {
    const published = await s.npm.run(['publish'], { cwd: packageDir('claim-me', '1.0.0') });
    expect([published.code, published.output]).toEqual([0, expect.stringContaining('claim-me@1.0.0')]);
    const rules = (await s.t.api('GET', '/publish-rules')).body;
    const list = (Array.isArray(rules) ? rules : rules.items) as Array<{ pattern: string; principalType: string; principal: string }>;
    expect(list).toEqual(expect.arrayContaining([expect.objectContaining({ pattern: 'claim-me', principalType: 'user', principal: 'dev1' })]));
    const audit = (await s.t.api('GET', '/audit?package=claim-me')).body.items.map((a: { action: string }) => a.action);
    expect(audit).toEqual(expect.arrayContaining(['package.claim', 'package.publish']));

    // Install, a second version, dist-tag and deprecate work as on a plain Verdaccio.
    expect((await s.npm.run(['publish'], { cwd: packageDir('claim-me', '1.1.0') })).code).toBe(0);
    expect((await s.npm.run(['dist-tag', 'add', 'claim-me@1.0.0', 'stable'])).code).toBe(0);
    expect((await s.npm.run(['deprecate', 'claim-me@1.0.0', 'use 1.1.0'])).code).toBe(0);
    const project = await makeProject(s.npm.dir, { name: 'uses-claim' });
    expect((await s.npm.run(['install', 'claim-me'], { cwd: project })).code).toBe(0);
    expect(require(path.join(project, 'node_modules/claim-me'))).toBe('claim-me@1.1.0');
  });

  it('npm ci, info, search and unpublish of a claimed name work as on a plain Verdaccio; pnpm claims a name too', async () => {
    const project = await makeProject(s.npm.dir, { name: 'ci-claim', dependencies: { 'claim-me': '1.1.0' } });
    expect((await s.npm.run(['install'], { cwd: project })).code).toBe(0);
    fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
    expect((await s.npm.run(['ci'], { cwd: project })).code).toBe(0);
    expect(require(path.join(project, 'node_modules/claim-me'))).toBe('claim-me@1.1.0');

    const info = await s.npm.run(['view', 'claim-me', 'versions', '--json']);
    expect(JSON.parse(info.stdout)).toEqual(['1.0.0', '1.1.0']);
    const search = await s.npm.run(['search', 'claim-me', '--json']);
    expect([search.code, search.stdout]).toEqual([0, expect.stringContaining('"name":"claim-me"')]);

    const unpublished = await s.npm.run(['unpublish', 'claim-me@1.0.0']);
    expect([unpublished.code, unpublished.output]).toEqual([0, expect.stringContaining('claim-me@1.0.0')]);
    expect(JSON.parse((await s.npm.run(['view', 'claim-me', 'versions', '--json'])).stdout)).toEqual(['1.1.0']);

    // pnpm publishes a new name the same way (it shares npm's .npmrc token).
    const pnpmHome = fs.mkdtempSync(path.join(s.npm.dir, 'pnpm-home-'));
    fs.copyFileSync(path.join(s.npm.dir, '.npmrc'), path.join(pnpmHome, '.npmrc'));
    const pnpmed = await runTool('pnpm', ['publish', '--no-git-checks', '--registry', s.t.url], { cwd: packageDir('claimed-by-pnpm', '1.0.0'), env: toolEnv(pnpmHome, s.t.url) });
    expect([pnpmed.code, pnpmed.output]).toEqual([0, expect.stringContaining('claimed-by-pnpm')]);
    const rules = (await s.t.api('GET', '/publish-rules')).body;
    const list = (Array.isArray(rules) ? rules : rules.items) as Array<{ pattern: string; principal: string }>;
    expect(list).toEqual(expect.arrayContaining([expect.objectContaining({ pattern: 'claimed-by-pnpm', principal: 'dev1' })]));
  });

  it('refuses to claim a name the upstream has (dependency confusion), and writes to it', async () => {
    const refused = await s.npm.run(['publish'], { cwd: packageDir('taken-name', '2.0.0') });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('EUPSTREAMNAME');
    expect(refused.output).toContain('--shadow-upstream');
    const deprecate = await s.npm.run(['deprecate', 'taken-name@1.0.0', 'mine now']);
    expect(deprecate.code).not.toBe(0);
    expect(deprecate.output).toContain('ENOTPRIVATE');
    // Still proxied: its upstream version installs.
    const project = await makeProject(s.npm.dir, { name: 'uses-taken' });
    expect((await s.npm.run(['install', 'taken-name'], { cwd: project })).code).toBe(0);
  });

  it('keeps a claimed name private when it later appears upstream', async () => {
    const before = s.upstream.requests.length;
    s.upstream.addPackage({ name: 'claim-me', versions: [{ version: '9.9.9', license: 'MIT' }] });
    // Past the uplink's maxage: a proxied package would be asked upstream again now.
    await new Promise((r) => setTimeout(r, 1100));
    const res = await fetch(new URL('claim-me', s.t.url));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { versions: Record<string, unknown> };
    // 1.0.0 was unpublished above; the upstream's 9.9.9 never appears.
    expect(Object.keys(doc.versions).sort()).toEqual(['1.1.0']);
    // Asked upstream only before the claim (whether the name was free), never since.
    expect(s.upstream.requests.slice(before).filter((r) => r.url.includes('claim-me'))).toEqual([]);
  });
  const put = (name: string, version: string, token: string) =>
    fetch(new URL(name, s.t.url), { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(publishDocument(name, version)) }).then(async (res) => ({
      status: res.status,
      code: ((await res.json()) as { code?: string }).code,
    }));
  const claimsOf = async (name: string) => ({
    rules: ((await s.t.api('GET', '/publish-rules')).body.items as Array<{ pattern: string; principal: string }>).filter((r) => r.pattern === name).map((r) => r.principal),
    audited: ((await s.t.api('GET', `/audit?package=${name}&action=package.claim`)).body.items as Array<{ actor: string }>).map((e) => e.actor),
  });

  it('two developers publishing one new name at once: one claimant, and the loser keeps no claim', async () => {
    expect((await s.t.api('POST', '/users', { username: 'dev2', password: 'dev2-password', role: 'developer' })).status).toBe(201);
    const tokens = [await loginToken(s.t.url, 'dev1', 'dev1-password'), await loginToken(s.t.url, 'dev2', 'dev2-password')];
    for (let round = 0; round < 8; round++) {
      const name = `claim-race${round}`;
      // Even rounds: the same version, so one publish wins and the other gets EVERSIONEXISTS.
      // Odd rounds: two versions; both may publish (the glob rule names both), but only one claims.
      const versions = round % 2 === 0 ? ['1.0.0', '1.0.0'] : ['1.0.0', '1.0.1'];
      const results = await Promise.all(['dev1', 'dev2'].map((_, i) => put(name, versions[i], tokens[i])));
      const published = ['dev1', 'dev2'].filter((_, i) => results[i].status === 201);
      if (round % 2 === 0) {
        expect({ name, published: published.length, refused: results.filter((r) => r.status !== 201).map((r) => [r.status, r.code]) }).toEqual({ name, published: 1, refused: [[409, 'EVERSIONEXISTS']] });
      } else {
        expect({ name, published }).toEqual({ name, published: ['dev1', 'dev2'] });
      }
      const claims = await claimsOf(name);
      expect({ name, claims: claims.rules.length, audited: claims.audited }).toEqual({ name, claims: 1, audited: claims.rules });
      // The claimant published: a failed publish leaves no claim behind.
      expect(published).toContain(claims.rules[0]);
    }
  });

  it('a claim is released with the reservation when the publish that made it fails', async () => {
    const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
    // Storage cannot create the package directory: a file stands where it should be.
    fs.mkdirSync(path.join(s.t.dataDir, 'storage'), { recursive: true });
    fs.writeFileSync(path.join(s.t.dataDir, 'storage/claim-fails'), 'not a directory');
    expect((await put('claim-fails', '1.0.0', token)).status).toBeGreaterThanOrEqual(500);
    expect((await claimsOf('claim-fails')).rules).toEqual([]);
    const audit = ((await s.t.api('GET', '/audit?package=claim-fails')).body.items as Array<{ action: string }>).map((e) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['package.claim', 'package.publish_failed', 'publish_rule.delete']));
    // Anyone the glob rule names may claim it again.
    fs.rmSync(path.join(s.t.dataDir, 'storage/claim-fails'));
    const other = await loginToken(s.t.url, 'dev2', 'dev2-password');
    expect((await put('claim-fails', '1.0.0', other)).status).toBe(201);
    expect((await claimsOf('claim-fails')).rules).toEqual(['dev2']);
  });
});

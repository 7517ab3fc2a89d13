/**
 * Publishing as Verdaccio users expect, without dependency confusion: a glob publish rule
 * (`*` for developers) lets a developer claim a new name on its first publish. The claim is
 * recorded and audited, and the name stays private even when it later appears upstream; a
 * name the upstream has is refused. Through the real npm CLI (publish, install, ci, view,
 * search, dist-tag, deprecate, unpublish) and pnpm (publish).
 */
import fs from 'node:fs';
import path from 'node:path';
import { eventually } from '../support/assert';
import { loginToken, startTestGatekeeper } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import { createNpmEnv, makeProject } from '../support/npm';
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
    expect((await s.t.api('POST', '/users', { username: 'dev2', password: 'dev2-password', role: 'developer' })).status).toBe(201);
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
  const put = (name: string, version: string, token: string, url = s.t.url) =>
    fetch(new URL(name, url), { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(publishDocument(name, version)) }).then(async (res) => {
      const body = (await res.json()) as { code?: string; error?: string };
      return { status: res.status, code: body.code, error: body.error };
    });
  const claimsOf = async (name: string) => ({
    rules: ((await s.t.api('GET', '/publish-rules')).body.items as Array<{ pattern: string; principal: string }>).filter((r) => r.pattern === name).map((r) => r.principal),
    audited: ((await s.t.api('GET', `/audit?package=${name}&action=package.claim`)).body.items as Array<{ actor: string }>).map((e) => e.actor),
  });

  it('two developers publishing one new name at once: one claimant, and the loser keeps no claim', async () => {
    const tokens = [await loginToken(s.t.url, 'dev1', 'dev1-password'), await loginToken(s.t.url, 'dev2', 'dev2-password')];
    for (let round = 0; round < 8; round++) {
      const name = `claim-race${round}`;
      // Even rounds: the same version, so one publish wins and the other gets EVERSIONEXISTS.
      // Odd rounds: two versions; the first to claim the name publishes, and the other is refused:
      // the glob rule names both, but grants nothing on a name claimed by someone else.
      const versions = round % 2 === 0 ? ['1.0.0', '1.0.0'] : ['1.0.0', '1.0.1'];
      const results = await Promise.all(['dev1', 'dev2'].map((_, i) => put(name, versions[i], tokens[i])));
      const published = ['dev1', 'dev2'].filter((_, i) => results[i].status === 201);
      const refused = results.filter((r) => r.status !== 201).map((r) => [r.status, r.code]);
      expect({ name, published: published.length, refused }).toEqual({ name, published: 1, refused: [round % 2 === 0 ? [409, 'EVERSIONEXISTS'] : [403, 'EFORBIDDEN']] });
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
  it('many concurrent publishes of one new name by two developers: one claimant, and only the claimant publishes', async () => {
    const tokens = [await loginToken(s.t.url, 'dev1', 'dev1-password'), await loginToken(s.t.url, 'dev2', 'dev2-password')];
    const name = 'race-claim';
    // Ten distinct versions, alternating between the two developers, all at once.
    const attempts = Array.from({ length: 10 }, (_, i) => ({ who: ['dev1', 'dev2'][i % 2], version: `1.0.${i}` }));
    const results = await Promise.all(attempts.map((a) => put(name, a.version, tokens[a.who === 'dev1' ? 0 : 1])));
    const claims = await claimsOf(name);
    expect({ claims: claims.rules, audited: claims.audited }).toEqual({ claims: [expect.any(String)], audited: claims.rules });
    const [claimant] = claims.rules;
    const other = claimant === 'dev1' ? 'dev2' : 'dev1';
    const outcome = attempts.map((a, i) => ({ who: a.who, status: results[i].status }));
    expect(outcome).toEqual(attempts.map((a) => ({ who: a.who, status: a.who === claimant ? 201 : 403 })));
    for (const [i, r] of results.entries()) {
      if (attempts[i].who === other) expect(r.error).toContain(`[EFORBIDDEN] ${name} is claimed by ${claimant}`);
    }
    const doc = (await (await fetch(new URL(name, s.t.url))).json()) as { versions: Record<string, unknown> };
    expect(Object.keys(doc.versions).sort()).toEqual(attempts.filter((a) => a.who === claimant).map((a) => a.version));
  });

  it("a claimed name is its claimant's: another developer the glob rule names may not publish, unpublish, tag or deprecate it", async () => {
    const claimant = s.npm;
    expect((await claimant.run(['publish'], { cwd: packageDir('fresh-dev1', '1.0.0') })).code).toBe(0);
    // Two versions: npm itself refuses to unpublish the last one without --force.
    expect((await claimant.run(['publish'], { cwd: packageDir('fresh-dev1', '1.1.0') })).code).toBe(0);
    const other = await createNpmEnv(s.t.url);
    try {
      await other.setToken(await loginToken(s.t.url, 'dev2', 'dev2-password'));
      const claimedBy = '[EFORBIDDEN] fresh-dev1 is claimed by dev1';
      const attempts = [
        ['publish', await other.run(['publish'], { cwd: packageDir('fresh-dev1', '2.0.0') })],
        ['unpublish', await other.run(['unpublish', 'fresh-dev1', '--force'])],
        ['unpublish version', await other.run(['unpublish', 'fresh-dev1@1.0.0'])],
        ['dist-tag', await other.run(['dist-tag', 'add', 'fresh-dev1@1.0.0', 'mine'])],
        ['deprecate', await other.run(['deprecate', 'fresh-dev1@1.0.0', 'taken over'])],
      ] as const;
      for (const [what, result] of attempts) expect([what, result.code === 0, result.output]).toEqual([what, false, expect.stringContaining(claimedBy)]);
      // The request the sweep sent by hand: the whole package's DELETE.
      const token = await loginToken(s.t.url, 'dev2', 'dev2-password');
      const removed = await fetch(new URL('fresh-dev1/-rev/1', s.t.url), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      expect([removed.status, ((await removed.json()) as { error?: string }).error]).toEqual([403, expect.stringContaining('Ask dev1 to publish it, or ask an admin')]);
      // Nothing changed, and every refusal is audited.
      expect(JSON.parse((await claimant.run(['view', 'fresh-dev1', 'versions', '--json'])).stdout)).toEqual(['1.0.0', '1.1.0']);
      const refusals = ((await s.t.api('GET', '/audit?package=fresh-dev1')).body.items as Array<{ action: string; actor: string; details: { code?: string } }>)
        .filter((e) => e.actor === 'dev2')
        .map((e) => [e.action, e.details.code]);
      expect(refusals).toEqual(
        expect.arrayContaining([
          ['package.publish_refused', 'EFORBIDDEN'],
          ['package.unpublish_refused', 'EFORBIDDEN'],
          ['package.dist_tag_refused', 'EFORBIDDEN'],
        ]),
      );
      // The claimant and admins keep their rights; an exact-name rule an admin adds gives dev2 theirs.
      expect((await claimant.run(['publish'], { cwd: packageDir('fresh-dev1', '1.2.0') })).code).toBe(0);
      expect((await s.t.api('POST', '/publish-rules', { pattern: 'fresh-dev1', user: 'dev2' })).status).toBe(201);
      expect((await other.run(['dist-tag', 'add', 'fresh-dev1@1.0.0', 'mine'])).code).toBe(0);
    } finally {
      await other.cleanup();
    }
  });

  it('another process on the same database sees the claim: its writes by others are refused as claimed', async () => {
    const second = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db });
    try {
      const token = await loginToken(s.t.url, 'dev1', 'dev1-password');
      expect((await put('claimed-elsewhere', '1.0.0', token)).status).toBe(201);
      const other = await loginToken(second.url, 'dev2', 'dev2-password');
      // A dist-tag write never claims: before the second process heard of the claim it is ENOTPRIVATE, after it the claim's refusal.
      const tag = async () => {
        const res = await fetch(new URL('-/package/claimed-elsewhere/dist-tags/mine', second.url), { method: 'PUT', headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' }, body: '"1.0.0"' });
        return { status: res.status, error: ((await res.json()) as { error?: string }).error ?? '' };
      };
      await eventually(async () => (await tag()).error.includes('is claimed by dev1'), 'the second process to see the claim');
      expect(await tag()).toEqual({ status: 403, error: expect.stringContaining('[EFORBIDDEN] claimed-elsewhere is claimed by dev1') });
      const published = await put('claimed-elsewhere', '2.0.0', other, second.url);
      expect([published.status, published.error]).toEqual([403, expect.stringContaining('[EFORBIDDEN] claimed-elsewhere is claimed by dev1')]);
    } finally {
      await second.close();
    }
  });

  it('tells a publisher the glob rule does not name that an unscoped upstream name needs a scoped name or --shadow-upstream', async () => {
    expect((await s.t.api('POST', '/users', { username: 'alice', password: 'alice-password', role: 'publisher' })).status).toBe(201);
    const alice = await loginToken(s.t.url, 'alice', 'alice-password');
    const refused = await put('taken-name', '2.0.0', alice);
    expect(refused.status).toBe(403);
    expect(refused.error).toContain('[ENOTPRIVATE] taken-name is not a private package of this registry, and the upstream registry has a package of that name');
    expect(refused.error).toContain('gatekeeper publish-rule add taken-name --role publisher --shadow-upstream');
    // A name the upstream lacks: what is missing is a rule.
    const fresh = await put('not-upstream-name', '1.0.0', alice);
    expect([fresh.status, fresh.error]).toEqual([403, '[EFORBIDDEN] alice (publisher) may not publish not-upstream-name; ask an admin for a publish rule']);
  });
});

/**
 * Writes based on a read: npm deprecate reads the packument with ?write=true and writes it
 * back. Versions hidden by policy must survive that round trip.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loginToken } from '../support/gatekeeper';
import { createNpmEnv, NpmEnv } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

async function publish(npm: NpmEnv, name: string, version: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(npm.dir, 'pkg-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';\n`);
  const result = await npm.run(['publish'], { cwd: dir });
  if (result.code !== 0) throw new Error(`publishing ${name}@${version} failed:\n${result.output}`);
}

describe('npm deprecate with versions hidden by policy', () => {
  const s = gatekeeperSuite({ policyMode: 'none' });

  beforeAll(async () => {
    await s.npm.setToken(s.t.adminToken);
    await s.t.api('POST', '/approvals', { name: '@acme/*', reason: 'our own scope' });
    expect((await s.t.api('POST', '/publish-rules', { pattern: '@acme/*', role: 'publisher' })).status).toBe(201);
    for (const version of ['1.0.0', '1.1.0', '2.0.0']) await publish(s.npm, '@acme/lib', version);
  });

  it('deprecating an allowed version keeps the banned one in storage', async () => {
    const ban = await s.t.api('POST', '/bans', { name: '@acme/lib', range: '2.0.0', reason: 'broken build' });
    expect(ban.status).toBe(201);
    const visible = (await (await fetch(new URL('@acme%2flib', s.t.url))).json()) as any;
    expect(Object.keys(visible.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    // The write read npm makes first is unfiltered for those who may publish, and only for them.
    const asAdmin = (await (await fetch(new URL('@acme%2flib?write=true', s.t.url), { headers: { authorization: `Bearer ${s.t.adminToken}` } })).json()) as any;
    expect(Object.keys(asAdmin.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    const anonymous = (await (await fetch(new URL('@acme%2flib?write=true', s.t.url))).json()) as any;
    expect(Object.keys(anonymous.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    const deprecated = await s.npm.run(['deprecate', '@acme/lib@1.0.0', 'use 1.1.0']);
    expect(deprecated.output).not.toContain('npm error');
    expect(deprecated.code).toBe(0);

    // Storage still holds every version, the deprecation included.
    const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
    expect(Object.keys(stored.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(stored.versions['1.0.0'].deprecated).toBe('use 1.1.0');
    expect(fs.existsSync(path.join(s.t.dataDir, 'storage/@acme/lib/lib-2.0.0.tgz'))).toBe(true);

    // Lifting the ban brings 2.0.0 back, as it was.
    await s.t.api('DELETE', `/bans/${ban.body.id}`);
    const after = (await (await fetch(new URL('@acme%2flib', s.t.url))).json()) as any;
    expect(Object.keys(after.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(after['dist-tags'].latest).toBe('2.0.0');
    expect(after.versions['1.0.0'].deprecated).toBe('use 1.1.0');
  });

  it('a user who may not publish cannot deprecate', async () => {
    await s.t.api('POST', '/users', { username: 'dev2', password: 'dev2-password', role: 'developer' });
    const other = await createNpmEnv(s.t.url);
    try {
      await other.setToken(await loginToken(s.t.url, 'dev2', 'dev2-password'));
      const result = await other.run(['deprecate', '@acme/lib@1.1.0', 'nope']);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/EFORBIDDEN|403/);
      const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
      expect(stored.versions['1.1.0'].deprecated).toBeUndefined();
      expect(Object.keys(stored.versions)).toHaveLength(3);
    } finally {
      await other.cleanup();
    }
  });

  it("a developer's refused deprecate and star are audited with the actor and the package", async () => {
    await s.t.api('POST', '/users', { username: 'dev3', password: 'dev3-password', role: 'developer' });
    const other = await createNpmEnv(s.t.url);
    try {
      await other.setToken(await loginToken(s.t.url, 'dev3', 'dev3-password'));
      const deprecate = await other.run(['deprecate', '@acme/lib@1.0.0', 'x']);
      expect(deprecate.code).not.toBe(0);
      expect(deprecate.output).toContain('EFORBIDDEN');
      const star = await other.run(['star', '@acme/lib']);
      expect(star.code).not.toBe(0);
      expect(star.output).toContain('EFORBIDDEN');
    } finally {
      await other.cleanup();
    }
    const audit = (await s.t.api('GET', '/audit?actor=dev3&package=@acme/lib')).body.items as Array<{ action: string; package: string; details: { code: string } }>;
    expect(audit.map((e) => ({ action: e.action, package: e.package, code: e.details.code })).sort((a, b) => a.action.localeCompare(b.action))).toEqual([
      { action: 'package.deprecate_refused', package: '@acme/lib', code: 'EFORBIDDEN' },
      { action: 'package.star_refused', package: '@acme/lib', code: 'EFORBIDDEN' },
    ]);
  });

  it('a document written back that moves dist-tags and deprecates a version audits both', async () => {
    const auth = { authorization: `Bearer ${s.t.adminToken}` };
    const doc = (await (await fetch(new URL('@acme%2flib?write=true', s.t.url), { headers: auth })).json()) as any;
    expect(doc['dist-tags']).toEqual({ latest: '2.0.0' });
    const since = new Date().toISOString();
    doc['dist-tags'] = { latest: '1.1.0', stable: '1.0.0' };
    doc.versions['2.0.0'].deprecated = 'use 1.1.0 for now';
    const put = await fetch(new URL(`@acme%2flib/-rev/${doc._rev}`, s.t.url), { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    expect(put.status).toBeLessThan(300);
    const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
    expect(stored['dist-tags']).toEqual({ latest: '1.1.0', stable: '1.0.0' });

    const audit = (await s.t.api('GET', `/audit?package=@acme/lib&since=${encodeURIComponent(since)}`)).body.items as Array<{ action: string; actor: string; version: string; details: Record<string, unknown> }>;
    const of = (action: string): Array<Record<string, unknown>> => audit.filter((e) => e.action === action).map((e) => ({ actor: e.actor, version: e.version, ...e.details }));
    expect(of('package.dist_tag').sort((a, b) => String(a.tag).localeCompare(String(b.tag)))).toEqual([
      { actor: 'admin', version: '1.1.0', op: 'add', tag: 'latest', from: '2.0.0', to: '1.1.0', via: 'document' },
      { actor: 'admin', version: '1.0.0', op: 'add', tag: 'stable', from: null, to: '1.0.0', via: 'document' },
    ]);
    expect(of('package.deprecate')).toEqual([{ actor: 'admin', version: '2.0.0', message: 'use 1.1.0 for now' }]);
  });
});

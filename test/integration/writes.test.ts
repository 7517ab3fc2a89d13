/**
 * Writes based on a read: npm deprecate reads the packument with ?write=true and writes it
 * back. Versions hidden by policy must survive that round trip.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { loginToken, startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { createNpmEnv, NpmEnv } from '../support/npm';

async function publish(npm: NpmEnv, name: string, version: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(npm.dir, 'pkg-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';\n`);
  const result = await npm.run(['publish'], { cwd: dir });
  if (result.code !== 0) throw new Error(`publishing ${name}@${version} failed:\n${result.output}`);
}

describe('npm deprecate with versions hidden by policy', () => {
  let upstream: FixtureRegistry;
  let t: TestGatekeeper;
  let npm: NpmEnv;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([]);
    t = await startTestGatekeeper({ upstream: upstream.url });
    npm = await createNpmEnv(t.url);
    await npm.setToken(t.adminToken);
    await t.api('POST', '/approvals', { name: '@acme/*', reason: 'our own scope' });
    expect((await t.api('POST', '/publish-rules', { pattern: '@acme/*', role: 'publisher' })).status).toBe(201);
    for (const version of ['1.0.0', '1.1.0', '2.0.0']) await publish(npm, '@acme/lib', version);
  });

  afterAll(async () => {
    await npm?.cleanup();
    await t?.close();
    await upstream?.close();
  });

  it('deprecating an allowed version keeps the banned one in storage', async () => {
    const ban = await t.api('POST', '/bans', { name: '@acme/lib', range: '2.0.0', reason: 'broken build' });
    expect(ban.status).toBe(201);
    const visible = (await (await fetch(new URL('@acme%2flib', t.url))).json()) as any;
    expect(Object.keys(visible.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    // The write read npm makes first is unfiltered for those who may publish, and only for them.
    const asAdmin = (await (await fetch(new URL('@acme%2flib?write=true', t.url), { headers: { authorization: `Bearer ${t.adminToken}` } })).json()) as any;
    expect(Object.keys(asAdmin.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    const anonymous = (await (await fetch(new URL('@acme%2flib?write=true', t.url))).json()) as any;
    expect(Object.keys(anonymous.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    const deprecated = await npm.run(['deprecate', '@acme/lib@1.0.0', 'use 1.1.0']);
    expect(deprecated.output).not.toContain('npm error');
    expect(deprecated.code).toBe(0);

    // Storage still holds every version, the deprecation included.
    const stored = JSON.parse(fs.readFileSync(path.join(t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
    expect(Object.keys(stored.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(stored.versions['1.0.0'].deprecated).toBe('use 1.1.0');
    expect(fs.existsSync(path.join(t.dataDir, 'storage/@acme/lib/lib-2.0.0.tgz'))).toBe(true);

    // Lifting the ban brings 2.0.0 back, as it was.
    await t.api('DELETE', `/bans/${ban.body.id}`);
    const after = (await (await fetch(new URL('@acme%2flib', t.url))).json()) as any;
    expect(Object.keys(after.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(after['dist-tags'].latest).toBe('2.0.0');
    expect(after.versions['1.0.0'].deprecated).toBe('use 1.1.0');
  });

  it('a user who may not publish cannot deprecate', async () => {
    await t.api('POST', '/users', { username: 'dev2', password: 'dev2-password', role: 'developer' });
    const other = await createNpmEnv(t.url);
    try {
      await other.setToken(await loginToken(t.url, 'dev2', 'dev2-password'));
      const result = await other.run(['deprecate', '@acme/lib@1.1.0', 'nope']);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/EFORBIDDEN|403/);
      const stored = JSON.parse(fs.readFileSync(path.join(t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
      expect(stored.versions['1.1.0'].deprecated).toBeUndefined();
      expect(Object.keys(stored.versions)).toHaveLength(3);
    } finally {
      await other.cleanup();
    }
  });
});

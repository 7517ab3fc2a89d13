/**
 * Private publishing with permanent version immutability, through the real npm CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { loadSettings } from '../../src/server/config';
import { captureIo } from '../support/cli';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { loginToken, startTestGatekeeper, TestGatekeeper, tempDir } from '../support/gatekeeper';
import { createNpmEnv, makeProject, NpmEnv } from '../support/npm';
import { buildTarball, integrityOf, shasumOf } from '../support/tarball';

function packageDir(root: string, name: string, version: string, extra: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(root, 'pkg-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), extra['index.js'] ?? `module.exports = '${name}@${version}';\n`);
  return dir;
}

/** The document `npm publish` sends, built by hand (for concurrency and fault tests). */
function publishDocument(name: string, version: string, content = `module.exports = '${name}@${version}';`) {
  const tarball = buildTarball({ 'package.json': JSON.stringify({ name, version }), 'index.js': content });
  const base = name.startsWith('@') ? name.split('/')[1] : name;
  const filename = `${base}-${version}.tgz`;
  return {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: { name, version, _id: `${name}@${version}`, dist: { integrity: integrityOf(tarball), shasum: shasumOf(tarball), tarball: `http://x.invalid/${name}/-/${filename}` } },
    },
    _attachments: { [filename]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
}

describe('private publishing', () => {
  let upstream: FixtureRegistry;
  let t: TestGatekeeper;
  let publisher: NpmEnv;
  let publisherToken: string;
  const put = (name: string, doc: unknown, token = publisherToken) =>
    fetch(new URL(name.replace('/', '%2f'), t.url), { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(doc) });

  beforeAll(async () => {
    upstream = await startFixtureRegistry([
      // The upstream has a package in our private scope: it must never be used.
      { name: '@acme/lib', versions: [{ version: '9.9.9', license: 'MIT' }] },
      { name: 'public-fixture', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '2.0.0', license: 'MIT' }] },
      { name: 'taken-name', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ]);
    const dir = tempDir('gk-config-');
    fs.writeFileSync(
      path.join(dir, 'gatekeeper.yaml'),
      ['publish_rules:', '  - pattern: "@acme/*"', '    roles: [publisher]', 'unpublish_window: 72h', ''].join('\n'),
    );
    const fromFile = loadSettings({ GATEKEEPER_CONFIG: path.join(dir, 'gatekeeper.yaml') }, dir);
    expect(fromFile.publishRules).toEqual([{ pattern: '@acme/*', roles: ['publisher'], users: undefined, shadowUpstream: false }]);
    t = await startTestGatekeeper({ upstream: upstream.url, settings: { publishRules: fromFile.publishRules, unpublishWindow: fromFile.unpublishWindow } });
    await t.api('PATCH', '/policy', { mode: 'open' });
    await t.api('POST', '/users', { username: 'pub1', password: 'pub1-password', role: 'publisher' });
    await t.api('POST', '/users', { username: 'pub2', password: 'pub2-password', role: 'publisher' });
    publisherToken = await loginToken(t.url, 'pub1', 'pub1-password');
    publisher = await createNpmEnv(t.url);
    await publisher.setToken(publisherToken);
  });

  afterAll(async () => {
    await publisher?.cleanup();
    await t?.close();
    await upstream?.close();
  });

  it('seeds publish rules from the configuration', async () => {
    const rules = await t.api('GET', '/publish-rules');
    expect(rules.body.items).toEqual([expect.objectContaining({ pattern: '@acme/*', principalType: 'role', principal: 'publisher', createdBy: '$config' })]);
  });

  it('publishes, records the version, and installs it', async () => {
    const result = await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/lib', '1.0.0') });
    expect(result.output).not.toContain('npm error');
    expect(result.code).toBe(0);
    const record = await t.gk.database.knex('published_versions').where({ name: '@acme/lib', version: '1.0.0' }).first();
    expect(record).toMatchObject({ state: 'published', publisher: 'pub1', integrity: expect.stringMatching(/^sha512-/), shasum: expect.stringMatching(/^[0-9a-f]{40}$/) });
    const consumer = await createNpmEnv(t.url);
    try {
      const project = await makeProject(consumer.dir, { name: 'uses-lib' });
      const install = await consumer.run(['install', '@acme/lib'], { cwd: project });
      expect(install.code).toBe(0);
      expect(require(path.join(project, 'node_modules/@acme/lib'))).toBe('@acme/lib@1.0.0');
      const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
      expect(lock.packages['node_modules/@acme/lib'].integrity).toBe(record.integrity);
    } finally {
      await consumer.cleanup();
    }
  });

  it('never proxies the private scope, though the upstream has a package of the same name', async () => {
    const packument = (await (await fetch(new URL('@acme%2flib', t.url))).json()) as any;
    expect(Object.keys(packument.versions)).toEqual(['1.0.0']);
    expect((await fetch(new URL('@acme%2flib/-/lib-9.9.9.tgz', t.url))).status).toBe(404);
    expect(upstream.requests.filter((r) => decodeURIComponent(r.url).includes('@acme/lib'))).toEqual([]);
  });

  it('refuses a republish under --force with 409 EVERSIONEXISTS, also with byte-identical content', async () => {
    const forced = await publisher.run(['publish', '--force'], { cwd: packageDir(publisher.dir, '@acme/lib', '1.0.0', { 'index.js': 'changed' }) });
    expect(forced.code).not.toBe(0);
    expect(forced.output).toMatch(/409/);
    expect(forced.output).toMatch(/\[EVERSIONEXISTS\] @acme\/lib@1\.0\.0 was published on \d{4}-\d\d-\d\dT[\d:.]+Z; versions are immutable, publish a new version/);

    const identical = await publisher.run(['publish', '--force'], { cwd: packageDir(publisher.dir, '@acme/lib', '1.0.0') });
    expect(identical.code).not.toBe(0);
    expect(identical.output).toContain('EVERSIONEXISTS');
    const audit = await t.api('GET', '/audit?action=package.publish_refused');
    expect(audit.body.items.length).toBeGreaterThanOrEqual(2);
    expect(audit.body.items[0]).toMatchObject({ actor: 'pub1', package: '@acme/lib', version: '1.0.0', details: { code: 'EVERSIONEXISTS' } });
  });

  it('refuses to publish again a version that was unpublished', async () => {
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/lib', '1.1.0') })).code).toBe(0);
    const unpublish = await publisher.run(['unpublish', '@acme/lib@1.1.0']);
    expect(unpublish.output).not.toContain('npm error');
    expect(unpublish.code).toBe(0);
    const packument = (await (await fetch(new URL('@acme%2flib', t.url))).json()) as any;
    expect(Object.keys(packument.versions)).toEqual(['1.0.0']);
    const again = await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/lib', '1.1.0') });
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/\[EVERSIONEXISTS\] @acme\/lib@1\.1\.0 was published on .*\(unpublished since .*\); versions are immutable/);
    const record = await t.gk.database.knex('published_versions').where({ name: '@acme/lib', version: '1.1.0' }).first();
    expect(record).toMatchObject({ state: 'unpublished', unpublished_by: 'pub1' });
  });

  it('refuses a republish after the whole package was unpublished', async () => {
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/gone', '1.0.0') })).code).toBe(0);
    const removed = await publisher.run(['unpublish', '@acme/gone', '--force']);
    expect(removed.code).toBe(0);
    expect((await fetch(new URL('@acme%2fgone', t.url))).status).toBe(404);
    const again = await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/gone', '1.0.0') });
    expect(again.code).not.toBe(0);
    expect(again.output).toContain('EVERSIONEXISTS');
  });

  it('lets exactly one of 20 concurrent PUTs of one new version succeed; the others get the same 409', async () => {
    const docs = Array.from({ length: 20 }, (_, i) => publishDocument('@acme/race', '1.0.0', `module.exports = ${i};`));
    const results = await Promise.all(docs.map(async (doc) => {
      const res = await put('@acme/race', doc);
      return { status: res.status, body: (await res.json()) as { code?: string; error?: string } };
    }));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const losers = results.filter((r) => r.status !== 201);
    expect(losers).toHaveLength(19);
    for (const loser of losers) {
      expect(loser.status).toBe(409);
      expect(loser.body.code).toBe('EVERSIONEXISTS');
    }
    const rows = await t.gk.database.knex('published_versions').where({ name: '@acme/race' });
    expect(rows).toHaveLength(1);
    expect(rows[0].state).toBe('published');
    // What is stored is the winner's tarball, and its integrity is the recorded one.
    const tarball = Buffer.from(await (await fetch(new URL('@acme%2frace/-/race-1.0.0.tgz', t.url))).arrayBuffer());
    expect(integrityOf(tarball)).toBe(rows[0].integrity);
  });

  it('does not burn a version when the publish fails after reserving it', async () => {
    // Storage cannot create the package directory: a file stands where it should be.
    fs.mkdirSync(path.join(t.dataDir, 'storage/@acme'), { recursive: true });
    fs.writeFileSync(path.join(t.dataDir, 'storage/@acme/blocked'), 'not a directory');
    const failed = await put('@acme/blocked', publishDocument('@acme/blocked', '1.0.0'));
    expect(failed.status).toBeGreaterThanOrEqual(500);
    // The reservation is released before the failure is answered.
    expect(await t.gk.database.knex('published_versions').where({ name: '@acme/blocked', version: '1.0.0' }).first()).toBeUndefined();
    const audit = await t.api('GET', '/audit?action=package.publish_failed');
    expect(audit.body.items[0]).toMatchObject({ package: '@acme/blocked', version: '1.0.0' });
    fs.rmSync(path.join(t.dataDir, 'storage/@acme/blocked'));
    const retried = await put('@acme/blocked', publishDocument('@acme/blocked', '1.0.0'));
    expect(retried.status).toBe(201);
  });

  it('refuses a tarball that does not match its declared integrity, without reserving the version', async () => {
    const doc = publishDocument('@acme/corrupt', '1.0.0');
    (doc.versions['1.0.0'].dist as { integrity: string }).integrity = integrityOf(Buffer.from('something else'));
    const res = await put('@acme/corrupt', doc);
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe('[EBADPUBLISH] the tarball of @acme/corrupt@1.0.0 does not match its declared integrity (sha512). Publish with npm, which computes it from the tarball it sends');
    expect(await t.gk.database.knex('published_versions').where({ name: '@acme/corrupt' })).toEqual([]);
    expect((await put('@acme/corrupt', publishDocument('@acme/corrupt', '1.0.0'))).status).toBe(201);
  });

  it('audits publishes refused for an invalid version, with the publisher and the package', async () => {
    for (const version of ['1.2', 'v1.3.0']) {
      const res = await put('@acme/badver', publishDocument('@acme/badver', version));
      expect({ version, status: res.status, code: ((await res.json()) as any).code }).toEqual({ version, status: 400, code: 'EINVALIDVERSION' });
    }
    const audit = (await t.api('GET', '/audit?package=@acme/badver')).body.items as Array<{ action: string; actor: string; details: { code: string; reason: string } }>;
    expect(audit.map((e) => [e.action, e.actor, e.details.code])).toEqual([
      ['package.publish_refused', 'pub1', 'EINVALIDVERSION'],
      ['package.publish_refused', 'pub1', 'EINVALIDVERSION'],
    ]);
    expect(audit.map((e) => e.details.reason).join('\n')).toMatch(/v1\.3\.0[\s\S]*1\.2/);
    // Anonymous writes are refused (401) before anything is read, and not audited: nobody can fill the log without a login.
    const anonymous = await fetch(new URL('@acme%2fbadver', t.url), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishDocument('@acme/badver', '1.4')) });
    expect(anonymous.status).toBe(401);
    expect((await t.api('GET', '/audit?package=@acme/badver')).body.items).toHaveLength(2);
  });

  it('refuses publishing names that are not private, and users without a rule', async () => {
    const outside = await publisher.run(['publish'], { cwd: packageDir(publisher.dir, 'public-fixture', '3.0.0') });
    expect(outside.code).not.toBe(0);
    expect(outside.output).toContain('[ENOTPRIVATE] public-fixture is not a private package of this registry, and the upstream registry has a package of that name');
    // The next step is one the admin API accepts for a name the upstream has.
    expect(outside.output).toContain('Publish it under a scoped name (@<scope>/public-fixture), or, to replace the upstream package on purpose, an admin can declare it: gatekeeper publish-rule add public-fixture --role publisher --shadow-upstream');
    expect(outside.output).not.toContain('publish-rule add public-fixture --role publisher.');
    const fresh = await publisher.run(['publish'], { cwd: packageDir(publisher.dir, 'not-upstream-fixture', '1.0.0') });
    expect(fresh.output).toContain('[ENOTPRIVATE] not-upstream-fixture is not a private package of this registry, so it cannot be published here. An admin can declare it: gatekeeper publish-rule add not-upstream-fixture --role publisher');

    await t.api('POST', '/users', { username: 'dev9', password: 'dev9-password', role: 'developer' });
    const dev = await put('@acme/lib', publishDocument('@acme/lib', '5.0.0'), await loginToken(t.url, 'dev9', 'dev9-password'));
    expect(dev.status).toBe(403);
    expect(((await dev.json()) as any).error).toBe("[EFORBIDDEN] dev9 (developer) may not publish @acme/lib; ask an admin for a publish rule");
  });

  it('answers npm owner, access, team and org with one clear refusal naming publish rules', async () => {
    const refusal = "[ENOTSUPPORTED] npm owner, access, team and org are not supported by this registry: publish rules decide who may publish a package. See them with 'gatekeeper publish-rule list'";
    const rel = packageDir(publisher.dir, '@acme/owned', '1.0.0');
    expect((await publisher.run(['publish'], { cwd: rel })).code).toBe(0);
    // The packument is cached and served on the fast path first: npm owner ls must still be refused there.
    for (let i = 0; i < 2; i++) expect((await publisher.run(['view', '@acme/owned', 'version'])).output).toContain('1.0.0');
    for (const args of [
      ['owner', 'add', 'pub2', '@acme/owned'],
      ['owner', 'rm', 'pub2', '@acme/owned'],
      ['owner', 'ls', '@acme/owned'],
      ['access', 'set', 'status=private', '@acme/owned'],
      ['access', 'get', 'status', '@acme/owned'],
      ['access', 'list', 'packages', '@acme'],
      ['access', 'list', 'collaborators', '@acme/owned'],
      ['access', 'grant', 'read-only', '@acme:devs', '@acme/owned'],
      ['team', 'ls', '@acme'],
      ['org', 'ls', 'acme'],
    ]) {
      const result = await publisher.run(args);
      expect({ args, code: result.code === 0 ? 0 : 'failed', said: result.output.includes(refusal) }).toEqual({ args, code: 'failed', said: true });
      expect(result.output).not.toMatch(/no admin found|EMETHODNOTALLOWED|no route/);
    }
    // Other packument reads are untouched.
    expect((await publisher.run(['view', '@acme/owned', 'version'])).output).toContain('1.0.0');
  });

  it('refuses a version with build metadata saying so, not calling it invalid semver', async () => {
    // npm publish itself cleans the version ("version" was cleaned and set to "1.0.0"); a client that does not sends it as it is.
    const res = await put('@acme/build-meta', publishDocument('@acme/build-meta', '1.0.0+build2'));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe(
      `[EINVALIDVERSION] '1.0.0+build2' carries build metadata ('+build2'), which is no part of a version on a registry: semver ignores it, and npm publish cleans it off (publishing 1.0.0). Publish it as 1.0.0 ("version": "1.0.0" in package.json)`,
    );
    expect(await t.gk.database.knex('published_versions').where({ name: '@acme/build-meta' })).toEqual([]);
  });

  it('needs an explicit allowance to declare an unscoped name that exists upstream', async () => {
    const refused = await t.api('POST', '/publish-rules', { pattern: 'taken-name', role: 'publisher' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/^\[EUPSTREAMNAME\] taken-name exists on the upstream registry/);
    const io = captureIo();
    const code = await main(['publish-rule', 'add', 'taken-name', '--role', 'publisher', '--shadow-upstream'], io, { GATEKEEPER_URL: t.url, GATEKEEPER_TOKEN: t.adminToken });
    expect(io.errText()).toBe('');
    expect(code).toBe(0);
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, 'taken-name', '5.0.0') })).code).toBe(0);
    const packument = (await (await fetch(new URL('taken-name', t.url))).json()) as any;
    expect(Object.keys(packument.versions)).toEqual(['5.0.0']);
    const fresh = await t.api('POST', '/publish-rules', { pattern: 'brand-new-internal', role: 'publisher' });
    expect(fresh.status).toBe(201);
  });

  it("applies the unpublish policy: the package's publishers within the window, admins always, nobody else", async () => {
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/policy', '1.0.0') })).code).toBe(0);
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/policy', '1.1.0') })).code).toBe(0);
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/policy', '1.2.0') })).code).toBe(0);
    const other = await createNpmEnv(t.url);
    const developer = await createNpmEnv(t.url);
    const admin = await createNpmEnv(t.url);
    try {
      await developer.setToken(await loginToken(t.url, 'dev9', 'dev9-password'));
      const refused = await developer.run(['unpublish', '@acme/policy@1.2.0']);
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain('[EFORBIDDEN] dev9 (developer) may not publish @acme/policy');
      // Another publisher of the package, within the window.
      await other.setToken(await loginToken(t.url, 'pub2', 'pub2-password'));
      expect((await other.run(['unpublish', '@acme/policy@1.2.0'])).code).toBe(0);
      // Outside the window, publishers are refused.
      await t.gk.database.knex('published_versions').where({ name: '@acme/policy', version: '1.0.0' }).update({ published_at: new Date(Date.now() - 73 * 3_600_000) });
      const late = await publisher.run(['unpublish', '@acme/policy@1.0.0']);
      expect(late.code).not.toBe(0);
      expect(late.output).toMatch(/\[EUNPUBLISHWINDOW\] @acme\/policy@1\.0\.0 was published on .*; publishers may unpublish only within 72 hours/);
      await admin.setToken(t.adminToken);
      expect((await admin.run(['unpublish', '@acme/policy@1.0.0'])).code).toBe(0);
      const kept = (await (await fetch(new URL('@acme%2fpolicy', t.url))).json()) as any;
      expect(Object.keys(kept.versions)).toEqual(['1.1.0']);
    } finally {
      await Promise.all([other.cleanup(), developer.cleanup(), admin.cleanup()]);
    }
  });

  it('keeps dist-tag and deprecate working for publishers, audited and losing no data', async () => {
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/tags', '1.0.0') })).code).toBe(0);
    expect((await publisher.run(['publish', '--tag', 'next'], { cwd: packageDir(publisher.dir, '@acme/tags', '2.0.0-rc.1') })).code).toBe(0);
    const add = await publisher.run(['dist-tag', 'add', '@acme/tags@1.0.0', 'stable']);
    expect(add.code).toBe(0);
    const deprecate = await publisher.run(['deprecate', '@acme/tags@1.0.0', 'use 2']);
    expect(deprecate.code).toBe(0);
    const rm = await publisher.run(['dist-tag', 'rm', '@acme/tags', 'stable']);
    expect(rm.code).toBe(0);
    const packument = (await (await fetch(new URL('@acme%2ftags', t.url))).json()) as any;
    expect(Object.keys(packument.versions).sort()).toEqual(['1.0.0', '2.0.0-rc.1']);
    expect(packument.versions['1.0.0'].deprecated).toBe('use 2');
    expect(packument['dist-tags'].stable).toBeUndefined();
    const audit = await t.api('GET', '/audit?package=@acme/tags');
    const actions = audit.body.items.map((i: { action: string }) => i.action);
    expect(actions).toEqual(expect.arrayContaining(['package.publish', 'package.dist_tag', 'package.deprecate']));
    expect(actions.filter((a: string) => a === 'package.dist_tag')).toHaveLength(2);
  });

  it('lets a change, a deprecation and a dist-tag write only remove, deprecate or tag what is stored: never add a version or a tarball', async () => {
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/guarded', '1.0.0') })).code).toBe(0);
    const stored = async () => (await (await fetch(new URL('@acme%2fguarded?write=true', t.url), { headers: { authorization: `Bearer ${publisherToken}` } })).json()) as any;
    const before = await stored();
    const storageDir = path.join(t.dataDir, 'storage', '@acme', 'guarded');
    const filesBefore = fs.readdirSync(storageDir).filter((f) => !f.startsWith('.')).sort();
    const send = (method: string, urlPath: string, body: unknown) =>
      fetch(new URL(urlPath, t.url), { method, headers: { authorization: `Bearer ${publisherToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const refused = async (res: Response, status: number, code: string, text: RegExp) => {
      const body = (await res.json()) as { error: string; code: string };
      expect([res.status, body.code]).toEqual([status, code]);
      expect(body.error).toMatch(text);
      expect(res.statusText).toBe(body.error.slice(0, res.statusText.length));
    };
    // The unpublish route carrying a new version and its tarball (the tarball's own package.json says something else).
    const planted = publishDocument('@acme/guarded', '6.6.6', '/* not what it says */');
    const sneak = { ...before, versions: planted.versions, 'dist-tags': { latest: '6.6.6' }, _attachments: planted._attachments };
    await refused(await send('PUT', `@acme%2fguarded/-rev/${before._rev ?? '1-x'}`, sneak), 400, 'EBADPUBLISH', /^\[EBADPUBLISH\] the change of @acme\/guarded carries tarballs\. New versions are published with npm publish/);
    // A tarball alone, under a name of the package's, and one with a path in its key.
    for (const key of ['guarded-9.9.9.tgz', '../../x.tgz']) {
      const only = { ...before, _attachments: { [key]: planted._attachments['guarded-6.6.6.tgz'] } };
      await refused(await send('PUT', `@acme%2fguarded/-rev/1-x`, only), 400, 'EBADPUBLISH', /carries tarballs/);
    }
    // A new version without a tarball.
    const withVersion = { ...before, versions: { ...before.versions, '7.0.0': { ...before.versions['1.0.0'], version: '7.0.0' } } };
    await refused(await send('PUT', `@acme%2fguarded/-rev/1-x`, withVersion), 400, 'EBADPUBLISH', /carries a version the registry does not have \('7\.0\.0'\)/);
    // Tags pointing at nothing kept, or named like a version.
    await refused(await send('PUT', `@acme%2fguarded/-rev/1-x`, { ...before, 'dist-tags': { latest: '3.0.0' } }), 400, 'EBADPUBLISH', /dist-tag 'latest' at '3\.0\.0', which is not a version it keeps/);
    await refused(await send('PUT', `@acme%2fguarded/-rev/1-x`, { ...before, 'dist-tags': { latest: '1.0.0', '1.2.3': '1.0.0' } }), 400, 'EINVALIDTAG', /^\[EINVALIDTAG\] '1\.2\.3' is not a dist-tag name/);
    // The deprecation route: no new package, no version left out.
    await refused(await send('PUT', '@acme%2fnever-published', { name: '@acme/never-published', versions: {}, _attachments: {} }), 404, 'ENOTFOUND', /there is no package @acme\/never-published here to change\. Publish it first/);
    const dropping = { ...before, versions: {}, 'dist-tags': {} };
    await refused(await send('PUT', '@acme%2fguarded', { ...dropping, versions: { '1.0.0': undefined } }), 400, 'EBADPUBLISH', /leaves out a version it has \(1\.0\.0\).*npm unpublish/);
    // A publish may tag only what it publishes; tag names are npm's.
    await refused(await send('PUT', '@acme%2fguarded', { ...publishDocument('@acme/guarded', '1.1.0'), 'dist-tags': { latest: '1.1.0', stable: '1.0.0' } }), 400, 'EBADPUBLISH', /points its dist-tag 'stable' at '1\.0\.0'/);
    await refused(await send('PUT', '@acme%2fguarded', { ...publishDocument('@acme/guarded', '1.1.0'), 'dist-tags': { 'bad tag\r\nX: y': '1.1.0' } }), 400, 'EINVALIDTAG', /is not a dist-tag name/);
    // dist-tag writes: a version the package has, as a JSON string; a tag that exists to remove.
    await refused(await send('PUT', '-/package/@acme%2fguarded/dist-tags/beta', { a: 1 }), 400, 'EVALIDATION', /the body of a dist-tag write is the version as a JSON string/);
    await refused(await send('PUT', '-/package/@acme%2fguarded/dist-tags/beta', '5.0.0'), 404, 'ENOTFOUND', /has no version '5\.0\.0' to tag/);
    await refused(await send('PUT', '-/package/@acme%2fguarded/dist-tags/1.2.3', '1.0.0'), 400, 'EINVALIDTAG', /'1\.2\.3' is not a dist-tag name/);
    await refused(await send('PUT', '@acme%2fguarded/1.0.0', '1.0.0'), 400, 'EINVALIDTAG', /'1\.0\.0' is not a dist-tag name/);
    await refused(await send('DELETE', '-/package/@acme%2fguarded/dist-tags/nope', undefined), 404, 'ENOTFOUND', /has no dist-tag 'nope'/);
    // Nothing of it reached storage: the same files, the same document.
    expect(fs.readdirSync(storageDir).filter((f) => !f.startsWith('.')).sort()).toEqual(filesBefore);
    expect(fs.existsSync(path.join(t.dataDir, 'storage', '@acme', 'x.tgz'))).toBe(false);
    const after = await stored();
    expect(Object.keys(after.versions)).toEqual(['1.0.0']);
    expect(after['dist-tags']).toEqual({ latest: '1.0.0' });
    expect((await fetch(new URL('@acme%2fguarded/-/guarded-6.6.6.tgz', t.url))).status).toBe(404);
    // What npm itself sends still works: a publish, a dist-tag, then unpublishing one version.
    expect((await publisher.run(['publish'], { cwd: packageDir(publisher.dir, '@acme/guarded', '1.1.0') })).code).toBe(0);
    expect((await publisher.run(['dist-tag', 'add', '@acme/guarded@1.0.0', 'stable'])).code).toBe(0);
    const unpublish = await publisher.run(['unpublish', '@acme/guarded@1.1.0']);
    expect(unpublish.output).not.toContain('npm error');
    expect(unpublish.code).toBe(0);
    const end = await stored();
    expect(Object.keys(end.versions)).toEqual(['1.0.0']);
    expect(end['dist-tags']).toEqual({ latest: '1.0.0', stable: '1.0.0' });
  });

  it('shows every version in the versions view: local, unpublished and upstream', async () => {
    await t.api('POST', '/bans', { name: 'public-fixture', range: '2.0.0', reason: 'bad release' });
    const local = await t.api('GET', '/packages/@acme%2flib/versions');
    expect(local.status).toBe(200);
    expect(local.body.versions.map((v: any) => [v.version, v.origin, v.state])).toEqual([
      ['1.1.0', 'local', 'unpublished'],
      ['1.0.0', 'local', 'available'],
    ]);
    expect(local.body.versions[1]).toMatchObject({ integrity: expect.stringMatching(/^sha512-/), publisher: 'pub1', allowed: true });

    const proxied = await t.api('GET', '/packages/public-fixture/versions');
    expect(proxied.body.versions.map((v: any) => [v.version, v.origin, v.state, v.allowed, v.code])).toEqual([
      ['2.0.0', 'upstream', 'available', false, 'EBANNED'],
      ['1.0.0', 'upstream', 'available', true, 'ALLOWED'],
    ]);
    expect(proxied.body.versions[0].reason).toContain('bad release');

    const io = captureIo();
    expect(await main(['versions', '@acme/lib'], io, { GATEKEEPER_URL: t.url, GATEKEEPER_TOKEN: publisherToken })).toBe(0);
    expect(io.outText()).toMatch(/1\.1\.0\s+\S+\s+local\s+unpublished/);
    const none = captureIo();
    const code = await main(['versions', 'never-heard-of-it'], none, { GATEKEEPER_URL: t.url, GATEKEEPER_TOKEN: publisherToken });
    expect({ code, out: none.outText(), err: none.errText() }).toEqual({
      code: 0,
      out: 'no version of never-heard-of-it is known: it was never published here and the upstream does not have it',
      err: '',
    });
    expect((await t.api('GET', '/packages/public-fixture/versions', undefined, null)).status).toBe(401);
  });
});

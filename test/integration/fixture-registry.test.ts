/**
 * Proves the test support layer against the real npm CLI, with no gatekeeper
 * involved: npm installs straight from the fixture registry.
 */
import { existsSync } from 'fs';
import { readFile } from 'fs/promises';
import http from 'http';
import path from 'path';
import { gunzipSync, gzipSync } from 'zlib';
import { startFixtureRegistry, type FixtureRegistry } from '../support/fixture-registry';
import { createNpmEnv, makeProject, nerfDart, type NpmEnv } from '../support/npm';
import { readTarballManifest } from '../../src/core/tarball-manifest';
import { buildTarball, integrityOf, shasumOf } from '../support/tarball';

/** Lists entry names of an uncompressed ustar archive. */
function tarEntries(tar: Buffer): Array<{ name: string; mode: number; size: number; body: Buffer }> {
  const entries: Array<{ name: string; mode: number; size: number; body: Buffer }> = [];
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (start: number, len: number) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12), 8);
    const prefix = str(345, 155);
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    entries.push({ name, mode: parseInt(str(100, 8), 8), size, body: tar.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

describe('tarball builder', () => {
  it('is deterministic and puts everything under package/', () => {
    const files = { 'package.json': '{"name":"x","version":"1.0.0"}', 'lib/a.js': Buffer.from('a'), ['d/'.repeat(60) + 'deep.js']: 'deep' };
    const a = buildTarball(files);
    const b = buildTarball(files);
    expect(a.equals(b)).toBe(true);
    expect(integrityOf(a)).toBe(integrityOf(b));
    expect(integrityOf(a)).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    expect(shasumOf(a)).toMatch(/^[0-9a-f]{40}$/);
    const entries = tarEntries(gunzipSync(a));
    expect(entries.map((e) => e.name)).toEqual(['package/package.json', 'package/lib/a.js', `package/${'d/'.repeat(60)}deep.js`]);
    expect(entries.every((e) => e.mode === 0o644)).toBe(true);
    expect(entries[1].body.toString()).toBe('a');
    expect(buildTarball({ ...files, 'lib/a.js': 'b' }).equals(a)).toBe(false);
  });
});

describe('fixture registry with the real npm CLI', () => {
  let registry: FixtureRegistry;
  let npm: NpmEnv;

  beforeAll(async () => {
    registry = await startFixtureRegistry([
      {
        name: 'left-pad-fixture',
        versions: [
          { version: '1.0.0', license: 'MIT' },
          { version: '1.1.0', license: 'MIT' },
          { version: '2.0.0-beta.1', license: 'MIT' },
        ],
      },
      {
        name: 'dep-fixture',
        versions: [{ version: '3.2.1', license: { type: 'ISC', url: 'http://example.invalid/isc' } }],
      },
      {
        name: '@acme/widget',
        versions: [
          {
            version: '0.9.0',
            licenses: [{ type: 'Apache-2.0' }],
            dependencies: { 'dep-fixture': '^3.0.0' },
            deprecated: 'use 1.x',
          },
          {
            version: '1.0.0',
            license: 'Apache-2.0',
            dependencies: { 'dep-fixture': '^3.0.0' },
            scripts: { postinstall: 'node -e "require(\'fs\').writeFileSync(\'postinstall-ran\', \'yes\')"' },
            files: { 'README.md': '# widget\n' },
            publishedAt: '2021-06-01T12:00:00.000Z',
          },
          { version: '1.1.0', license: 'Apache-2.0', files: { 'binding.gyp': '{}' }, omitTime: true },
        ],
        distTags: { latest: '1.0.0', next: '1.1.0' },
      },
      {
        name: 'avoid-fixture',
        versions: [{ version: '1.0.0' }, { version: '1.1.0', deprecated: 'broken release' }],
      },
    ]);
    npm = await createNpmEnv(registry.url);
  });

  afterAll(async () => {
    await npm?.cleanup();
    await registry?.close();
  });

  it('installs a plain package and a scoped package with a dependency', async () => {
    const project = await makeProject(npm.dir, { dependencies: {} });
    const result = await npm.run(['install', 'left-pad-fixture', '@acme/widget', '--ignore-scripts'], { cwd: project });
    expect(result.output).not.toMatch(/ERR!/);
    expect(result.code).toBe(0);

    const nm = path.join(project, 'node_modules');
    const leftPad = JSON.parse(await readFile(path.join(nm, 'left-pad-fixture', 'package.json'), 'utf8'));
    expect(leftPad).toMatchObject({ name: 'left-pad-fixture', version: '1.1.0', license: 'MIT' });
    expect(require(path.join(nm, 'left-pad-fixture'))).toBe('left-pad-fixture@1.1.0');

    const widget = JSON.parse(await readFile(path.join(nm, '@acme', 'widget', 'package.json'), 'utf8'));
    expect(widget).toMatchObject({ name: '@acme/widget', version: '1.0.0', dependencies: { 'dep-fixture': '^3.0.0' } });
    expect(widget.dist).toBeUndefined();
    expect(await readFile(path.join(nm, '@acme', 'widget', 'README.md'), 'utf8')).toBe('# widget\n');
    expect(existsSync(path.join(nm, '@acme', 'widget', 'postinstall-ran'))).toBe(false); // --ignore-scripts
    const dep = JSON.parse(await readFile(path.join(nm, 'dep-fixture', 'package.json'), 'utf8'));
    expect(dep.license).toEqual({ type: 'ISC', url: 'http://example.invalid/isc' });

    const lock = JSON.parse(await readFile(path.join(project, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/left-pad-fixture']).toMatchObject({
      version: '1.1.0',
      resolved: `${registry.url}left-pad-fixture/-/left-pad-fixture-1.1.0.tgz`,
      integrity: integrityOf(registry.tarball('left-pad-fixture', '1.1.0')),
    });
    expect(lock.packages['node_modules/@acme/widget']).toMatchObject({
      version: '1.0.0',
      resolved: `${registry.url}@acme/widget/-/widget-1.0.0.tgz`,
      integrity: integrityOf(registry.tarball('@acme/widget', '1.0.0')),
      hasInstallScript: true,
    });
    expect(lock.packages['node_modules/dep-fixture']).toMatchObject({
      version: '3.2.1',
      integrity: integrityOf(registry.tarball('dep-fixture', '3.2.1')),
    });

    // npm fetched the three packuments and exactly the tarballs it installed.
    // (npm 11.19 asks for full documents, `accept: application/json`, while building the tree.)
    const packumentReqs = registry.requests.filter((r) => r.method === 'GET' && !r.url.includes('/-/'));
    expect([...new Set(packumentReqs.map((r) => r.url))].sort()).toEqual(['/@acme%2fwidget', '/dep-fixture', '/left-pad-fixture']);
    for (const r of packumentReqs) expect(typeof r.headers.accept).toBe('string');
    const tarballReqs = registry.requests.filter((r) => r.url.endsWith('.tgz')).map((r) => r.url);
    expect(tarballReqs.sort()).toEqual(
      ['/@acme/widget/-/widget-1.0.0.tgz', '/dep-fixture/-/dep-fixture-3.2.1.tgz', '/left-pad-fixture/-/left-pad-fixture-1.1.0.tgz'].sort(),
    );
  });

  it('warns about deprecated versions, records them in the lock, and npm avoids them for tags', async () => {
    const project = await makeProject(npm.dir, {});
    const result = await npm.run(['install', 'avoid-fixture', '@acme/widget@0.9.0', '--ignore-scripts'], { cwd: project });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^npm warn deprecated @acme\/widget@0\.9\.0: use 1\.x$/m);
    const lock = JSON.parse(await readFile(path.join(project, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/@acme/widget']).toMatchObject({ version: '0.9.0', deprecated: 'use 1.x' });
    expect(lock.packages['node_modules/@acme/widget'].hasInstallScript).toBeUndefined();
    // latest (1.1.0) is deprecated, so npm picks the highest non-deprecated version instead.
    expect(lock.packages['node_modules/avoid-fixture'].version).toBe('1.0.0');
  });

  it('runs install scripts when allowed and serves versions added at runtime', async () => {
    registry.addVersion('left-pad-fixture', { version: '1.2.0', license: 'MIT' });
    const project = await makeProject(npm.dir, {});
    const result = await npm.run(['install', 'left-pad-fixture@^1.0.0', '@acme/widget@1.0.0', '--foreground-scripts'], {
      cwd: project,
    });
    expect(result.code).toBe(0);
    const nm = path.join(project, 'node_modules');
    expect(JSON.parse(await readFile(path.join(nm, 'left-pad-fixture', 'package.json'), 'utf8')).version).toBe('1.2.0');
    expect(await readFile(path.join(nm, '@acme', 'widget', 'postinstall-ran'), 'utf8')).toBe('yes');
  });

  it('serves scoped packuments under every encoding of the name, and 404s unknown names', async () => {
    for (const p of ['@acme/widget', '@acme%2fwidget', '@acme%2Fwidget']) {
      const res = await fetch(`${registry.url}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(((await res.json()) as { name: string }).name).toBe('@acme/widget');
    }
    const missing = await fetch(`${registry.url}no-such-package`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found' });
    const missingTgz = await fetch(`${registry.url}left-pad-fixture/-/left-pad-fixture-9.9.9.tgz`);
    expect(missingTgz.status).toBe(404);
  });

  it('serves a full packument with times, licenses and dist', async () => {
    const res = await fetch(`${registry.url}@acme/widget`);
    const doc = (await res.json()) as any;
    expect(doc._id).toBe('@acme/widget');
    expect(doc['dist-tags']).toEqual({ latest: '1.0.0', next: '1.1.0' });
    expect(Object.keys(doc.versions)).toEqual(['0.9.0', '1.0.0', '1.1.0']);
    expect(doc.versions['0.9.0'].licenses).toEqual([{ type: 'Apache-2.0' }]);
    expect(doc.versions['0.9.0'].license).toBeUndefined();
    expect(doc.versions['0.9.0'].deprecated).toBe('use 1.x');
    expect(doc.versions['1.0.0'].deprecated).toBeUndefined();
    expect(doc.versions['1.0.0']).toMatchObject({
      _id: '@acme/widget@1.0.0',
      license: 'Apache-2.0',
      scripts: { postinstall: expect.any(String) },
      dist: {
        tarball: `${registry.url}@acme/widget/-/widget-1.0.0.tgz`,
        integrity: integrityOf(registry.tarball('@acme/widget', '1.0.0')),
        shasum: shasumOf(registry.tarball('@acme/widget', '1.0.0')),
      },
    });
    expect(doc.time['0.9.0']).toBe('2020-01-01T00:00:00.000Z');
    expect(doc.time['1.0.0']).toBe('2021-06-01T12:00:00.000Z');
    expect(doc.time['1.1.0']).toBeUndefined();
    expect(doc.time.created).toBe('2020-01-01T00:00:00.000Z');
    expect(doc.time.modified).toBe('2021-06-01T12:00:00.000Z');
    expect(typeof doc.readme).toBe('string');

    const tgz = await fetch(doc.versions['1.0.0'].dist.tarball);
    expect(tgz.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await tgz.arrayBuffer()).equals(registry.tarball('@acme/widget', '1.0.0'))).toBe(true);

    // Without explicit dist-tags, latest is the highest non-prerelease.
    const lp = (await (await fetch(`${registry.url}left-pad-fixture`)).json()) as any;
    expect(lp['dist-tags'].latest).toBe('1.2.0');
    expect(lp.versions['2.0.0-beta.1']).toBeDefined();
  });

  it('serves npm abbreviated metadata for the install Accept header', async () => {
    const res = await fetch(`${registry.url}@acme%2fwidget`, {
      headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.npm.install-v1+json');
    const doc = (await res.json()) as any;
    expect(Object.keys(doc).sort()).toEqual(['dist-tags', 'modified', 'name', 'versions']);
    expect(doc.name).toBe('@acme/widget');
    expect(doc.modified).toBe('2021-06-01T12:00:00.000Z');
    expect(doc['dist-tags']).toEqual({ latest: '1.0.0', next: '1.1.0' });
    const v100 = doc.versions['1.0.0'];
    expect(Object.keys(v100).sort()).toEqual(['dependencies', 'dist', 'hasInstallScript', 'name', 'version']);
    expect(Object.keys(v100.dist).sort()).toEqual(['integrity', 'shasum', 'tarball']);
    expect(v100.hasInstallScript).toBe(true);
    expect(v100.dist.integrity).toBe(integrityOf(registry.tarball('@acme/widget', '1.0.0')));
    // No license, scripts or _id in abbreviated documents.
    expect(doc.versions['0.9.0'].licenses).toBeUndefined();
    expect(doc.versions['0.9.0'].deprecated).toBe('use 1.x');
    expect(doc.versions['0.9.0'].hasInstallScript).toBeUndefined();
    // binding.gyp with no install script counts as an install script.
    expect(doc.versions['1.1.0'].hasInstallScript).toBe(true);
    expect(doc.versions['1.1.0'].scripts).toBeUndefined();
  });

  it('answers the advisories bulk endpoint filtered by the requested versions', async () => {
    registry.setAdvisories({
      'left-pad-fixture': [
        { id: 101, url: 'http://advisories.invalid/101', title: 'Old pad', severity: 'high', vulnerable_versions: '<1.1.0' },
        { id: 102, url: 'http://advisories.invalid/102', title: 'Beta pad', severity: 'low', vulnerable_versions: '>=2.0.0-0' },
      ],
      'dep-fixture': [
        { id: 201, url: 'http://advisories.invalid/201', title: 'Dep', severity: 'critical', vulnerable_versions: '3.2.1', cwe: ['CWE-79'] },
      ],
    });
    const post = async (body: unknown, gzip: boolean) => {
      const raw = Buffer.from(JSON.stringify(body));
      const res = await fetch(`${registry.url}-/npm/v1/security/advisories/bulk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        body: gzip ? gzipSync(raw) : raw,
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, Array<{ id: number }>>;
    };

    const plain = await post({ 'left-pad-fixture': ['1.0.0'], 'dep-fixture': ['3.2.0'], unknown: ['1.0.0'] }, false);
    expect(Object.keys(plain)).toEqual(['left-pad-fixture']);
    expect(plain['left-pad-fixture'].map((a) => a.id)).toEqual([101]);

    const gz = await post({ 'left-pad-fixture': ['1.1.0', '2.0.0-beta.1'], 'dep-fixture': ['3.2.1'] }, true);
    expect(gz['left-pad-fixture'].map((a) => a.id)).toEqual([102]);
    expect(gz['dep-fixture']).toEqual([
      expect.objectContaining({ id: 201, severity: 'critical', vulnerable_versions: '3.2.1', cwe: ['CWE-79'] }),
    ]);

    expect(await post({ 'left-pad-fixture': ['1.1.0'] }, true)).toEqual({});

    const quick = await fetch(`${registry.url}-/npm/v1/security/audits/quick`, { method: 'POST', body: '{}' });
    expect(quick.status).toBe(200);
    expect(await quick.json()).toEqual({});
  });

  it('lets npm audit see the advisories (gzip-encoded bulk request)', async () => {
    const project = await makeProject(npm.dir, { dependencies: { 'left-pad-fixture': '1.0.0' } });
    expect((await npm.run(['install', '--ignore-scripts'], { cwd: project })).code).toBe(0);
    const before = registry.requests.length;
    const audit = await npm.run(['audit', '--json'], { cwd: project });
    const bulk = registry.requests.slice(before).find((r) => r.url === '/-/npm/v1/security/advisories/bulk');
    expect(bulk).toBeDefined();
    expect(bulk!.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(bulk!.body!)).toEqual({ 'left-pad-fixture': ['1.0.0'] });
    expect(audit.code).not.toBe(0);
    const report = JSON.parse(audit.stdout);
    expect(report.vulnerabilities['left-pad-fixture']).toMatchObject({
      severity: 'high',
      via: [expect.objectContaining({ source: 101, range: '<1.1.0', url: 'http://advisories.invalid/101' })],
    });
  });

  it('writes the auth token keyed by the nerf-darted registry and sends it', async () => {
    await npm.setToken('secret-token-1');
    await npm.setToken('secret-token-2');
    const rc = await readFile(npm.userconfig, 'utf8');
    expect(rc).toBe(`${nerfDart(registry.url)}:_authToken=secret-token-2\n`);
    expect(nerfDart(registry.url)).toBe(registry.url.replace(/^http:/, ''));
    const before = registry.requests.length;
    const view = await npm.run(['view', 'dep-fixture', 'version']);
    expect(view.code).toBe(0);
    expect(view.stdout.trim()).toBe('3.2.1');
    const req = registry.requests.slice(before).find((r) => r.url === '/dep-fixture');
    expect(req?.headers.authorization).toBe('Bearer secret-token-2');
  });

  it('prints npm-notice response headers and does not leak parent npm config', async () => {
    const noticeRegistry = await startFixtureRegistry([{ name: 'noticed', versions: [{ version: '1.0.0' }] }], {
      // npm suppresses npm-notice on GET 200 responses that its HTTP cache stores.
      packumentHeaders: { 'npm-notice': 'fixture says hello', 'cache-control': 'no-store' },
    });
    const env = await createNpmEnv(noticeRegistry.url);
    const saved = process.env.npm_config_registry;
    process.env.npm_config_registry = 'http://127.0.0.1:9/'; // must be ignored by run()
    try {
      const project = await makeProject(env.dir, {});
      const result = await env.run(['install', 'noticed'], { cwd: project });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/^npm notice fixture says hello$/m);
      const config = await env.run(['config', 'get', 'registry']);
      expect(config.stdout.trim()).toBe(noticeRegistry.url);
    } finally {
      if (saved === undefined) delete process.env.npm_config_registry;
      else process.env.npm_config_registry = saved;
      await env.cleanup();
      await noticeRegistry.close();
    }
    expect(existsSync(env.dir)).toBe(false);
  });
});

describe('fixture registry fault hooks', () => {
  let registry: FixtureRegistry;
  let other: FixtureRegistry;

  beforeAll(async () => {
    other = await startFixtureRegistry([{ name: 'elsewhere', versions: [{ version: '1.0.0' }] }]);
    registry = await startFixtureRegistry([
      { name: 'plain', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: '@acme/plain', versions: [{ version: '1.0.0' }] },
      {
        name: 'liar',
        versions: [
          { version: '1.0.0', license: 'MIT', tarballPackageJson: { scripts: { postinstall: 'node evil.js' }, license: 'GPL-3.0-only' } },
          { version: '1.1.0', tarballPackageJson: { name: 'someone-else', version: '9.9.9' } },
          { version: '1.2.0', wrongIntegrity: true },
          { version: '1.3.0', dist: { integrity: null } },
          { version: '1.4.0', dist: { integrity: null, shasum: null } },
        ],
      },
    ]);
    registry.addVersion('liar', { version: '2.0.0', dist: { tarball: `${other.url}elsewhere/-/elsewhere-1.0.0.tgz` } });
  });

  afterEach(() => registry.clearFaults());

  afterAll(async () => {
    await registry?.close();
    await other?.close();
  });

  const packumentOf = async (name: string) => (await (await fetch(`${registry.url}${name.replace('/', '%2f')}`)).json()) as any;

  it('serves a raw body and a status for a packument, a given number of times, and records the request', async () => {
    for (const body of ['{"name":"plain","versions":{', '<html>busy</html>', 'null', '[]', '{"versions":{"2.0.0":null}}']) {
      registry.fault({ packument: 'plain' }, { body, times: 1 });
      const before = registry.requests.length;
      const res = await fetch(`${registry.url}plain`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(body);
      expect(registry.requests.slice(before).map((r) => r.url)).toEqual(['/plain']);
      expect((await packumentOf('plain')).name).toBe('plain'); // times: 1 used up
    }
    registry.fault({ packument: '@acme/plain' }, { status: 503, body: 'down', times: 2 });
    for (const p of ['@acme/plain', '@acme%2fplain']) {
      const res = await fetch(`${registry.url}${p}`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
      expect([res.status, await res.text()]).toEqual([503, 'down']);
    }
    expect((await fetch(`${registry.url}@acme%2fplain`)).status).toBe(200);
    // A fault for one target leaves the others alone, until cleared.
    registry.fault({ packument: 'plain' }, { status: 500 });
    expect((await fetch(`${registry.url}plain/-/plain-1.0.0.tgz`)).status).toBe(200);
    expect((await fetch(`${registry.url}plain`)).status).toBe(500);
    registry.clearFaults();
    expect((await fetch(`${registry.url}plain`)).status).toBe(200);
  });

  it('faults tarballs and any path', async () => {
    registry.fault({ tarball: 'plain', version: '1.0.0' }, { status: 404, body: '' });
    expect((await fetch(`${registry.url}plain/-/plain-1.0.0.tgz`)).status).toBe(404);
    registry.fault({ path: '/-/npm/v1/security/advisories/bulk' }, { status: 502, body: '<html>bad gateway</html>', headers: { 'content-type': 'text/html' } });
    const res = await fetch(`${registry.url}-/npm/v1/security/advisories/bulk`, { method: 'POST', body: '{}' });
    expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([502, 'text/html', '<html>bad gateway</html>']);
    registry.fault({ path: '/-/ping' }, { body: 'pong?' });
    expect(await (await fetch(`${registry.url}-/ping`)).text()).toBe('pong?');
  });

  it('delays the headers', async () => {
    registry.fault({ packument: 'plain' }, { delayMs: 60_000 });
    const err = await fetch(`${registry.url}plain`, { signal: AbortSignal.timeout(300) }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).toBe('TimeoutError');
  });

  it('trickles the body, a piece per interval', async () => {
    registry.fault({ packument: 'plain' }, { trickle: { bytes: 3, intervalMs: 60_000 } });
    const { status, first, ended } = await new Promise<{ status: number; first: string; ended: boolean }>((resolve, reject) => {
      const req = http.get(`${registry.url}plain`, (res) => {
        let ended = false;
        res.on('end', () => (ended = true));
        res.once('data', (chunk: Buffer) => {
          // The next piece is a minute away: what arrived is all there is for now.
          setTimeout(() => {
            resolve({ status: res.statusCode ?? 0, first: chunk.toString('utf8'), ended });
            req.destroy();
          }, 100);
        });
      });
      req.on('error', reject);
    });
    expect(status).toBe(200);
    expect(first).toBe('{"_');
    expect(ended).toBe(false);
  });

  it('redirects, cuts the connection mid-body, and sends a false or no content-length', async () => {
    registry.fault({ tarball: 'plain', version: '1.0.0' }, { redirect: `${other.url}elsewhere/-/elsewhere-1.0.0.tgz`, redirectStatus: 301 });
    const res = await fetch(`${registry.url}plain/-/plain-1.0.0.tgz`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([301, `${other.url}elsewhere/-/elsewhere-1.0.0.tgz`]);
    const followed = await fetch(`${registry.url}plain/-/plain-1.0.0.tgz`);
    expect(Buffer.from(await followed.arrayBuffer()).equals(other.tarball('elsewhere', '1.0.0'))).toBe(true);

    registry.fault({ tarball: 'plain', version: '1.0.0' }, { destroyAfterBytes: 100 });
    const cut = await fetch(`${registry.url}plain/-/plain-1.0.0.tgz`);
    expect(cut.headers.get('content-length')).toBe(String(registry.tarball('plain', '1.0.0').length));
    await expect(cut.arrayBuffer()).rejects.toThrow();

    registry.fault({ packument: 'plain' }, { contentLength: null });
    const chunked = await fetch(`${registry.url}plain`);
    expect(chunked.headers.get('content-length')).toBeNull();
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(((await chunked.json()) as any).name).toBe('plain');
  });

  it('serves tarballs whose package.json differs from the packument, and dist fields that lie', async () => {
    const doc = await packumentOf('liar');
    expect(doc.versions['1.0.0'].scripts).toBeUndefined();
    expect(doc.versions['1.0.0'].license).toBe('MIT');
    const evil = registry.tarball('liar', '1.0.0');
    expect(doc.versions['1.0.0'].dist.integrity).toBe(integrityOf(evil));
    expect(readTarballManifest(evil).manifest).toMatchObject({ name: 'liar', version: '1.0.0', license: 'GPL-3.0-only', scripts: { postinstall: 'node evil.js' } });
    expect(readTarballManifest(registry.tarball('liar', '1.1.0')).manifest).toMatchObject({ name: 'someone-else', version: '9.9.9' });
    expect(doc.versions['1.1.0'].name).toBe('liar');

    const served = Buffer.from(await (await fetch(doc.versions['1.2.0'].dist.tarball)).arrayBuffer());
    expect(served.equals(registry.tarball('liar', '1.2.0'))).toBe(true);
    expect(doc.versions['1.2.0'].dist.integrity).not.toBe(integrityOf(served));
    expect(doc.versions['1.2.0'].dist.shasum).not.toBe(shasumOf(served));

    expect(doc.versions['1.3.0'].dist).toEqual({ tarball: `${registry.url}liar/-/liar-1.3.0.tgz`, shasum: shasumOf(registry.tarball('liar', '1.3.0')) });
    expect(Object.keys(doc.versions['1.4.0'].dist)).toEqual(['tarball']);
    expect(doc.versions['2.0.0'].dist.tarball).toBe(`${other.url}elsewhere/-/elsewhere-1.0.0.tgz`);
    expect(new URL(doc.versions['2.0.0'].dist.tarball).port).not.toBe(new URL(registry.url).port);
  });

  it('makes the real npm CLI refuse a tarball that does not match its integrity', async () => {
    const npm = await createNpmEnv(registry.url);
    try {
      const project = await makeProject(npm.dir, {});
      // npm retries a corrupt download with back-off unless told not to.
      const result = await npm.run(['install', 'liar@1.2.0', '--ignore-scripts'], { cwd: project, env: { npm_config_fetch_retries: '0' } });
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/EINTEGRITY/);
    } finally {
      await npm.cleanup();
    }
  });
});

describe('fixture registry that requires a token', () => {
  let registry: FixtureRegistry;

  beforeAll(async () => {
    registry = await startFixtureRegistry([{ name: 'secret-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], { requireToken: 'fixture-token' });
  });

  afterAll(async () => {
    await registry?.close();
  });

  it('answers 401 without the bearer token (recording the request) and serves with it', async () => {
    const before = registry.requests.length;
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: 'Basic Zml4dHVyZS10b2tlbg==' }] as Array<Record<string, string>>) {
      const res = await fetch(`${registry.url}secret-fixture`, { headers });
      expect([res.status, res.headers.get('www-authenticate'), await res.json()]).toEqual([401, 'Bearer', { error: 'authentication required' }]);
      expect((await fetch(`${registry.url}secret-fixture/-/secret-fixture-1.0.0.tgz`, { headers })).status).toBe(401);
    }
    expect(registry.requests.length).toBe(before + 6);
    const ok = await fetch(`${registry.url}secret-fixture`, { headers: { authorization: 'Bearer fixture-token' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { name: string }).name).toBe('secret-fixture');
    const tarball = await fetch(`${registry.url}secret-fixture/-/secret-fixture-1.0.0.tgz`, { headers: { authorization: 'Bearer fixture-token' } });
    expect(Buffer.from(await tarball.arrayBuffer()).equals(registry.tarball('secret-fixture', '1.0.0'))).toBe(true);
  });

  it('lets the real npm CLI install only with the token in its config', async () => {
    const npm = await createNpmEnv(registry.url);
    try {
      const project = await makeProject(npm.dir, {});
      const refused = await npm.run(['install', 'secret-fixture@1.0.0', '--ignore-scripts'], { cwd: project, env: { npm_config_fetch_retries: '0' } });
      expect(refused.code).not.toBe(0);
      expect(refused.output).toMatch(/E401/);
      await npm.setToken('fixture-token');
      const installed = await npm.run(['install', 'secret-fixture@1.0.0', '--ignore-scripts'], { cwd: project });
      expect(installed.code).toBe(0);
      expect(existsSync(path.join(project, 'node_modules', 'secret-fixture', 'package.json'))).toBe(true);
    } finally {
      await npm.cleanup();
    }
  });
});

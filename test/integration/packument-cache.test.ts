/**
 * The cached packument responses: served from memory while valid, rebuilt after anything
 * that changes what a client must see.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { makeReachableTempDir } from '../../src/db/embedded';
import { loginToken } from '../support/gatekeeper';
import { spawnGatekeeper } from '../support/process';
import { eventually } from '../support/assert';
import { gatekeeperSuite } from '../support/suite';
import { cacheKey, GZIP_ONLY_MIN_BYTES } from '../../src/server/registry/packument-cache';

const versionsOf = async (base: string, name: string, headers: Record<string, string> = {}) => {
  const res = await fetch(new URL(name.replace('/', '%2f'), base), { headers });
  expect(res.status).toBe(200);
  return Object.keys(((await res.json()) as { versions: object }).versions).sort();
};


describe('cached packument responses', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'cached-fixture', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
      // A packument above GZIP_ONLY_MIN_BYTES: cached gzipped only.
      { name: 'large-fixture', versions: [{ version: '1.0.0', license: 'MIT', description: 'a large description '.repeat(60_000) }] },
    ],
    settings: { upstreamMaxage: '1s', publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }] },
  });
  const stats = () => s.t.gk.runtime.packuments.stats();

  function publishDir(name: string, version: string): string {
    const dir = fs.mkdtempSync(path.join(s.npm.dir, 'pkg-'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, license: 'MIT' }));
    fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = '${version}';`);
    return dir;
  }

  beforeAll(async () => {
    await s.npm.setToken(s.t.adminToken);
    for (const v of ['1.0.0', '1.1.0']) expect((await s.npm.run(['publish'], { cwd: publishDir('@acme/cached', v) })).code).toBe(0);
  });

  it('serves repeated requests from memory, gzipped, with an ETag that answers 304', async () => {
    await versionsOf(s.t.url, '@acme/cached');
    const before = stats();
    const res = await fetch(new URL('@acme%2fcached', s.t.url), { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(stats().hits).toBe(before.hits + 1);
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    // fetch decodes gzip itself; ask node's http for the raw bytes to see the encoding.
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      require('node:http')
        .get(new URL('@acme%2fcached', s.t.url), { headers: { 'accept-encoding': 'gzip' } }, (r: import('node:http').IncomingMessage) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ encoding: r.headers['content-encoding'], body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
    expect(raw.encoding).toBe('gzip');
    expect(Object.keys(JSON.parse(gunzipSync(raw.body).toString()).versions)).toEqual(['1.0.0', '1.1.0']);
    const etag = res.headers.get('etag') as string;
    const conditional = await fetch(new URL('@acme%2fcached', s.t.url), { headers: { 'if-none-match': etag } });
    expect(conditional.status).toBe(304);
    expect(stats().bytes).toBeGreaterThan(0);
    expect(stats().bytes).toBeLessThanOrEqual(stats().maxBytes);
  });

  it('keeps a large response gzipped only, and decompresses it for a client that does not accept gzip', async () => {
    const url = new URL('large-fixture', s.t.url);
    const raw = (headers: Record<string, string>, method = 'GET') =>
      new Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        require('node:http')
          .request(url, { method, headers }, (r: import('node:http').IncomingMessage) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
          })
          .on('error', reject)
          .end();
      });
    const gzipped = await raw({ 'accept-encoding': 'gzip' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    const document = gunzipSync(gzipped.body);
    expect(document.length).toBeGreaterThanOrEqual(GZIP_ONLY_MIN_BYTES);
    const key = cacheKey('large-fixture', false, new URL(s.t.url).origin);
    const cached = s.t.gk.runtime.packuments.lookup(key, s.t.gk.runtime.governance.cache.current().generation, s.t.gk.runtime.storage.revision('large-fixture'), Date.now());
    expect(cached?.body).toBeUndefined();
    expect(cached?.length).toBe(document.length);

    const before = stats().hits;
    const plain = await raw({ 'accept-encoding': 'identity' });
    expect(stats().hits).toBe(before + 1);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBe(document.length);
    expect(plain.body.equals(document)).toBe(true);
    expect(plain.headers.etag).toBe(gzipped.headers.etag);
    const head = await raw({}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(document.length);
    expect(head.body.length).toBe(0);
    // A small response keeps both forms.
    await versionsOf(s.t.url, 'cached-fixture');
    const small = s.t.gk.runtime.packuments.lookup(cacheKey('cached-fixture', false, new URL(s.t.url).origin), s.t.gk.runtime.governance.cache.current().generation, s.t.gk.runtime.storage.revision('cached-fixture'), Date.now());
    expect(small?.body?.length).toBe(small?.length);
  });

  it('fetches a tarball the first time without asking the upstream for its packument again', async () => {
    await versionsOf(s.t.url, 'cached-fixture');
    // The stored copy is now older than the uplink's maxage (1s): a read that syncs would revalidate it.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const before = s.upstream.requests.length;
    const res = await fetch(new URL('cached-fixture/-/cached-fixture-1.0.0.tgz', s.t.url));
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(s.upstream.requests.slice(before).map((r) => r.url)).toEqual(['/cached-fixture/-/cached-fixture-1.0.0.tgz']);
  });

  it('is invalidated by a publish', async () => {
    await versionsOf(s.t.url, '@acme/cached');
    expect((await s.npm.run(['publish'], { cwd: publishDir('@acme/cached', '1.2.0') })).code).toBe(0);
    expect(await versionsOf(s.t.url, '@acme/cached')).toEqual(['1.0.0', '1.1.0', '1.2.0']);
  });

  it('is invalidated by a dist-tag change', async () => {
    const tags = async () => ((await (await fetch(new URL('@acme%2fcached', s.t.url))).json()) as { 'dist-tags': Record<string, string> })['dist-tags'];
    expect((await tags()).stable).toBeUndefined();
    expect((await s.npm.run(['dist-tag', 'add', '@acme/cached@1.0.0', 'stable'])).code).toBe(0);
    expect((await tags()).stable).toBe('1.0.0');
  });

  it('is invalidated by a deprecation', async () => {
    const deprecated = async () => ((await (await fetch(new URL('@acme%2fcached', s.t.url))).json()) as any).versions['1.0.0'].deprecated;
    expect(await deprecated()).toBeUndefined();
    expect((await s.npm.run(['deprecate', '@acme/cached@1.0.0', 'old'])).code).toBe(0);
    expect(await deprecated()).toBe('old');
  });

  it('is invalidated by an unpublish', async () => {
    expect(await versionsOf(s.t.url, '@acme/cached')).toContain('1.2.0');
    expect((await s.npm.run(['unpublish', '@acme/cached@1.2.0'])).code).toBe(0);
    expect(await versionsOf(s.t.url, '@acme/cached')).toEqual(['1.0.0', '1.1.0']);
  });

  it('is invalidated by a policy change in this process', async () => {
    expect(await versionsOf(s.t.url, '@acme/cached')).toEqual(['1.0.0', '1.1.0']);
    const ban = await s.t.api('POST', '/bans', { name: '@acme/cached', range: '1.1.0', reason: 'cache test' });
    expect(await versionsOf(s.t.url, '@acme/cached')).toEqual(['1.0.0']);
    await s.t.api('DELETE', `/bans/${ban.body.id}`);
    expect(await versionsOf(s.t.url, '@acme/cached')).toEqual(['1.0.0', '1.1.0']);
  });

  it('picks up a new upstream version after the uplink maxage', async () => {
    expect(await versionsOf(s.t.url, 'cached-fixture')).toEqual(['1.0.0', '1.1.0']);
    const before = stats().hits;
    expect(await versionsOf(s.t.url, 'cached-fixture')).toEqual(['1.0.0', '1.1.0']);
    expect(stats().hits).toBe(before + 1);
    s.upstream.addVersion('cached-fixture', { version: '1.2.0', license: 'MIT' });
    await eventually(async () => (await versionsOf(s.t.url, 'cached-fixture')).includes('1.2.0'), 'the upstream refresh');
  });

  it('is invalidated by a policy change made in another process on the same database', async () => {
    const dataDir = makeReachableTempDir('gk-cache-second-');
    const b = await spawnGatekeeper({ GATEKEEPER_DATABASE_URL: s.t.db.url, GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: s.upstream.url });
    try {
      expect(await versionsOf(b.url, 'cached-fixture')).toContain('1.1.0');
      expect(await versionsOf(b.url, 'cached-fixture')).toContain('1.1.0'); // now cached in B
      await s.t.api('POST', '/bans', { name: 'cached-fixture', range: '1.1.0', reason: 'ban from process A' });
      await eventually(async () => !(await versionsOf(b.url, 'cached-fixture')).includes('1.1.0'), 'process B to drop its cached response');
      const token = await loginToken(b.url, 'admin', 'admin-password-for-tests');
      expect(token).toMatch(/^gk_/);
    } finally {
      expect(await b.stop()).toBe(0);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * Dropping one package's entries from the packument and tarball caches: exactly its own
 * (not a package whose name it prefixes, nor another scope's), through the per-name index
 * that replaced a scan of every key, which stays consistent through eviction.
 */
import { buildResponse, cacheKey, PackumentCache } from '../../../src/server/registry/packument-cache';
import { TarballCache, TarballEntry, tarballKey } from '../../../src/server/registry/tarball-cache';

const NAMES = ['a', 'a-b', '@s/a', '@s/a-b', '@t/a'];

function response(): ReturnType<typeof buildResponse> {
  return buildResponse(200, { 'content-type': 'application/json' }, '{"x":1}', { generation: 1, revision: 'r', expiresAt: Infinity });
}

function tarball(key: string, cost = 100): TarballEntry {
  return { key, source: {} as TarballEntry['source'], size: 10, etag: '"e"', lastModified: 'x', modifiedSeconds: 0, revision: 'r', identity: 'i', cost };
}

describe('PackumentCache.invalidate', () => {
  it("drops every form and origin of the package's responses and nothing else", async () => {
    const cache = new PackumentCache(10 * 1024 * 1024);
    const keys = (name: string) => [cacheKey(name, true, 'http://h'), cacheKey(name, false, 'http://h'), cacheKey(name, true, 'https://other', 'admin')];
    for (const name of NAMES) for (const key of keys(name)) await cache.build(key, async () => response());
    expect(cache.size).toBe(15);
    cache.invalidate('@s/a');
    cache.invalidate('a');
    for (const name of NAMES) {
      for (const key of keys(name)) expect([name, cache.lookup(key, 1, 'r', 0) !== undefined]).toEqual([name, name !== 'a' && name !== '@s/a']);
    }
    expect(cache.size).toBe(9);
    expect(cache.keys.names).toBe(3);
  });

  it('forgets evicted entries in its index, so a later invalidation finds nothing stale', async () => {
    const one = response().bytes;
    const cache = new PackumentCache(one * 2);
    for (const name of NAMES) await cache.build(cacheKey(name, true, 'http://h'), async () => response());
    // Only the last two fit.
    expect(cache.size).toBe(2);
    expect(cache.keys.names).toBe(2);
    cache.invalidate('@s/a-b');
    cache.invalidate('@t/a');
    expect(cache.size).toBe(0);
    expect(cache.keys.names).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});

describe('TarballCache.invalidate', () => {
  it("drops the package's tarballs only, scoped and unscoped alike", () => {
    const cache = new TarballCache(1024 * 1024);
    for (const name of NAMES) {
      for (const v of ['1.0.0', '2.0.0']) cache.store(tarballKey(name, `${name.split('/').pop()}-${v}.tgz`), tarball(name));
    }
    expect(cache.stats().entries).toBe(10);
    cache.invalidate('@s/a');
    cache.invalidate('a-b');
    for (const name of NAMES) {
      const held = cache.lookup(tarballKey(name, `${name.split('/').pop()}-1.0.0.tgz`)) !== undefined;
      expect([name, held]).toEqual([name, name !== '@s/a' && name !== 'a-b']);
    }
    expect(cache.stats().entries).toBe(6);
    expect(cache.keys.names).toBe(3);
  });

  it('keeps its index in step with eviction', () => {
    // Room for 1,024 tag-sized entries (the floor), each costing a quarter of it here.
    const cache = new TarballCache(0);
    const cost = 256 * 256;
    for (const name of NAMES) cache.store(tarballKey(name, 'x-1.0.0.tgz'), tarball(name, cost));
    expect(cache.stats().entries).toBe(4);
    expect(cache.keys.names).toBe(4);
    for (const name of NAMES) cache.invalidate(name);
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
    expect(cache.keys.names).toBe(0);
  });
});

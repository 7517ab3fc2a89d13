/**
 * Allowed tarballs: sent from memory when small, streamed from storage when larger than an
 * eighth of GATEKEEPER_TARBALL_CACHE_SIZE, always with an ETag (the sha512 integrity the
 * packument names) and Last-Modified, and conditional requests answered 304: anonymous and
 * with a token alike.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { storageKey } from '../../src/core/storage';
import { tarballCacheOf } from '../../src/server/registry/gate';
import { eventually } from '../support/assert';
import { loginToken } from '../support/gatekeeper';
import { startHaproxy } from '../support/haproxy';
import { integrityOf } from '../support/tarball';
import { gatekeeperSuite } from '../support/suite';

describe('tarball responses', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'small-tgz', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'altered-tgz', versions: [{ version: '1.0.0', license: 'MIT' }] },
      // Random bytes do not compress: the tarball is larger than a 64 KB cache's 8 KB entries.
      { name: 'large-tgz', versions: [{ version: '1.0.0', license: 'MIT', files: { 'blob.txt': randomBytes(48 * 1024).toString('base64') } }] },
      // Several of the stream's buffers (1 MB each).
      { name: 'multi-mb-tgz', versions: [{ version: '1.0.0', license: 'MIT', files: { 'blob.txt': randomBytes(3 * 1024 * 1024).toString('base64') } }] },
      { name: 'cc-tgz', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'shared-tgz', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
    ],
    settings: { tarballCacheSize: '64kb' },
    policyMode: 'none',
    npm: false,
  });
  let token: string;

  beforeAll(async () => {
    for (const name of ['small-tgz', 'large-tgz', 'altered-tgz', 'multi-mb-tgz', 'shared-tgz', 'cc-tgz']) expect((await s.t.api('POST', '/approvals', { name, reason: 'tarball test' })).status).toBe(201);
    expect((await s.t.api('POST', '/users', { username: 'gil', password: 'gil-password', role: 'reader' })).status).toBe(201);
    token = await loginToken(s.t.url, 'gil', 'gil-password');
  });

  it.each([
    ['small-tgz', true],
    ['large-tgz', false],
  ])('%s: the same bytes with ETag and Last-Modified every time, 304 when unchanged (held in memory: %s)', async (name, inMemory) => {
    const url = new URL(`${name}/-/${name}-1.0.0.tgz`, s.t.url);
    const bytes = s.upstream.tarball(name, '1.0.0');
    const etag = `"${integrityOf(bytes)}"`;
    expect(etag).toMatch(/^"sha512-/);
    const tarballs = tarballCacheOf(s.t.gk.runtime);
    expect(bytes.length > tarballs.maxEntryBytes).toBe(!inMemory);

    let lastModified: string | null = null;
    // The first request fetches from the upstream; the next ones are served from storage or memory.
    const callers = [undefined, undefined, `Bearer ${token}`, undefined];
    for (const [i, authorization] of callers.entries()) {
      const res = await fetch(url, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      expect(res.headers.get('etag')).toBe(etag);
      expect({ i, length: res.headers.get("content-length"), encoding: res.headers.get("content-encoding"), te: res.headers.get("transfer-encoding") }).toEqual({ i, length: String(bytes.length), encoding: null, te: null });
      if (i === 0) {
        // Sent from the fetched bytes; stored once its inspection is recorded (see tarball-write-behind.test.ts).
        await eventually(async () => s.t.gk.runtime.storage.readSync(storageKey(name, `${name}-1.0.0.tgz`)) !== undefined, 'the copy stored');
        continue;
      }
      lastModified = res.headers.get('last-modified');
      expect(Number.isNaN(Date.parse(lastModified ?? ''))).toBe(false);
    }
    const stats = tarballs.stats();
    expect(stats.entries).toBeGreaterThan(0);

    for (const authorization of [undefined, `Bearer ${token}`]) {
      const auth: Record<string, string> = authorization ? { authorization } : {};
      const same = await fetch(url, { headers: { ...auth, 'if-none-match': etag } });
      expect(same.status).toBe(304);
      expect(same.headers.get('etag')).toBe(etag);
      expect((await same.arrayBuffer()).byteLength).toBe(0);
      const listed = await fetch(url, { headers: { ...auth, 'if-none-match': `"sha512-other", W/${etag}` } });
      expect(listed.status).toBe(304);
      const other = await fetch(url, { headers: { ...auth, 'if-none-match': '"sha512-other"' } });
      expect(other.status).toBe(200);
      expect(Buffer.from(await other.arrayBuffer()).equals(bytes)).toBe(true);

      const since = await fetch(url, { headers: { ...auth, 'if-modified-since': lastModified as string } });
      expect(since.status).toBe(304);
      const before = new Date(Date.parse(lastModified as string) - 60_000).toUTCString();
      const older = await fetch(url, { headers: { ...auth, 'if-modified-since': before } });
      expect(older.status).toBe(200);
      expect(Buffer.from(await older.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it('a write to a package drops its tarballs from memory (the fast path does not stat storage)', async () => {
    const url = new URL('small-tgz/-/small-tgz-1.0.0.tgz', s.t.url);
    expect((await fetch(url)).status).toBe(200);
    const tarballs = tarballCacheOf(s.t.gk.runtime);
    expect(tarballs.lookup('small-tgz/small-tgz-1.0.0.tgz')?.bytes).toBeDefined();
    // What every write handler does (src/server/registry/publish.ts), as do new advisories.
    s.t.gk.runtime.packuments.invalidate('small-tgz');
    expect(tarballs.lookup('small-tgz/small-tgz-1.0.0.tgz')).toBeUndefined();
    expect((await fetch(url)).status).toBe(200);
  });

  it('a copy changed in storage since it was verified is not served: a small one is fetched again, a large one is cut short, then fetched again', async () => {
    const { storage } = s.t.gk.runtime;
    const tarballs = tarballCacheOf(s.t.gk.runtime);
    for (const name of ['altered-tgz', 'large-tgz']) {
      const url = new URL(`${name}/-/${name}-1.0.0.tgz`, s.t.url);
      const key = storageKey(name, `${name}-1.0.0.tgz`);
      const asked = () => s.upstream.requests.filter((r) => r.url.endsWith(`/${name}-1.0.0.tgz`)).length;
      const bytes = s.upstream.tarball(name, '1.0.0');
      const first = await fetch(url);
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      await eventually(async () => storage.readSync(key)?.equals(bytes) === true, `${name} stored`);
      // Changed on disk, and read again (as after a restart).
      const altered = Buffer.from(bytes);
      altered[altered.length - 1] ^= 0xff;
      await storage.put(key, altered);
      tarballs.invalidate(name);
      const before = asked();
      // A large one is streamed: the stream that finds the change ends before its last bytes.
      if (bytes.length > tarballs.maxEntryBytes) await expect(fetch(url).then((r) => r.arrayBuffer())).rejects.toThrow();
      expect(asked()).toBe(before);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      expect(asked() - before).toBe(1);
      await eventually(async () => storage.readSync(key)?.equals(bytes) === true, `${name} stored again`);
    }
  });

  it('a large copy changed in place, its inode, size and mtime kept, is cut short, even with its tag known and its bytes verified, then fetched again', async () => {
    const { storage } = s.t.gk.runtime;
    const tarballs = tarballCacheOf(s.t.gk.runtime);
    const name = 'large-tgz';
    const url = new URL(`${name}/-/${name}-1.0.0.tgz`, s.t.url);
    const key = storageKey(name, `${name}-1.0.0.tgz`);
    const file = path.join(s.t.dataDir, 'storage', name, `${name}-1.0.0.tgz`);
    const bytes = s.upstream.tarball(name, '1.0.0');
    expect(bytes.length).toBeGreaterThan(tarballs.maxEntryBytes);
    const get = async () => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer());
    };
    await get();
    await eventually(async () => storage.readSync(key)?.equals(bytes) === true, 'the copy stored');
    // A whole-second mtime, which utimes sets back exactly; read again under it.
    const second = Math.floor(Date.now() / 1000) - 60;
    fs.utimesSync(file, second, second);
    tarballs.invalidate(name);
    // The first stream from storage checks the bytes and computes the tag; the next is sent
    // with both known, without hashing the bytes again.
    for (let i = 0; i < 2; i++) expect((await get()).equals(bytes)).toBe(true);
    expect(tarballs.lookup(`${name}/${name}-1.0.0.tgz`)).toMatchObject({ etag: `"${integrityOf(bytes)}"`, verifiedAt: expect.any(Number) });
    const before = fs.statSync(file);

    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([bytes[bytes.length - 1] ^ 0xff]), 0, 1, bytes.length - 1);
    fs.closeSync(fd);
    fs.utimesSync(file, second, second);
    // Inode, size and mtime as they were: only the change time tells the file was written.
    const after = fs.statSync(file);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);

    const asked = () => s.upstream.requests.filter((r) => r.url.endsWith(`/${name}-1.0.0.tgz`)).length;
    const askedBefore = asked();
    await expect(fetch(url).then((r) => r.arrayBuffer())).rejects.toThrow();
    expect((await get()).equals(bytes)).toBe(true);
    expect(asked() - askedBefore).toBe(1);
    await eventually(async () => storage.readSync(key)?.equals(bytes) === true, 'stored again');
  });

  it('a tarball of several megabytes is streamed whole from storage, on the fast path and the full path (Basic credentials), hashed or not', async () => {
    const name = 'multi-mb-tgz';
    const url = new URL(`${name}/-/${name}-1.0.0.tgz`, s.t.url);
    const key = storageKey(name, `${name}-1.0.0.tgz`);
    const bytes = s.upstream.tarball(name, '1.0.0');
    expect(bytes.length).toBeGreaterThan(3 * 1024 * 1024);
    expect((await fetch(url)).status).toBe(200);
    await eventually(async () => s.t.gk.runtime.storage.readSync(key) !== undefined, 'the copy stored');
    const basic = `Basic ${Buffer.from('gil:gil-password').toString('base64')}`;
    const tarballs = tarballCacheOf(s.t.gk.runtime);
    // Each caller twice: the first stream of the stored file hashes it, the next does not.
    for (const authorization of [basic, basic, undefined, undefined, `Bearer ${token}`]) {
      tarballs.invalidate(name);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(url, { headers: authorization ? { authorization } : {} });
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      }
      expect(tarballs.lookup(`${name}/${name}-1.0.0.tgz`)).toMatchObject({ etag: `"${integrityOf(bytes)}"`, verifiedAt: expect.any(Number) });
    }
  });

  it('a refused tarball is refused whatever the conditions say', async () => {
    const url = new URL('small-tgz/-/small-tgz-1.0.0.tgz', s.t.url);
    const etag = `"${integrityOf(s.upstream.tarball('small-tgz', '1.0.0'))}"`;
    expect((await fetch(url)).status).toBe(200);
    expect((await s.t.api('POST', '/bans', { name: 'small-tgz', range: '1.0.0', reason: 'banned for the test' })).status).toBe(201);
    const variants: Array<Record<string, string>> = [{ 'if-none-match': etag }, { 'if-none-match': etag, authorization: `Bearer ${token}` }, {}];
    for (const headers of variants) {
      const res = await fetch(url, { headers });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('EBANNED');
    }
  });

  it('every allowed answer tells a cache to ask again before using it, 304s too, whoever asks and whichever path serves it', async () => {
    const basic = `Basic ${Buffer.from('gil:gil-password').toString('base64')}`;
    const reads: Array<[string, Record<string, string>]> = [
      ['shared-tgz', { accept: 'application/json' }],
      ['shared-tgz', { accept: 'application/vnd.npm.install-v1+json' }],
      ['shared-tgz/1.0.0', {}],
      ['cc-tgz/-/cc-tgz-1.0.0.tgz', {}],
      ['large-tgz/-/large-tgz-1.0.0.tgz', {}],
    ];
    for (const [path, headers] of reads) {
      for (const authorization of [undefined, `Bearer ${token}`, basic]) {
        const sent = authorization ? { ...headers, authorization } : headers;
        // Twice: the first read may be a first fetch, the second comes from storage or memory.
        for (const round of [1, 2]) {
          const res = await fetch(new URL(path, s.t.url), { headers: sent });
          const etag = res.headers.get('etag');
          expect([path, authorization, round, res.status, res.headers.get('cache-control')]).toEqual([path, authorization, round, 200, path.includes('/-/') ? 'no-cache, no-transform' : 'no-cache']);
          // A version's manifest is written by express, which answers no conditional request fetch makes (fetch adds `cache-control: no-cache` to it).
          if (path === 'shared-tgz/1.0.0') continue;
          const again = await fetch(new URL(path, s.t.url), { headers: { ...sent, 'if-none-match': etag ?? '' } });
          expect([path, authorization, again.status, again.headers.get('cache-control')]).toEqual([path, authorization, 304, path.includes('/-/') ? 'no-cache, no-transform' : 'no-cache']);
        }
      }
    }
  });

  it('a shared cache in front (HAProxy\'s, as a CI proxy runs it) serves a tarball banned since no more', async () => {
    const target = new URL(s.t.url);
    const proxy = await startHaproxy((bind) =>
      [
        'defaults',
        '  mode http',
        '  timeout connect 5s',
        '  timeout client 30s',
        '  timeout server 30s',
        'cache ci',
        '  total-max-size 16',
        '  max-object-size 1000000',
        '  max-age 60',
        'frontend registry',
        `  bind ${bind}`,
        '  http-request cache-use ci',
        '  http-response cache-store ci',
        '  default_backend gatekeeper',
        'backend gatekeeper',
        `  server gk ${target.host}`,
        '',
      ].join('\n'),
    );
    try {
      const path = 'shared-tgz/-/shared-tgz-1.1.0.tgz';
      const bytes = s.upstream.tarball('shared-tgz', '1.1.0');
      for (let i = 0; i < 3; i++) {
        const res = await fetch(new URL(path, proxy.url));
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      }
      expect((await s.t.api('POST', '/bans', { name: 'shared-tgz', range: '1.1.0', reason: 'banned behind a cache' })).status).toBe(201);
      const res = await fetch(new URL(path, proxy.url));
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([403, 'EBANNED']);
      const packument = await fetch(new URL('shared-tgz', proxy.url), { headers: { accept: 'application/json' } });
      expect(Object.keys(((await packument.json()) as { versions: object }).versions)).toEqual(['1.0.0']);
    } finally {
      await proxy.stop();
    }
  });
});

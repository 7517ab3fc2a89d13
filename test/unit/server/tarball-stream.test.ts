/**
 * Streaming a large stored tarball (sendTarballEntry, src/server/registry/tarball-cache.ts)
 * from a real directory through a real HTTP server: the first stream of an object hashes its
 * bytes against their integrity; later streams of the same object, within VERIFIED_FOR_MS,
 * do not hash them again, and are still cut short when the file is written meanwhile.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HotPathReads, storageKey } from '../../../src/core/storage';
import { sendTarballEntry, TarballCache, TarballEntry, VERIFIED_FOR_MS } from '../../../src/server/registry/tarball-cache';
import { FsPackageStorage } from '../../../src/storage/fs';
import { NO_LOCK } from '../../../src/storage/locks';
import { eventually } from '../../support/assert';

const KEY = storageKey('big', 'big-1.0.0.tgz');
const MTIME = Math.floor(Date.now() / 1000) - 60;
const integrity = (bytes: Buffer) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

describe('streaming a stored tarball', () => {
  let root: string;
  let storage: FsPackageStorage;
  let server: http.Server;
  let url: string;
  /** What the next request sends, and what its callbacks heard. */
  let entry: TarballEntry;
  let now: number;
  let heard: { verified?: [string, number]; mismatch: number };

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-tarball-stream-'));
    storage = new FsPackageStorage(root, NO_LOCK);
    heard = { mismatch: 0 };
    now = Date.now();
    server = http.createServer((req, res) => {
      const sent = sendTarballEntry(req, res, entry, (etag, at) => (heard.verified = [etag, at]), () => heard.mismatch++, now);
      if (!sent) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** Stores the bytes and makes the entry a large tarball read from storage gets (TarballCache.read). */
  async function stored(bytes: Buffer, expected: string): Promise<TarballEntry> {
    await storage.put(KEY, bytes);
    // A whole-second mtime, which utimes sets back exactly after a write in place.
    fs.utimesSync(storage.pathOf(KEY), MTIME, MTIME);
    // A cache whose entries are all too large to hold: the entry streams from storage.
    const read = new TarballCache(8).read(storage, KEY, storage.revision('big'), expected);
    expect(read).toMatchObject({ expected, etag: '' });
    expect(read?.bytes).toBeUndefined();
    return read as TarballEntry;
  }

  /** GETs the tarball; `midway` runs after the first chunk arrived, with the response paused. */
  function get(midway?: () => void): Promise<{ status: number; body: Buffer; whole: boolean }> {
    return new Promise((resolve) => {
      http.get(url, (res) => {
        const chunks: Buffer[] = [];
        let paused = false;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (midway && !paused) {
            paused = true;
            res.pause();
            midway();
            res.resume();
          }
        });
        const done = (whole: boolean) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), whole });
        res.on('end', () => done(res.complete));
        res.on('aborted', () => done(false));
        res.on('error', () => done(false));
        // Cut short before the headers were sent (a tarball of one chunk): no response at all.
      }).on('error', () => resolve({ status: 0, body: Buffer.alloc(0), whole: false }));
    });
  }

  it('hashes the first stream of an object: whole when it matches (and says so), cut short when not', async () => {
    const bytes = Buffer.from('a tarball'.repeat(100_000));
    entry = await stored(bytes, integrity(bytes));
    const res = await get();
    expect(res).toMatchObject({ status: 200, whole: true });
    expect(res.body.equals(bytes)).toBe(true);
    expect(heard).toEqual({ verified: [`"${integrity(bytes)}"`, now], mismatch: 0 });

    heard = { mismatch: 0 };
    entry = await stored(bytes, integrity(Buffer.from('other bytes')));
    const cut = await get();
    expect(cut.whole).toBe(false);
    expect(cut.body.length).toBeLessThan(bytes.length);
    expect(heard).toEqual({ mismatch: 1 });
  });

  it('does not hash the bytes again while the object is the one whose bytes matched, for VERIFIED_FOR_MS', async () => {
    const bytes = Buffer.from('a tarball'.repeat(100_000));
    // Integrity the bytes do not have: a stream that hashes them is cut short; one that does not is whole.
    const wrong = integrity(Buffer.from('other bytes'));
    const read = await stored(bytes, wrong);
    entry = { ...read, etag: `"${wrong}"`, verifiedAt: now - VERIFIED_FOR_MS + 1_000 };
    const trusted = await get();
    expect(trusted).toMatchObject({ status: 200, whole: true });
    expect(trusted.body.equals(bytes)).toBe(true);
    expect(heard).toEqual({ mismatch: 0 });

    entry = { ...read, etag: `"${wrong}"`, verifiedAt: now - VERIFIED_FOR_MS };
    const checked = await get();
    expect(checked.whole).toBe(false);
    expect(heard).toEqual({ mismatch: 1 });
  });

  it('is not sent at all for another object than the one read, even one written in place with its inode, size and mtime kept', async () => {
    const bytes = Buffer.from('a tarball'.repeat(100_000));
    const read = await stored(bytes, integrity(bytes));
    entry = { ...read, etag: `"${integrity(bytes)}"`, verifiedAt: now };
    const file = storage.pathOf(KEY);
    // Past the clock tick a kernel without fine-grained timestamps stamps both writes with.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = fs.statSync(file);
    fs.writeFileSync(file, Buffer.from(bytes).fill(0x41, 0, 1), { flag: 'r+' });
    fs.utimesSync(file, MTIME, MTIME);
    const after = fs.statSync(file);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect(await get()).toMatchObject({ status: 404 });
  });

  it('cuts a stream of a verified object short when the file is written in place while it is sent', async () => {
    // Larger than the loopback socket's buffers: the stream cannot end before the client reads on.
    const bytes = Buffer.alloc(48 * 1024 * 1024, 0x20);
    const read = await stored(bytes, integrity(bytes));
    entry = { ...read, etag: `"${integrity(bytes)}"`, verifiedAt: now };
    const file = storage.pathOf(KEY);
    const res = await get(() => {
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.from([0x41]), 0, 1, 0);
      fs.closeSync(fd);
      fs.utimesSync(file, MTIME, MTIME);
    });
    expect(res.status).toBe(200);
    expect(res.whole).toBe(false);
    expect(res.body.length).toBeLessThan(bytes.length);
    expect(heard).toEqual({ mismatch: 0 });

    // Left alone, the same object is sent whole.
    entry = { ...entry, identity: storage.statSync(KEY)?.revision as string };
    const whole = await get();
    expect(whole.whole).toBe(true);
    expect(whole.body.length).toBe(bytes.length);
  });
  it('closes the file of every stream a client gives up on midway, and sends the next whole', async () => {
    const bytes = Buffer.alloc(48 * 1024 * 1024, 0x20);
    const read = await stored(bytes, integrity(bytes));
    const openFiles = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === storage.pathOf(KEY);
      } catch {
        return false; // closed meanwhile
      }
    }).length;
    for (const verifiedAt of [undefined, now]) {
      entry = { ...read, etag: `"${integrity(bytes)}"`, verifiedAt };
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => {
          const req = http.get(url, (res) => res.once('data', () => {
            req.destroy();
            resolve();
          }));
          req.on('error', () => undefined);
        });
      }
      await eventually(async () => openFiles() === 0, 'every file closed');
      const whole = await get();
      expect(whole.whole).toBe(true);
      expect(whole.body.length).toBe(bytes.length);
      expect(openFiles()).toBe(0);
    }
  });
  it('cuts the response, and keeps serving, when reading storage throws midway', async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024, 0x20);
    const read = await stored(bytes, integrity(bytes));
    // A fault hook on the store: its second read throws (a disk error thrown, not passed back).
    let reads = 0;
    const failing: HotPathReads = {
      revision: (name) => storage.revision(name),
      statSync: (key) => storage.statSync(key),
      readSync: (key) => storage.readSync(key),
      openSync: (key) => {
        const opened = storage.openSync(key);
        return opened && {
          ...opened,
          read: (buffer, length, position, callback) => {
            if (++reads === 2) throw new Error('EIO: i/o error, read');
            opened.read(buffer, length, position, callback);
          },
        };
      },
    };
    for (const verifiedAt of [undefined, now]) {
      reads = 0;
      entry = { ...read, source: failing, etag: `"${integrity(bytes)}"`, verifiedAt };
      const cut = await get();
      expect(cut).toMatchObject({ status: 200, whole: false });
      expect(heard).toEqual({ mismatch: 0 });
    }
    entry = { ...read, etag: `"${integrity(bytes)}"`, verifiedAt: now };
    const whole = await get();
    expect(whole.whole).toBe(true);
    expect(whole.body.equals(bytes)).toBe(true);
  });
});

/**
 * The shared-directory package store (src/storage/fs.ts) on a real directory: the operations
 * of the storage interface, Verdaccio's layout, atomic replacement (a reader never sees part
 * of a document), exclusive writes, and the hot path's synchronous reads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { documentKey, parseStorageKey, StorageExistsError, storageKey } from '../../../src/core/storage';
import { FsPackageStorage, INLINE_MAX_BYTES, onLocalFilesystem } from '../../../src/storage/fs';
import { NO_LOCK } from '../../../src/storage/locks';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('FsPackageStorage', () => {
  let root: string;
  let storage: FsPackageStorage;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-fs-storage-'));
    storage = new FsPackageStorage(root, NO_LOCK);
  });

  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('puts, gets, stats, lists and deletes in Verdaccio\'s layout', async () => {
    expect(await storage.get(documentKey('lib'))).toBeUndefined();
    expect(await storage.stat(documentKey('lib'))).toBeUndefined();
    expect(storage.revision('lib')).toBe('absent');

    const doc = JSON.stringify({ name: '@acme/lib', versions: {} });
    const stat = await storage.put(documentKey('@acme/lib'), doc);
    expect(stat.size).toBe(Buffer.byteLength(doc));
    await storage.put(storageKey('@acme/lib', 'lib-1.0.0.tgz'), Buffer.from('tarball bytes'));
    await storage.put(documentKey('plain'), '{}');

    // The folders Verdaccio's local storage uses.
    expect(fs.readFileSync(path.join(root, '@acme/lib/package.json'), 'utf8')).toBe(doc);
    expect(fs.readFileSync(path.join(root, '@acme/lib/lib-1.0.0.tgz'), 'utf8')).toBe('tarball bytes');
    expect(fs.existsSync(path.join(root, 'plain/package.json'))).toBe(true);

    expect((await storage.get(documentKey('@acme/lib')))?.toString()).toBe(doc);
    expect(await storage.stat(storageKey('@acme/lib', 'lib-1.0.0.tgz'))).toMatchObject({ size: 13 });
    expect(await storage.list('@acme/lib')).toEqual(['lib-1.0.0.tgz', 'package.json']);
    expect(await storage.list('nothing-here')).toEqual([]);
    expect((await storage.listPackages()).map((p) => p.name)).toEqual(['@acme/lib', 'plain']);

    const opened = await storage.getStream(storageKey('@acme/lib', 'lib-1.0.0.tgz'));
    expect(opened?.stat.size).toBe(13);
    expect((await readAll(opened!.stream())).toString()).toBe('tarball bytes');
    expect(await storage.getStream(storageKey('@acme/lib', 'lib-2.0.0.tgz'))).toBeUndefined();

    expect(await storage.delete(storageKey('@acme/lib', 'lib-1.0.0.tgz'))).toBe(true);
    expect(await storage.delete(storageKey('@acme/lib', 'lib-1.0.0.tgz'))).toBe(false);
    expect(await storage.list('@acme/lib')).toEqual(['package.json']);
    // A package left with nothing is gone, and so is its empty scope folder.
    expect(await storage.delete(documentKey('@acme/lib'))).toBe(true);
    expect(fs.existsSync(path.join(root, '@acme'))).toBe(false);
    expect((await storage.listPackages()).map((p) => p.name)).toEqual(['plain']);
  });

  it('answers a key under a file standing where its package folder should be as missing, as get, stat and getStream all do', async () => {
    fs.mkdirSync(path.join(root, '@acme'), { recursive: true });
    fs.writeFileSync(path.join(root, '@acme', 'blocked'), 'not a directory');
    expect(await storage.get(documentKey('@acme/blocked'))).toBeUndefined();
    expect(await storage.stat(documentKey('@acme/blocked'))).toBeUndefined();
  });

  it('keeps temporary files out of listings and leaves none behind', async () => {
    for (let i = 0; i < 5; i++) await storage.put(documentKey('lib'), JSON.stringify({ i }));
    expect(fs.readdirSync(path.join(root, 'lib'))).toEqual(['package.json']);
    fs.writeFileSync(path.join(root, 'lib', '.package.json.abc.tmp'), 'partial');
    expect(await storage.list('lib')).toEqual(['package.json']);
  });

  it('refuses keys that could leave a package folder', () => {
    for (const key of ['../x/package.json', 'lib/../package.json', 'lib/.hidden', 'lib/', '/package.json', 'a/b/c/package.json', '@acme/../x/y', 'lib/a\\b', '.', '@/x']) {
      expect(() => parseStorageKey(key)).toThrow(/is not a storage key/);
      expect(() => storage.pathOf(key)).toThrow(/is not a storage key/);
    }
    expect(storage.statSync('../etc/passwd')).toBeUndefined();
    expect(parseStorageKey('.verdaccio-db.json')).toEqual({ file: '.verdaccio-db.json' });
    expect(storage.pathOf('.verdaccio-db.json')).toBe(path.join(root, '.verdaccio-db.json'));
  });

  it('writes exclusively: a second exclusive put of a key fails with EEXISTS and keeps the first', async () => {
    const key = storageKey('lib', 'lib-1.0.0.tgz');
    await storage.put(key, 'first', { exclusive: true });
    await expect(storage.put(key, 'second', { exclusive: true })).rejects.toBeInstanceOf(StorageExistsError);
    await expect(storage.putStream(key, Readable.from([Buffer.from('third')]), { exclusive: true })).rejects.toMatchObject({ code: 'EEXISTS' });
    expect((await storage.get(key))?.toString()).toBe('first');
    // Of 20 racing exclusive writers exactly one wins.
    const other = storageKey('lib', 'lib-2.0.0.tgz');
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => storage.put(other, `writer ${i}`, { exclusive: true })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(fs.readdirSync(path.join(root, 'lib')).sort()).toEqual(['lib-1.0.0.tgz', 'lib-2.0.0.tgz']);
  });

  it('streams a put: nothing is visible until the stream ends, nothing at all when it fails', async () => {
    const key = storageKey('big', 'big-1.0.0.tgz');
    const chunk = Buffer.alloc(64 * 1024, 7);
    const ok = await storage.putStream(key, Readable.from((function* () { for (let i = 0; i < 64; i++) yield chunk; })()));
    expect(ok.size).toBe(64 * chunk.length);
    expect((await storage.get(key))?.equals(Buffer.concat(Array(64).fill(chunk)))).toBe(true);

    const broken = new Readable({ read() {} });
    const failed = storage.putStream(storageKey('big', 'big-2.0.0.tgz'), broken);
    broken.push(chunk);
    setImmediate(() => broken.destroy(new Error('the client went away')));
    await expect(failed).rejects.toThrow(/went away/);
    expect(await storage.list('big')).toEqual(['big-1.0.0.tgz']);
    expect(fs.readdirSync(path.join(root, 'big'))).toEqual(['big-1.0.0.tgz']);
  });

  it('replaces atomically: concurrent readers only ever see whole documents', async () => {
    const key = documentKey('busy');
    // Large enough that a write takes several system calls: a non-atomic write would be seen half done.
    const version = (i: number) => JSON.stringify({ name: 'busy', i, padding: 'x'.repeat(2 * 1024 * 1024 + i) });
    await storage.put(key, version(0));
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 30; i++) await storage.put(key, version(i));
      writing = false;
    })();
    let reads = 0;
    const reader = async () => {
      while (writing) {
        const text = (await storage.get(key))!.toString();
        const doc = JSON.parse(text) as { i: number; padding: string };
        expect(doc.padding.length).toBe(2 * 1024 * 1024 + doc.i);
        const sync = storage.readSync(key)!.toString();
        expect(JSON.parse(sync).name).toBe('busy');
        reads++;
      }
    };
    await Promise.all([writer, reader(), reader(), reader()]);
    expect(reads).toBeGreaterThan(0);
    expect(JSON.parse((await storage.get(key))!.toString()).i).toBe(30);
  });

  it('answers the hot path synchronously: revision, stat, read, and a stream of what was opened', async () => {
    const key = storageKey('hot', 'hot-1.0.0.tgz');
    await storage.put(documentKey('hot'), '{"v":1}');
    const before = storage.revision('hot');
    expect(before).not.toBe('absent');
    await storage.put(documentKey('hot'), '{"v":2}');
    expect(storage.revision('hot')).not.toBe(before);

    await storage.put(key, 'old bytes');
    expect(storage.statSync(key)).toMatchObject({ size: 9 });
    expect(storage.readSync(key)?.toString()).toBe('old bytes');
    const opened = storage.openSync(key)!;
    // Replaced after it was opened: the opened object still streams what it was.
    await storage.put(key, 'new bytes, longer');
    expect(storage.statSync(key)?.revision).not.toBe(opened.stat.revision);
    expect((await readAll(opened.stream())).toString()).toBe('old bytes');
    expect(storage.openSync(storageKey('hot', 'missing.tgz'))).toBeUndefined();
    expect(storage.readSync(storageKey('hot', 'missing.tgz'))).toBeUndefined();
  });

  describe('copies of the upstream\'s objects (not durable)', () => {
    const temporaries = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

    afterEach(() => jest.restoreAllMocks());

    it('are written inline on a local filesystem: same layout, a stat that is the revision, nothing left behind', async () => {
      const inline = new FsPackageStorage(root, NO_LOCK, { inlineIo: true });
      const open = jest.spyOn(fs.promises, 'open');
      const stat = await inline.put(documentKey('@up/copy'), '{"v":1}', { durable: false });
      await inline.put(storageKey('@up/copy', 'copy-1.0.0.tgz'), Buffer.from('bytes'), { durable: false });
      expect(open).not.toHaveBeenCalled();
      expect(fs.readFileSync(path.join(root, '@up/copy/package.json'), 'utf8')).toBe('{"v":1}');
      expect(stat).toEqual(inline.statSync(documentKey('@up/copy')));
      expect(inline.revision('@up/copy')).toBe(stat.revision);
      // Replaced: a new revision, and the folder (made by the first write) is reused.
      const again = await inline.put(documentKey('@up/copy'), '{"v":22}', { durable: false });
      expect(again.revision).not.toBe(stat.revision);
      expect(temporaries(path.join(root, '@up/copy'))).toEqual([]);
      expect(await inline.list('@up/copy')).toEqual(['copy-1.0.0.tgz', 'package.json']);
    });

    it('are written through the thread pool when durable, exclusive, larger than the limit, or not on a local filesystem', async () => {
      const inline = new FsPackageStorage(root, NO_LOCK, { inlineIo: true });
      const open = jest.spyOn(fs.promises, 'open');
      await inline.put(documentKey('durable'), '{}');
      await inline.put(storageKey('durable', 'durable-1.0.0.tgz'), 'x', { durable: false, exclusive: true });
      await inline.put(storageKey('durable', 'durable-2.0.0.tgz'), Buffer.alloc(INLINE_MAX_BYTES + 1), { durable: false });
      expect(open).toHaveBeenCalledTimes(3);
      const remote = new FsPackageStorage(root, NO_LOCK, { inlineIo: false });
      await remote.put(documentKey('remote'), '{}', { durable: false });
      expect(open).toHaveBeenCalledTimes(4);
      expect(fs.readFileSync(path.join(root, 'remote/package.json'), 'utf8')).toBe('{}');
    });

    it('small objects are read inline on a local filesystem; large ones, and any elsewhere, through the thread pool', async () => {
      const inline = new FsPackageStorage(root, NO_LOCK, { inlineIo: true });
      await inline.put(documentKey('reads'), '{"small":true}', { durable: false });
      const large = Buffer.alloc(INLINE_MAX_BYTES + 1, 0x61);
      await inline.put(storageKey('reads', 'reads-1.0.0.tgz'), large, { durable: false });
      const readFile = jest.spyOn(fs.promises, 'readFile');
      expect((await inline.get(documentKey('reads')))?.toString()).toBe('{"small":true}');
      expect(readFile).not.toHaveBeenCalled();
      expect((await inline.get(storageKey('reads', 'reads-1.0.0.tgz')))?.equals(large)).toBe(true);
      expect(readFile).toHaveBeenCalledTimes(1);
      const remote = new FsPackageStorage(root, NO_LOCK, { inlineIo: false });
      expect((await remote.get(documentKey('reads')))?.toString()).toBe('{"small":true}');
      expect(readFile).toHaveBeenCalledTimes(2);
      // Missing, or a folder where the object should be: nothing, either way.
      expect(await inline.get(documentKey('no-such-package'))).toBeUndefined();
      fs.mkdirSync(path.join(root, 'folder/package.json'), { recursive: true });
      expect(await inline.get(documentKey('folder'))).toBeUndefined();
    });

    it('an inline write that cannot be renamed into place fails and leaves no temporary file', async () => {
      const inline = new FsPackageStorage(root, NO_LOCK, { inlineIo: true });
      // A folder where the document should be: rename(2) refuses to replace it.
      fs.mkdirSync(path.join(root, 'blocked/package.json'), { recursive: true });
      await expect(inline.put(documentKey('blocked'), '{}', { durable: false })).rejects.toMatchObject({ code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST/) });
      expect(temporaries(path.join(root, 'blocked'))).toEqual([]);
    });

    it('the filesystem check: a pseudo-filesystem is not local; a path not made yet is judged by its nearest parent', () => {
      expect(onLocalFilesystem('/proc')).toBe(false);
      expect(onLocalFilesystem(path.join(root, 'not', 'made', 'yet'))).toBe(onLocalFilesystem(root));
    });
  });
  it('gives an object written in place, with its inode, size and mtime kept, a new revision (its change time moved)', async () => {
    const key = storageKey('lib', 'lib-1.0.0.tgz');
    await storage.put(key, Buffer.from('tarball bytes'));
    const file = storage.pathOf(key);
    // A whole-second mtime, which utimes sets back exactly.
    const mtime = Math.floor(Date.now() / 1000) - 60;
    fs.utimesSync(file, mtime, mtime);
    const stat = storage.statSync(key) as NonNullable<ReturnType<FsPackageStorage['statSync']>>;
    // Past the clock tick a kernel without fine-grained timestamps stamps both writes with.
    await new Promise((resolve) => setTimeout(resolve, 20));
    fs.writeFileSync(file, Buffer.from('TARBALL bytes'), { flag: 'r+' });
    fs.utimesSync(file, mtime, mtime);
    const after = fs.statSync(file);
    expect([after.size, after.mtimeMs]).toEqual([stat.size, stat.mtimeMs]);
    expect(storage.statSync(key)?.revision).not.toBe(stat.revision);
    const opened = storage.openSync(key);
    expect(opened?.stat.revision).toBe(storage.statSync(key)?.revision);
    opened?.close();
  });
});

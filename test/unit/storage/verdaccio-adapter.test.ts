/**
 * The storage plugin's per-package adapter (plugins/verdaccio-gatekeeper-storage) as Verdaccio
 * 6.8's local storage drives it, on a real directory: documents (create, read, update under
 * the lock, the upstream sync's save without one), tarball uploads (done, abort, a second upload of a name) and reads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PackageFiles } from '../../../plugins/verdaccio-gatekeeper-storage';
import type { PackageLock } from '../../../src/core/storage';
import { FsPackageStorage } from '../../../src/storage/fs';
import { eventually } from '../../support/assert';

const call = <T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));

describe('the storage plugin adapter', () => {
  let root: string;
  let storage: FsPackageStorage;
  const locked: string[] = [];

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-adapter-'));
    locked.length = 0;
    const lock: PackageLock = { lock: (name, fn) => (locked.push(name), fn()) };
    storage = new FsPackageStorage(root, lock);
  });

  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('creates, reads, updates under the package lock and refuses a second create with EEXISTS', async () => {
    const files = new PackageFiles('@acme/lib', storage);
    await expect(call((cb) => files.readPackage('@acme/lib', cb))).rejects.toMatchObject({ code: 'ENOENT', status: 404 });
    await call((cb) => files.createPackage('@acme/lib', { name: '@acme/lib', versions: {} }, cb));
    await expect(call((cb) => files.createPackage('@acme/lib', { name: 'again' }, cb))).rejects.toMatchObject({ code: 'EEXISTS' });
    expect(await call((cb) => files.readPackage('@acme/lib', cb))).toEqual({ name: '@acme/lib', versions: {} });

    await new Promise<void>((resolve, reject) =>
      files.updatePackage(
        '@acme/lib',
        (json, cb) => {
          (json.versions as Record<string, unknown>)['1.0.0'] = { version: '1.0.0' };
          cb();
        },
        // Verdaccio's onWrite saves through savePackage: nested in the held lock.
        (name, json, cb) => new PackageFiles(name, storage).savePackage(name, json, cb),
        (json) => ({ ...json, _rev: '1-x' }),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    expect(JSON.parse(fs.readFileSync(path.join(root, '@acme/lib/package.json'), 'utf8'))).toEqual({ name: '@acme/lib', versions: { '1.0.0': { version: '1.0.0' } }, _rev: '1-x' });
    // One lock for the whole read-modify-write; the save inside it takes no second one.
    expect(locked).toEqual(['@acme/lib']);

    // A save outside an update is Verdaccio's upstream sync (names with a proxy only): no lock.
    await call((cb) => new PackageFiles('lodash', storage).savePackage('lodash', { name: 'lodash', versions: {} }, cb));
    expect(JSON.parse(fs.readFileSync(path.join(root, 'lodash/package.json'), 'utf8'))).toEqual({ name: 'lodash', versions: {} });
    expect(locked).toEqual(['@acme/lib']);

    // An update of a package that has no document is Verdaccio's not found.
    await expect(
      new Promise<void>((resolve, reject) => new PackageFiles('nope', storage).updatePackage('nope', (_j, cb) => cb(), (_n, _j, cb) => cb(), (j) => j, (err) => (err ? reject(err) : resolve()))),
    ).rejects.toMatchObject({ status: 404 });
  });

  it('stores an upload on done(), refuses a second upload of the name, keeps nothing of an aborted one, and reads it back', async () => {
    const files = new PackageFiles('lib', storage);
    const upload = files.writeTarball('lib-1.0.0.tgz');
    const stored = new Promise<void>((resolve, reject) => {
      upload.on('success', resolve);
      upload.on('error', reject);
    });
    upload.end(Buffer.from('tarball bytes'));
    upload.done();
    await stored;
    expect(fs.readFileSync(path.join(root, 'lib/lib-1.0.0.tgz'), 'utf8')).toBe('tarball bytes');

    const again = files.writeTarball('lib-1.0.0.tgz');
    const refused = new Promise((resolve) => again.on('error', resolve));
    again.end(Buffer.from('other bytes'));
    again.done();
    expect(await refused).toMatchObject({ code: 'EEXISTS' });
    expect(fs.readFileSync(path.join(root, 'lib/lib-1.0.0.tgz'), 'utf8')).toBe('tarball bytes');

    const aborted = files.writeTarball('lib-2.0.0.tgz');
    let outcome = 'none';
    aborted.on('success', () => (outcome = 'success'));
    aborted.on('error', () => (outcome = 'error'));
    aborted.write(Buffer.from('part'));
    await eventually(async () => fs.readdirSync(path.join(root, 'lib')).some((f) => f.endsWith('.tmp')), 'the upload to be written');
    aborted.abort();
    aborted.end();
    // The temporary file goes; without abort() it would stay until done().
    await eventually(async () => !fs.readdirSync(path.join(root, 'lib')).some((f) => f.endsWith('.tmp')), 'the aborted upload to be discarded');
    expect(outcome).toBe('none');
    expect(fs.readdirSync(path.join(root, 'lib'))).toEqual(['lib-1.0.0.tgz']);

    const read = files.readTarball('lib-1.0.0.tgz');
    const length = new Promise((resolve) => read.on('content-length', resolve));
    const chunks: Buffer[] = [];
    read.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => read.on('end', resolve));
    expect(await length).toBe(13);
    expect(Buffer.concat(chunks).toString()).toBe('tarball bytes');
    const missing = files.readTarball('lib-9.9.9.tgz');
    expect(await new Promise((resolve) => missing.on('error', resolve))).toMatchObject({ code: 'ENOENT' });

    // Deleting the last file removes the package's folder.
    await call((cb) => files.deletePackage('lib-1.0.0.tgz', cb));
    await expect(call((cb) => files.deletePackage('lib-1.0.0.tgz', cb))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(call((cb) => files.deletePackage('../escape', cb))).rejects.toThrow(/is not a storage key/);
    expect(fs.existsSync(path.join(root, 'lib'))).toBe(false);
  });
});

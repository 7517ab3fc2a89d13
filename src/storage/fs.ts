import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  documentKey,
  OpenedObject,
  PackageLock,
  PackageStorage,
  parseStorageKey,
  PutOptions,
  StorageExistsError,
  StorageStat,
} from '../core/storage';

/**
 * The shared-directory store: Verdaccio's own local-storage layout under `<dataDir>/storage`,
 * so data written before (or by plain Verdaccio) keeps working:
 *
 *     storage/.verdaccio-db.json          Verdaccio's package list and secret
 *     storage/<name>/package.json         a package's document
 *     storage/<name>/<name>-1.0.0.tgz     its tarballs
 *     storage/@scope/<name>/...           scoped packages, one folder per scope
 *
 * Every write goes to a temporary file in the object's own folder (`.<file>.<random>.tmp`,
 * hidden, so listings skip it) and is renamed into place, so a reader sees the old object or
 * the new one, never part of one; this needs the folder on one filesystem where rename(2) is
 * atomic (docs/security.md#package-storage). An exclusive write is a link(2) of the
 * temporary file, which fails when the name exists; on NFS a lost reply is recognised by
 * the temporary file's link count, as open(2) describes. Writes are fsynced before the
 * rename unless the caller says the object is a copy it can fetch again (PutOptions.durable:
 * the upstream's documents and tarballs); published documents and tarballs are.
 *
 * This module lives in src/storage (not src/services): it is an adapter to an external
 * system, like src/db, and holds no domain logic. Locks come from its constructor
 * (src/storage/locks.ts on top of src/db/package-lock.ts).
 */

const TEMPORARY = /^\..*\.tmp$/;
const MAX_KNOWN_PATHS = 50_000;

/** The largest object read, and copy written, inline (see FsPackageStorage.get and put). */
export const INLINE_MAX_BYTES = 1024 * 1024;

/**
 * statfs(2) magic numbers of filesystems on the machine itself (ext2/3/4, XFS, Btrfs, tmpfs,
 * overlayfs, ZFS, F2FS). A network filesystem (NFS, CIFS, CephFS, FUSE mounts such as EFS
 * helpers) is not among them: its close(2) waits for the server.
 */
const LOCAL_FILESYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0x2fc12fc1, 0xf2f52010]);

/** Whether the directory (or its nearest existing parent) is on a filesystem of this machine. */
export function onLocalFilesystem(dir: string): boolean {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      return LOCAL_FILESYSTEMS.has(Number(fs.statfsSync(at).type));
    } catch {
      if (path.dirname(at) === at) return false;
    }
  }
}

function statOf(stat: fs.Stats): StorageStat {
  // ctime too: no write keeps it (utimes can set mtime back, not ctime), so a file edited in place is another revision.
  return { size: stat.size, mtimeMs: stat.mtimeMs, revision: `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}` };
}

const missing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

export class FsPackageStorage implements PackageStorage {
  readonly kind = 'fs';

  /**
   * Whether small objects are read, and copies of the upstream's objects written, inline with
   * synchronous calls (see get and put): decided once, from the filesystem the storage is on,
   * unless the caller says.
   */
  readonly inlineIo: boolean;

  constructor(
    readonly root: string,
    private readonly locks: PackageLock,
    options: { inlineIo?: boolean } = {},
  ) {
    this.inlineIo = options.inlineIo ?? onLocalFilesystem(root);
  }

  /** Paths of keys seen before: the hot path asks for the same few keys on every request. */
  private readonly paths = new Map<string, string>();

  /** The object's path; throws on a key that could leave its package's folder. */
  pathOf(key: string): string {
    const known = this.paths.get(key);
    if (known !== undefined) return known;
    const { packageName, file } = parseStorageKey(key);
    const made = packageName ? path.join(this.root, ...packageName.split('/'), file) : path.join(this.root, file);
    if (this.paths.size >= MAX_KNOWN_PATHS) this.paths.clear();
    this.paths.set(key, made);
    return made;
  }

  private packageDir(name: string): string {
    return path.dirname(this.pathOf(documentKey(name)));
  }

  lock<T>(packageName: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.lock(packageName, fn);
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.pathOf(key);
    // Missing is answered without a trip through the thread pool (a package seen for the first
    // time is looked for twice by Verdaccio before its document is written); the same cheap
    // synchronous stat answers every packument request's revision() already.
    // On a local filesystem a small object (a packument, read again by a tarball's first fetch)
    // is read with synchronous calls too: one stat and one read, not four trips through the
    // thread pool (open, fstat, read, close).
    let stat: fs.Stats | undefined;
    try {
      // throwIfNoEntry spares ENOENT only: a file where a folder of the path should be is ENOTDIR.
      stat = fs.statSync(file, { throwIfNoEntry: false });
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
    if (!stat) return undefined;
    try {
      if (this.inlineIo && stat.isFile() && stat.size <= INLINE_MAX_BYTES) return fs.readFileSync(file);
      return await fs.promises.readFile(file);
    } catch (err) {
      if (missing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
  }

  async getStream(key: string, options: { highWaterMark?: number } = {}): Promise<OpenedObject | undefined> {
    const file = this.pathOf(key);
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) => fs.open(file, 'r', (err, opened) => (err ? reject(err) : resolve(opened))));
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
    const stat = await new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, s) => (err ? reject(err) : resolve(s)))).catch((err) => {
      fs.close(fd, () => undefined);
      throw err;
    });
    if (!stat.isFile()) {
      fs.close(fd, () => undefined);
      return undefined;
    }
    return this.opened(file, fd, stat, options);
  }

  private opened(file: string, fd: number, stat: fs.Stats, options: { highWaterMark?: number }): OpenedObject {
    let used = false;
    return {
      stat: statOf(stat),
      stream: () => {
        if (used) throw new Error(`${file} was streamed already`);
        used = true;
        // Reads the descriptor opened above (a rename over the file meanwhile does not cut it) and closes it.
        return fs.createReadStream(file, { fd, highWaterMark: options.highWaterMark });
      },
      read: (buffer, length, position, callback) => {
        if (used) return callback(new Error(`${file} was streamed or closed already`), 0);
        fs.read(fd, buffer, 0, length, position, (err, bytesRead) => callback(err, bytesRead));
      },
      close: () => {
        if (used) return;
        used = true;
        fs.close(fd, () => undefined);
      },
    };
  }

  /**
   * Writes an object through a temporary file renamed into place. A copy of the upstream's (not
   * durable, not exclusive) of at most INLINE_MAX_BYTES on a local filesystem is written
   * inline, with synchronous calls: every package's first sight and every tarball's first fetch
   * writes one, and the same calls through the thread pool (mkdir, open, write, close, rename,
   * stat: six round trips) cost two to three times the CPU (0.46 to 0.77 ms against 0.21 to
   * 0.24 ms for a 20 KB document, measured here) while the kernel does the same work. Nothing
   * is flushed to disk, so the event loop waits only for the page cache. On a network
   * filesystem, whose close(2) waits for the server, and for anything else, the writes stay
   * asynchronous.
   */
  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<StorageStat> {
    const target = this.pathOf(key);
    const durable = options.durable !== false;
    if (!durable && !options.exclusive && this.inlineIo && Buffer.byteLength(body) <= INLINE_MAX_BYTES) return this.putInline(target, body);
    return this.commit(key, target, options, async (handle) => {
      try {
        await handle.writeFile(body);
        if (durable) await handle.sync();
      } finally {
        await handle.close();
      }
    });
  }

  async putStream(key: string, body: NodeJS.ReadableStream, options: PutOptions = {}): Promise<StorageStat> {
    // An error of the body before the pipeline is set up (an upload aborted at once) is kept, not thrown unhandled.
    let early: unknown;
    const onError = (err: unknown) => (early ??= err);
    body.on('error', onError);
    try {
      const target = this.pathOf(key);
      return await this.commit(key, target, options, async (handle) => {
        if (early) {
          await handle.close();
          throw early;
        }
        // The stream closes the handle when it is done (flushing it first unless durable is false).
        await pipeline(body, fs.createWriteStream('', { fd: handle, flush: options.durable !== false }));
      });
    } finally {
      body.removeListener('error', onError);
    }
  }

  /** put's synchronous form: the same temporary file and rename, the folder made only when missing. */
  private putInline(target: string, body: Buffer | string): StorageStat {
    const temporary = temporaryOf(target);
    let fd: number;
    try {
      fd = fs.openSync(temporary, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fd = fs.openSync(temporary, 'wx', 0o644);
    }
    try {
      try {
        fs.writeFileSync(fd, body);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temporary, target);
      // The renamed file's own stat (its inode, size, mtime and ctime are the revision readers compare).
      return statOf(fs.statSync(target));
    } catch (err) {
      fs.rmSync(temporary, { force: true });
      throw err;
    }
  }

  /** Writes through a temporary file next to the target and renames (or links) it into place. */
  private async commit(key: string, target: string, options: PutOptions, write: (temporary: fs.promises.FileHandle) => Promise<void>): Promise<StorageStat> {
    const dir = path.dirname(target);
    const temporary = temporaryOf(target);
    let handle: fs.promises.FileHandle | undefined;
    // The folder may be removed between mkdir and open, by a delete of the package's last file: once more then.
    for (let attempt = 0; !handle; attempt++) {
      await fs.promises.mkdir(dir, { recursive: true });
      if (options.exclusive && (await exists(target))) throw new StorageExistsError(key);
      try {
        handle = await fs.promises.open(temporary, 'wx', 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
      }
    }
    try {
      await write(handle);
      if (options.exclusive) {
        try {
          await fs.promises.link(temporary, target);
        } catch (err) {
          // NFS: the link may have been made although its reply was lost; then the count is 2.
          const made = (err as NodeJS.ErrnoException).code === 'EEXIST' && (await fs.promises.stat(temporary)).nlink === 2;
          if (!made) throw (err as NodeJS.ErrnoException).code === 'EEXIST' ? new StorageExistsError(key) : err;
        }
        await fs.promises.unlink(temporary);
      } else {
        await fs.promises.rename(temporary, target);
      }
    } catch (err) {
      await fs.promises.unlink(temporary).catch(() => undefined);
      throw err;
    }
    return statOf(await fs.promises.stat(target));
  }

  async stat(key: string): Promise<StorageStat | undefined> {
    try {
      const stat = await fs.promises.stat(this.pathOf(key));
      return stat.isFile() ? statOf(stat) : undefined;
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
  }

  async list(packageName: string): Promise<string[]> {
    try {
      const entries = await fs.promises.readdir(this.packageDir(packageName), { withFileTypes: true });
      return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort();
    } catch (err) {
      if (missing(err)) return [];
      throw err;
    }
  }

  async listPackages(): Promise<Array<{ name: string; mtimeMs: number }>> {
    const out: Array<{ name: string; mtimeMs: number }> = [];
    const folders = async (dir: string) => {
      try {
        return (await fs.promises.readdir(dir, { withFileTypes: true })).filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'));
      } catch (err) {
        if (missing(err)) return [];
        throw err;
      }
    };
    const add = async (name: string, dir: string) => {
      const stat = await fs.promises.stat(dir).catch(() => undefined);
      if (stat?.isDirectory()) out.push({ name, mtimeMs: stat.mtimeMs });
    };
    for (const entry of await folders(this.root)) {
      if (entry.name.startsWith('@')) {
        for (const scoped of await folders(path.join(this.root, entry.name))) await add(`${entry.name}/${scoped.name}`, path.join(this.root, entry.name, scoped.name));
      } else {
        await add(entry.name, path.join(this.root, entry.name));
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(key: string): Promise<boolean> {
    const target = this.pathOf(key);
    try {
      await fs.promises.unlink(target);
    } catch (err) {
      if (missing(err)) return false;
      throw err;
    }
    const { packageName } = parseStorageKey(key);
    if (packageName) await this.removeEmptyFolders(packageName);
    return true;
  }

  /** A package folder left with nothing (and then its scope's folder) is removed; failures are harmless. */
  private async removeEmptyFolders(packageName: string): Promise<void> {
    const dir = this.packageDir(packageName);
    const left = await fs.promises.readdir(dir).catch(() => ['?']);
    if (left.some((f) => !TEMPORARY.test(f))) return;
    await fs.promises.rmdir(dir).catch(() => undefined);
    if (packageName.startsWith('@')) await fs.promises.rmdir(path.dirname(dir)).catch(() => undefined);
  }

  async check(): Promise<void> {
    await fs.promises.access(this.root, fs.constants.W_OK);
  }

  revision(packageName: string): string {
    try {
      return this.statSync(documentKey(packageName))?.revision ?? 'absent';
    } catch {
      return 'absent'; // not a name a package folder may have
    }
  }

  statSync(key: string): StorageStat | undefined {
    try {
      // A missing object is answered without an exception (a first sight asks for its revision three times).
      const stat = fs.statSync(this.pathOf(key), { throwIfNoEntry: false });
      return stat?.isFile() ? statOf(stat) : undefined;
    } catch {
      return undefined;
    }
  }

  readSync(key: string): Buffer | undefined {
    try {
      return fs.readFileSync(this.pathOf(key));
    } catch {
      return undefined;
    }
  }

  openSync(key: string): OpenedObject | undefined {
    let file: string;
    let fd: number;
    try {
      file = this.pathOf(key);
      fd = fs.openSync(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        fs.closeSync(fd);
        return undefined;
      }
      return this.opened(file, fd, stat, {});
    } catch {
      fs.closeSync(fd);
      return undefined;
    }
  }
}

/** A hidden temporary name next to the target (listings skip it; see TEMPORARY). */
function temporaryOf(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.promises.lstat(file);
    return true;
  } catch (err) {
    if (missing(err)) return false;
    throw err;
  }
}

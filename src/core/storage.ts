/**
 * Package storage: where package documents and tarballs live, behind one interface so the
 * shared-directory store (src/storage/fs.ts) can be joined by another (an object store)
 * without touching its callers (the Verdaccio storage plugin, the gate). Types and key
 * helpers only; implementations live outside core. See docs/security.md#package-storage.
 *
 * Keys name one object:
 * - `<package>/package.json`: a package's document (Verdaccio's stored packument);
 * - `<package>/<file>.tgz`: a tarball (any file name that is not hidden);
 * - `.verdaccio-db.json`: Verdaccio's list of locally published packages and its secret.
 * `<package>` is `name` or `@scope/name`, exactly the folders Verdaccio's local storage uses.
 */

/** What a store knows about one object. */
export interface StorageStat {
  size: number;
  /** Milliseconds since the epoch of the object's last write. */
  mtimeMs: number;
  /** Changes whenever the object is replaced or written (for the filesystem: inode, size, mtime, ctime). */
  revision: string;
}

export interface PutOptions {
  /** Fail with StorageExistsError when the key exists (publish: a tarball is written once). */
  exclusive?: boolean;
  /**
   * Flush the bytes to disk before the object becomes visible (default true). A copy that can
   * be fetched again (an upstream document or tarball) passes false: a crash loses only a cache
   * entry, and a cold install does not wait for the disk once per package.
   */
  durable?: boolean;
}

/** An object opened for reading: its stat as opened, and its bytes as a stream. */
export interface OpenedObject {
  stat: StorageStat;
  /** The bytes; call once. The object stays readable as opened even if it is replaced meanwhile. */
  stream(): NodeJS.ReadableStream;
  /**
   * Reads up to `length` bytes from `position` into the start of `buffer`, as opened (for a
   * sender that reuses its buffer); 0 bytes read: the end. Not after stream() or close().
   */
  read(buffer: Buffer, length: number, position: number, callback: (err: Error | null, bytesRead: number) => void): void;
  /** Releases the object: unread, or read with read(). */
  close(): void;
}

/**
 * Serialises writes to one package across every gatekeeper on the database.
 * `lock(name, fn)` runs fn while holding the package's lock and releases it when fn settles;
 * nested calls for a package the caller already holds run at once (re-entrant). A caller
 * that waits longer than the configured bound gets a GatekeeperError `ELOCKTIMEOUT`.
 */
export interface PackageLock {
  lock<T>(packageName: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * The hot path's reads (packument and tarball requests): synchronous, and never a lock or a
 * database query. A store that is not a local filesystem answers them from local state (a
 * cache of what it read and wrote), or returns undefined so the caller takes its slow path.
 */
export interface HotPathReads {
  /** The revision of a package's document, `absent` when it has none: a changed value means the package changed. */
  revision(packageName: string): string;
  statSync(key: string): StorageStat | undefined;
  /** The whole object, for small ones (tarballs held in memory). */
  readSync(key: string): Buffer | undefined;
  /** Opens the object to read (read()) or stream; undefined when it does not exist. */
  openSync(key: string): OpenedObject | undefined;
}

export interface PackageStorage extends HotPathReads, PackageLock {
  /** A short name for logs and health: `fs`. */
  readonly kind: string;
  /** The whole object, or undefined when it does not exist. Never a partly written one. */
  get(key: string): Promise<Buffer | undefined>;
  /** The object as a stream (large tarballs), or undefined when it does not exist. */
  getStream(key: string, options?: { highWaterMark?: number }): Promise<OpenedObject | undefined>;
  /** Writes the object atomically: a reader sees the old bytes or the new, never a part. */
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<StorageStat>;
  /** put() for a body that arrives as a stream; nothing is visible unless the stream ends without an error. */
  putStream(key: string, body: NodeJS.ReadableStream, options?: PutOptions): Promise<StorageStat>;
  stat(key: string): Promise<StorageStat | undefined>;
  /** The file names stored for a package (`package.json`, its tarballs); [] when none. */
  list(packageName: string): Promise<string[]>;
  /** Every package that has a folder in the store. */
  listPackages(): Promise<Array<{ name: string; mtimeMs: number }>>;
  /** Removes the object; false when it did not exist. A package left with nothing is removed too. */
  delete(key: string): Promise<boolean>;
  /** Throws, saying why, when the store cannot be written now (readiness). */
  check(): Promise<void>;
}

export const PACKAGE_DOCUMENT = 'package.json';
export const STORAGE_INDEX_KEY = '.verdaccio-db.json';
/** The lock `add`/`remove` of Verdaccio's package list take (no package can have this name). */
export const STORAGE_INDEX_LOCK = '.verdaccio-db.json';

/** A key's parts; throws on anything that could leave the package's folder. */
export function parseStorageKey(key: string): { packageName?: string; file: string } {
  if (key === STORAGE_INDEX_KEY) return { file: key };
  const slash = key.lastIndexOf('/');
  if (slash <= 0) throw new StorageKeyError(key);
  const packageName = key.slice(0, slash);
  const file = key.slice(slash + 1);
  if (!isStorableFileName(file) || !isStorablePackageName(packageName)) throw new StorageKeyError(key);
  return { packageName, file };
}

export function documentKey(packageName: string): string {
  return storageKey(packageName, PACKAGE_DOCUMENT);
}

export function storageKey(packageName: string, file: string): string {
  const key = `${packageName}/${file}`;
  parseStorageKey(key);
  return key;
}

/** A file name a package folder may hold: no separators, not hidden (temporary files are), not empty. */
export function isStorableFileName(file: string): boolean {
  return file.length > 0 && file.length <= 255 && !file.startsWith('.') && !/[/\\\0]/.test(file);
}

/** `name` or `@scope/name`, each part a plain folder name (not `.`/`..`, not hidden). */
export function isStorablePackageName(name: string): boolean {
  const parts = name.split('/');
  if (parts.length > 2 || (parts.length === 2 && !parts[0].startsWith('@'))) return false;
  return parts.every((p) => p.length > 0 && p.length <= 214 && !/[\\\0]/.test(p) && !p.startsWith('.') && p !== '@');
}

export class StorageKeyError extends Error {
  readonly code = 'EBADKEY';
  constructor(key: string) {
    super(`'${key.slice(0, 300)}' is not a storage key (<package>/<file> or ${STORAGE_INDEX_KEY})`);
    this.name = 'StorageKeyError';
  }
}

/** An exclusive put found the key taken. `code` is what Verdaccio's storage expects (EEXISTS). */
export class StorageExistsError extends Error {
  readonly code = 'EEXISTS';
  readonly status = 409;
  constructor(key: string) {
    super(`${key.slice(0, 300)} exists already`);
    this.name = 'StorageExistsError';
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { PassThrough, Readable } from 'node:stream';
import { documentKey, PackageStorage, STORAGE_INDEX_KEY, STORAGE_INDEX_LOCK, storageKey } from '../../src/core/storage';
import { GATE_PLUGINS, GatekeeperRuntime, runtimeFor } from '../../src/server/runtime';

/**
 * Storage plugin: Verdaccio reads and writes package documents and tarballs through the
 * runtime's package storage (src/core/storage.ts) instead of its own local-storage, so every
 * write to a package takes that package's cross-instance lock, and another store can replace
 * the shared directory without touching Verdaccio. Verdaccio 6.8's storage plugin API
 * (IPluginStorage, callbacks) is adapted here and nothing else happens here.
 *
 * Locks: updatePackage (Verdaccio's read-modify-write: publish, unpublish, dist-tags,
 * deprecate, an added tarball) holds the package's lock across read, update and write, and
 * the package list's add/remove take the list's. savePackage outside updatePackage is
 * Verdaccio's upstream sync (LocalStorage.updateVersions), which Verdaccio runs only for
 * names with a proxy: private names have none (src/server/registry/private.ts), so it never
 * meets a registry write of the same package. Its read is not under any lock, so a lock for
 * its write alone would order nothing; it takes none, and its document, a copy of the
 * upstream's, is not flushed to disk. Reads take none.
 */

/**
 * Set while Verdaccio's updatePackage runs: its savePackage is a registry write (publish,
 * dist-tag, deprecate) and is flushed to disk; a savePackage outside it is the upstream sync,
 * a copy of the upstream's document that is fetched again if a crash loses it.
 */
const updating = new AsyncLocalStorage<true>();

type Callback<T = unknown> = (err: Error | null, value?: T) => void;

/** What Verdaccio's storage recognises as "not there". */
const notFound = (what: string) => Object.assign(new Error(`${what} is not in storage`), { code: 'ENOENT', status: 404, statusCode: 404 });

const settle = <T>(promise: Promise<T>, cb: Callback<T>) =>
  promise.then(
    (value) => cb(null, value),
    (err) => cb(err as Error),
  );

interface PackageList {
  list: string[];
  secret: string;
}

export default class GatekeeperStorage {
  private readonly runtime: GatekeeperRuntime;
  private readonly storage: PackageStorage;

  constructor(config: unknown) {
    this.runtime = runtimeFor(config, GATE_PLUGINS.storage);
    this.storage = this.runtime.storage;
    this.runtime.pluginLoaded(GATE_PLUGINS.storage);
  }

  private async readList(): Promise<PackageList> {
    const raw = await this.storage.get(STORAGE_INDEX_KEY);
    if (!raw) return { list: [], secret: '' };
    const data = JSON.parse(raw.toString('utf8')) as Partial<PackageList> | null;
    return { ...data, list: Array.isArray(data?.list) ? data.list.filter((n) => typeof n === 'string') : [], secret: typeof data?.secret === 'string' ? data.secret : '' };
  }

  /** Read-modify-write of Verdaccio's list file under its own lock; nothing is written when nothing changes. */
  private changeList(change: (data: PackageList) => boolean): Promise<void> {
    return this.storage.lock(STORAGE_INDEX_LOCK, async () => {
      const data = await this.readList();
      if (change(data)) await this.storage.put(STORAGE_INDEX_KEY, JSON.stringify(data));
    });
  }

  async getSecret(): Promise<string> {
    return (await this.readList()).secret;
  }

  async setSecret(secret: string): Promise<void> {
    await this.changeList((data) => {
      // Two instances starting on an empty directory: the first secret written wins.
      if (data.secret) return false;
      data.secret = secret;
      return true;
    });
  }

  add(name: string, cb: Callback): void {
    settle(
      this.changeList((data) => (data.list.includes(name) ? false : (data.list.push(name), true))),
      (err) => cb(err),
    );
  }

  remove(name: string, cb: Callback): void {
    settle(
      this.changeList((data) => {
        const at = data.list.indexOf(name);
        if (at === -1) return false;
        data.list.splice(at, 1);
        return true;
      }),
      (err) => cb(err),
    );
  }

  get(cb: Callback<string[]>): void {
    settle(
      this.readList().then((d) => d.list),
      cb,
    );
  }

  /** Every package folder, for Verdaccio's search (which then reads each document). */
  search(onPackage: (item: { name: string; path: string; time: number }, cb: (err?: Error | null) => void) => void, onEnd: (err?: Error | null) => void, validateName: (name: string) => boolean): void {
    const run = async () => {
      for (const pkg of await this.storage.listPackages()) {
        if (!validateName(pkg.name.slice(pkg.name.lastIndexOf('/') + 1))) continue;
        await new Promise<void>((resolve, reject) => onPackage({ name: pkg.name, path: pkg.name, time: pkg.mtimeMs }, (err) => (err ? reject(err) : resolve())));
      }
    };
    run().then(
      () => onEnd(null),
      (err) => onEnd(err as Error),
    );
  }

  getPackageStorage(name: string): PackageFiles {
    return new PackageFiles(name, this.storage);
  }
}

/** Verdaccio's per-package storage (ILocalPackageManager) over the package storage. */
export class PackageFiles {
  constructor(
    private readonly name: string,
    private readonly storage: PackageStorage,
  ) {}

  private async read(): Promise<Record<string, unknown>> {
    const raw = await this.storage.get(documentKey(this.name));
    if (!raw) throw notFound(this.name);
    return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  }

  private async write(value: unknown, exclusive = false, durable = true): Promise<unknown> {
    return this.storage.put(documentKey(this.name), JSON.stringify(value, null, '\t'), { exclusive, durable });
  }

  readPackage(_name: string, cb: Callback): void {
    settle(this.read(), cb);
  }

  /** A new package: fails with EEXISTS (Verdaccio's conflict) when it has a document already. */
  createPackage(_name: string, value: unknown, cb: Callback): void {
    settle(this.write(value, true), (err) => cb(err));
  }

  savePackage(_name: string, value: unknown, cb: Callback): void {
    // Inside updatePackage the lock is held already; outside it, this is the upstream sync (see above).
    settle(this.write(value, false, updating.getStore() === true), (err) => cb(err));
  }

  /**
   * Verdaccio's read-modify-write of the document: read, let Verdaccio change it, write it
   * (through `onWrite`, which sets the revision and calls savePackage), all under the lock.
   */
  updatePackage(
    _name: string,
    updateHandler: (json: Record<string, unknown>, cb: (err?: Error | null) => void) => void,
    onWrite: (name: string, json: unknown, cb: (err?: Error | null) => void) => void,
    transformPackage: (json: Record<string, unknown>) => unknown,
    onEnd: (err?: Error | null) => void,
  ): void {
    updating
      .run(true, () => this.storage.lock(this.name, async () => {
        const json = await this.read();
        await new Promise<void>((resolve, reject) => updateHandler(json, (err) => (err ? reject(err) : resolve())));
        await new Promise<void>((resolve, reject) => onWrite(this.name, transformPackage(json), (err) => (err ? reject(err) : resolve())));
      }))
      .then(
        () => onEnd(null),
        (err) => onEnd(err as Error),
      );
  }

  /** Removes one file of the package: its document or a tarball. */
  deletePackage(fileName: string, cb: Callback): void {
    settle(
      Promise.resolve()
        .then(() => this.storage.delete(storageKey(this.name, fileName)))
        .then((deleted) => {
          if (!deleted) throw notFound(`${this.name}/${fileName}`);
        }),
      (err) => cb(err),
    );
  }

  /** The folder goes with its last file (storage.delete); nothing is left to remove. */
  removePackage(cb: Callback): void {
    cb(null);
  }

  /**
   * A tarball upload: streamed into storage as it arrives, made visible on done() only if
   * nothing of that name exists (EEXISTS otherwise), discarded on abort().
   */
  writeTarball(fileName: string): PassThrough & { done(): void; abort(): void } {
    const upload = new PassThrough() as PassThrough & { done(): void; abort(): void };
    const body = new PassThrough();
    upload.pipe(body, { end: false });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      upload.emit('error', err);
    };
    let key: string;
    try {
      key = storageKey(this.name, fileName);
    } catch (err) {
      upload.done = () => undefined;
      upload.abort = () => undefined;
      process.nextTick(() => fail(err as Error));
      return upload;
    }
    this.storage.putStream(key, body, { exclusive: true }).then(
      () => {
        if (settled) return;
        settled = true;
        upload.emit('success');
      },
      (err) => fail(err as Error),
    );
    process.nextTick(() => upload.emit('open'));
    upload.done = () => {
      // Ends the stored body once everything written to the upload has passed through to it.
      if (upload.readableEnded) body.end();
      else upload.once('end', () => body.end());
    };
    upload.abort = () => {
      settled = true;
      body.destroy(new Error('the upload was aborted'));
    };
    return upload;
  }

  /** A stored tarball as Verdaccio's read stream ('content-length', 'open', then the bytes). */
  readTarball(fileName: string): PassThrough & { abort(): void } {
    const out = new PassThrough() as PassThrough & { abort(): void };
    let source: NodeJS.ReadableStream | undefined;
    let aborted = false;
    out.abort = () => {
      aborted = true;
      (source as Readable | undefined)?.destroy();
    };
    Promise.resolve()
      .then(() => this.storage.getStream(storageKey(this.name, fileName)))
      .then(
        (opened) => {
          if (!opened) return void out.emit('error', notFound(`${this.name}/${fileName}`));
          if (aborted) return opened.close();
          out.emit('content-length', opened.stat.size);
          out.emit('open');
          source = opened.stream();
          source.on('error', (err) => out.emit('error', err));
          source.pipe(out);
        },
        (err) => out.emit('error', err),
      );
    return out;
  }
}

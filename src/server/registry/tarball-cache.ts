import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { matchesIntegrityString, strongestDigests } from '../../core/integrity';
import { HotPathReads, OpenedObject, StorageStat, storageKey } from '../../core/storage';
import { etagMatches, REVALIDATE_TARBALL, UNSTORED_TARBALL } from '../http/conditional';
import { BoundedCache } from './bounded-cache';

/**
 * Stored tarballs as the gate sends them. Small ones (up to an eighth of the cache) are held
 * in memory, so a warm tarball request costs the decision lookup, a stat of the package's
 * stored document and one write; larger ones are streamed from storage through 1 MB buffers
 * used again by the next stream (see sendObject). Either way the response carries an `ETag`
 * (the tarball's sha512 integrity, which the gate verified against the packument when it
 * fetched the tarball) and a `Last-Modified` (when it was stored), and conditional requests are
 * answered 304.
 *
 * An entry is used only while the package's storage revision (its package.json's revision in
 * the package storage, src/core/storage.ts) is the one it was read under: an unpublish or a
 * removed tarball rewrites that file. Storage is read through its hot-path reads: no lock, no
 * database query. Memory is bounded by `maxBytes` (GATEKEEPER_TARBALL_CACHE_SIZE),
 * least recently used first out; 0 turns the memory cache off (tags are still remembered).
 */

export interface TarballEntry {
  /** The bytes, when small enough to be held; undefined: streamed from `file`. */
  bytes?: Buffer;
  /** For held bytes: the response's headers, made once (name, value, name, value, …). */
  head?: string[];
  /** Its storage key and the store it is streamed from. */
  key: string;
  source: HotPathReads;
  size: number;
  etag: string;
  lastModified: string;
  /** Seconds since the epoch of `lastModified`, for If-Modified-Since. */
  modifiedSeconds: number;
  /** The package's storage revision it was read under. */
  revision: string;
  /** The stored object's revision (for the filesystem: inode, size, mtime, ctime). */
  identity: string;
  /** For a streamed tarball read from storage: the integrity its streams must match (else its tag, once known). */
  expected?: string;
  /**
   * For a streamed tarball: when (ms since the epoch) a stream of this object (`identity`)
   * last matched its integrity; until then, or VERIFIED_FOR_MS after, every stream is checked.
   */
  verifiedAt?: number;
  cost: number;
}

/** What a tag-only entry (a streamed tarball) counts against the cache. */
const TAG_COST = 256;
const STREAM_BUFFER = 1024 * 1024;
/**
 * How long a streamed tarball whose bytes matched is streamed without hashing them again, while
 * it is the same object (`identity`): any write to the file changes its ctime, and so its
 * identity. Then it is checked once more, for bytes that changed without a write (the disk's).
 */
export const VERIFIED_FOR_MS = 10 * 60_000;

export function integrityTag(bytes: Buffer): string {
  return `"sha512-${createHash('sha512').update(bytes).digest('base64')}"`;
}

export class TarballCache {
  /** A key is `name/filename`. */
  private readonly entries = new BoundedCache<TarballEntry>(
    (key) => key.slice(0, key.lastIndexOf('/')),
    (entry) => entry.cost,
  );
  readonly maxEntryBytes: number;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {
    this.maxEntryBytes = Math.floor(maxBytes / 8);
  }

  /**
   * The entry if it was read under this storage revision (moved to most recently used); with
   * no revision given, any entry: the fast path relies on writes dropping a package's entries
   * (PackumentCache.onInvalidate) instead of a stat per request.
   */
  lookup(key: string, revision?: string): TarballEntry | undefined {
    // One lookup for a hit: an entry read under another revision is dropped right after it is counted as used.
    const entry = this.entries.use(key);
    if (!entry || (revision !== undefined && entry.revision !== revision)) {
      if (entry) this.entries.remove(key);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry;
  }

  store(key: string, entry: TarballEntry): void {
    if (entry.cost > this.maxBytes && this.maxBytes > 0) return;
    this.entries.put(key, entry, Math.max(this.maxBytes, TAG_COST * 1024));
  }

  /** Drops one tarball's entry. */
  invalidateKey(key: string): void {
    this.entries.remove(key);
  }

  /** Stored objects (storage key → their revision) whose bytes did not match their integrity: not read again. */
  private readonly rejected = new Map<string, string>();

  /** A stored object (by storage key) did not match its integrity: that revision of it is not read again (see read). */
  reject(key: string, identity: string): void {
    this.rejected.delete(key);
    this.rejected.set(key, identity);
    if (this.rejected.size > 1_000) this.rejected.delete(this.rejected.keys().next().value as string);
  }

  /** Drops every tarball of a package. */
  invalidate(name: string): void {
    this.entries.invalidate(name);
  }

  /** Drops every tarball (an announcement of a write may have been missed). */
  clear(): void {
    this.entries.clear();
  }

  /** The keys of each package (see invalidate). */
  get keys(): BoundedCache<TarballEntry>['keys'] {
    return this.entries.keys;
  }

  stats(): { entries: number; bytes: number; maxBytes: number; hits: number; misses: number } {
    return { entries: this.entries.size, bytes: this.entries.bytes, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses };
  }

  /**
   * Reads a stored tarball into an entry: small ones whole (tagged with their integrity),
   * large ones as a stat only (the tag is computed by the first full stream and remembered).
   * Undefined when the file is not stored, or when `expected` (the integrity the tarball was
   * verified against when it was fetched or published) is given and a small one's bytes do not
   * match it; a large one is checked as each stream of it is sent (sendTarballEntry).
   */
  read(source: HotPathReads, key: string, revision: string, expected?: string): TarballEntry | undefined {
    const stat: StorageStat | undefined = source.statSync(key);
    if (!stat || this.rejected.get(key) === stat.revision) return undefined;
    if (stat.size > this.maxEntryBytes) return { ...this.entry(source, key, revision, stat), ...(expected ? { expected } : {}) };
    const bytes = source.readSync(key);
    if (!bytes || bytes.length !== stat.size) return undefined;
    const etag = integrityTag(bytes);
    // A copy changed in storage since it was verified is not served (the gate fetches it again).
    if (expected !== undefined && etag !== `"${expected}"` && !matchesIntegrityString(bytes, expected)) {
      this.reject(key, stat.revision);
      return undefined;
    }
    return this.entry(source, key, revision, stat, bytes, etag);
  }

  /**
   * The entry for a stored tarball whose stat (and bytes, when at hand) are known: the bytes
   * are held when small enough; the tag is theirs (`etag` when the caller computed it
   * already), or empty for a large one read from storage (the first full stream computes it).
   */
  entry(source: HotPathReads, key: string, revision: string, stat: StorageStat, bytes?: Buffer, etag = bytes ? integrityTag(bytes) : ''): TarballEntry {
    const lastModified = new Date(stat.mtimeMs).toUTCString();
    const base = { key, source, size: stat.size, lastModified, modifiedSeconds: Math.floor(stat.mtimeMs / 1000), revision, identity: stat.revision };
    if (bytes && stat.size <= this.maxEntryBytes) {
      const head = ['content-type', 'application/octet-stream', 'content-length', String(bytes.length), 'cache-control', REVALIDATE_TARBALL, 'access-control-allow-origin', '*', 'etag', etag, 'last-modified', lastModified];
      return { ...base, bytes, head, etag, cost: bytes.length + TAG_COST };
    }
    return { ...base, etag, cost: TAG_COST };
  }
}

/** Whether the request's conditions match the entry: true means 304. */
export function notModified(req: IncomingMessage, etag: string, modifiedSeconds: number): boolean {
  const match = req.headers['if-none-match'];
  if (match !== undefined) return etagMatches(match, etag);
  const since = req.headers['if-modified-since'];
  if (since === undefined) return false;
  const at = Date.parse(since);
  return Number.isFinite(at) && modifiedSeconds <= Math.floor(at / 1000);
}

/**
 * Writes a tarball entry: 304 when the request's conditions hold, the bytes from memory, or a
 * stream of the stored file. Returns false (nothing written) when a streamed file has gone or
 * is no longer the object the entry was read from.
 * `onVerified` receives the tag of a streamed file whose bytes were hashed and matched (see
 * VERIFIED_FOR_MS), and `onMismatch` hears that they did not match the entry's integrity.
 */
export function sendTarballEntry(
  req: IncomingMessage,
  res: ServerResponse,
  entry: TarballEntry,
  onVerified?: (etag: string, at: number) => void,
  onMismatch?: () => void,
  now = Date.now(),
): boolean {
  const head = (): void => {
    // A tarball is compressed already, and its bytes must match the integrity: no proxy or
    // compression middleware (Verdaccio's, on the full path) may encode it again.
    // A response with a notice must not be stored by npm, or npm does not print the notice.
    res.setHeader('cache-control', res.hasHeader('npm-notice') ? UNSTORED_TARBALL : REVALIDATE_TARBALL);
    // What Verdaccio's CORS middleware sends on the full path: the fast path answers the same.
    res.setHeader('access-control-allow-origin', '*');
    if (entry.etag) res.setHeader('etag', entry.etag);
    res.setHeader('last-modified', entry.lastModified);
  };
  if (notModified(req, entry.etag, entry.modifiedSeconds)) {
    res.statusCode = 304;
    head();
    res.end();
    return true;
  }
  if (entry.bytes) {
    // The prepared head revalidates: a response with a notice takes head()'s `no-store`.
    if (entry.head && !res.hasHeader('npm-notice')) res.writeHead(200, entry.head);
    else {
      res.statusCode = 200;
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', entry.bytes.length);
      head();
    }
    res.end(req.method === 'HEAD' ? undefined : entry.bytes);
    return true;
  }
  // Opened before anything is written: an object removed or replaced meanwhile is a miss, not a cut response.
  const opened = entry.source.openSync(entry.key);
  if (!opened) return false;
  if (opened.stat.revision !== entry.identity) {
    opened.close();
    return false;
  }
  res.statusCode = 200;
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', entry.size);
  head();
  if (req.method === 'HEAD') {
    opened.close();
    res.end();
    return true;
  }
  // The last chunk is sent only once the bytes are known to be the ones verified, so a copy
  // changed in storage, even in place with its size and mtime kept, reaches no client whole
  // (the response is cut short):
  // - the first stream of an object (and one every VERIFIED_FOR_MS) hashes the bytes and checks
  //   them against the integrity they were verified against when fetched or published (or,
  //   with none given, computes the tag);
  // - the others, of an object whose bytes matched, check that it is still that object when
  //   the last chunk is read (a write in place meanwhile changes its ctime): no hashing.
  if (entry.verifiedAt !== undefined && now - entry.verifiedAt < VERIFIED_FOR_MS && entry.etag) {
    sendObject(res, opened, entry.size, { update: () => undefined, ok: () => entry.source.statSync(entry.key)?.revision === entry.identity });
    return true;
  }
  const check = new IntegrityCheck(entry.expected ?? (entry.etag ? entry.etag.slice(1, -1) : undefined));
  sendObject(res, opened, entry.size, check, (matched) => {
    if (!matched) onMismatch?.();
    else if (check.tag) onVerified?.(check.tag, now);
  });
  return true;
}

/** What a stream of a stored object checks before its last chunk is sent. */
interface ChunkCheck {
  update(chunk: Buffer): void;
  /** Whether the last chunk may be sent. */
  ok(): boolean;
}

/**
 * Buffers for streams of stored tarballs, used again once their bytes are written: a stream
 * makes no garbage per chunk. At most SPARE_BUFFERS are kept between streams.
 */
const spare: Buffer[] = [];
const SPARE_BUFFERS = 16;

/**
 * Sends an opened object's `size` bytes, one buffer at a time: the next is read once the
 * response has drained (the socket's own buffer keeps the connection busy meanwhile). The last
 * chunk is written only when `check.ok()`; otherwise, or when the object is shorter than
 * `size`, the response is cut short. `done` hears whether every byte was read and the check held.
 *
 * Only 'drain' and 'finish' say a buffer's bytes are written, not write callbacks: a middleware
 * wrapping `res.write` need not pass them on (Verdaccio's compression, on the full path, passes
 * two arguments).
 */
function sendObject(res: ServerResponse, opened: OpenedObject, size: number, check: ChunkCheck, done?: (ok: boolean) => void): void {
  let buffer = spare.pop() ?? Buffer.allocUnsafeSlow(STREAM_BUFFER);
  let position = 0;
  let open = true;
  let reading = false;
  const close = (): void => {
    if (!open) return;
    open = false;
    opened.close();
  };
  const fail = (mismatch: boolean): void => {
    close();
    res.destroy();
    if (mismatch) done?.(false);
  };
  // A response closed early: the object is closed now, or (a read in flight) when the read returns.
  res.once('close', () => {
    if (!reading) close();
  });
  const next = (): void => {
    reading = true;
    try {
      opened.read(buffer, Math.min(buffer.length, size - position), position, (err, read) => {
        reading = false;
        try {
          if (err || (read === 0 && position < size) || res.destroyed) return fail(false);
          sent(read);
        } catch {
          fail(false); // no request stops the process: a storage or socket fault cuts this response
        }
      });
    } catch {
      reading = false;
      fail(false);
    }
  };
  const sent = (read: number): void => {
    const chunk = read === buffer.length ? buffer : buffer.subarray(0, read);
    check.update(chunk);
    position += read;
    if (position < size) {
      // Written at once, or (false) once the response drains; until then the buffer is the response's.
      if (!res.write(chunk)) return void res.once('drain', next);
      // Accepted without a drain to wait for: its bytes may still be queued, so the next read takes another buffer.
      buffer = Buffer.allocUnsafeSlow(STREAM_BUFFER);
      return next();
    }
    close();
    if (!check.ok()) return fail(true);
    const written = buffer;
    res.once('finish', () => {
      if (spare.length < SPARE_BUFFERS) spare.push(written);
    });
    res.end(chunk);
    done?.(true);
  };
  next();
}

/**
 * Hashes the bytes (sha512, the tag) and, when an expected integrity is given, checks them
 * against it: ok() is false when they do not match.
 */
class IntegrityCheck implements ChunkCheck {
  tag: string | undefined;
  private readonly sha512 = createHash('sha512');
  private readonly other: { hash: ReturnType<typeof createHash>; digests: ReadonlySet<string> } | undefined;
  private readonly expected: ReadonlySet<string> | undefined;
  /** False when an expected integrity was given that names no digest: nothing can match it. */
  private readonly checked: boolean;

  constructor(expected: string | undefined) {
    const wanted = expected ? strongestDigests(expected) : undefined;
    this.other = wanted && wanted.algorithm !== 'sha512' ? { hash: createHash(wanted.algorithm), digests: wanted.digests } : undefined;
    this.expected = wanted && wanted.algorithm === 'sha512' ? wanted.digests : undefined;
    this.checked = wanted !== undefined || expected === undefined;
  }

  update(chunk: Buffer): void {
    this.sha512.update(chunk);
    this.other?.hash.update(chunk);
  }

  ok(): boolean {
    const digest = this.sha512.digest('base64');
    const matches = this.checked && (this.expected ? this.expected.has(digest) : true) && (this.other ? this.other.digests.has(this.other.hash.digest('base64')) : true);
    if (matches) this.tag = `"sha512-${digest}"`;
    return matches;
  }
}

export function tarballKey(name: string, filename: string): string {
  return `${name}/${filename}`;
}

/** The tarball's storage key; undefined for a file name no package folder may hold. */
export function tarballStorageKey(name: string, filename: string): string | undefined {
  try {
    return storageKey(name, filename);
  } catch {
    return undefined;
  }
}

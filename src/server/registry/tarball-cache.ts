import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, TransformCallback } from 'node:stream';
import ssri from 'ssri';
import { HotPathReads, StorageStat, storageKey } from '../../core/storage';
import { etagMatches } from '../http/conditional';
import { BoundedCache } from './bounded-cache';

/**
 * Stored tarballs as the gate sends them. Small ones (up to an eighth of the cache) are held
 * in memory, so a warm tarball request costs the decision lookup, a stat of the package's
 * stored document and one write; larger ones are streamed from storage with a large read
 * buffer. Either way the response carries an `ETag` (the tarball's sha512 integrity, which the
 * gate verified against the packument when it fetched the tarball) and a `Last-Modified` (when
 * it was stored), and conditional requests are answered 304.
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
  /** The stored object's revision (for the filesystem: inode, size, mtime). */
  identity: string;
  /** For a streamed tarball read from storage: the integrity every stream of it must match (else its tag, once known). */
  expected?: string;
  cost: number;
}

/** What a tag-only entry (a streamed tarball) counts against the cache. */
const TAG_COST = 256;
const STREAM_BUFFER = 256 * 1024;

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
    if (expected !== undefined && etag !== `"${expected}"` && !digestsOf(expected)?.matches(bytes)) {
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
      const head = ['content-type', 'application/octet-stream', 'content-length', String(bytes.length), 'cache-control', 'no-transform', 'access-control-allow-origin', '*', 'etag', etag, 'last-modified', lastModified];
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
 * stream of the stored file. Returns false (nothing written) when a streamed file has gone.
 * `onTag` receives the tag computed while streaming a file whose tag was not known yet, and
 * `onMismatch` hears that those bytes did not match the entry's expected integrity.
 */
export function sendTarballEntry(req: IncomingMessage, res: ServerResponse, entry: TarballEntry, onTag?: (etag: string) => void, onMismatch?: () => void): boolean {
  const head = (): void => {
    // A tarball is compressed already, and its bytes must match the integrity: no proxy or
    // compression middleware (Verdaccio's, on the full path) may encode it again.
    // A response with a notice must not be stored by npm, or npm does not print the notice.
    res.setHeader('cache-control', res.hasHeader('npm-notice') ? 'no-store, no-transform' : 'no-transform');
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
    // The prepared head says `no-transform` only: a response with a notice takes head()'s `no-store`.
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
  const opened = entry.source.openSync(entry.key, { highWaterMark: STREAM_BUFFER });
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
  const stream = opened.stream();
  stream.on('error', () => res.destroy());
  // Every stream checks the bytes against the integrity they were verified against (or, with
  // none given, the tag the first stream computed): its last chunk is sent only when they
  // match, so a copy changed in storage since, even in place with its size and mtime kept,
  // reaches no client whole (the response is cut short). The first stream also computes the tag.
  const expected = entry.expected ?? (entry.etag ? entry.etag.slice(1, -1) : undefined);
  if (expected === undefined && !onTag) {
    stream.pipe(res);
    return true;
  }
  const check = new TagCheck(expected);
  check.on('error', () => {
    res.destroy();
    onMismatch?.();
  });
  check.on('end', () => {
    if (!entry.etag && check.bytesRead === entry.size && check.tag) onTag?.(check.tag);
  });
  stream.pipe(check).pipe(res);
  return true;
}

/** The digests an integrity string names, for its strongest algorithm; undefined when it names none. */
function digestsOf(integrity: string): { algorithm: string; digests: Set<string>; matches(bytes: Buffer): boolean } | undefined {
  const parsed = ssri.parse(integrity);
  const algorithm = parsed.pickAlgorithm();
  const hashes = (parsed as unknown as Record<string, Array<{ digest: string }> | undefined>)[algorithm];
  if (!hashes || hashes.length === 0) return undefined;
  const digests = new Set(hashes.map((h) => h.digest));
  return { algorithm, digests, matches: (bytes) => digests.has(createHash(algorithm).update(bytes).digest('base64')) };
}

/**
 * Passes bytes through while hashing them (sha512, the tag), holding the last chunk back until
 * the end: when an expected integrity is given and the bytes do not match it, the stream fails
 * instead of sending that chunk.
 */
class TagCheck extends Transform {
  bytesRead = 0;
  tag: string | undefined;
  private held: Buffer | undefined;
  private readonly sha512 = createHash('sha512');
  private readonly other: { hash: ReturnType<typeof createHash>; digests: Set<string> } | undefined;

  constructor(expected: string | undefined) {
    super();
    const wanted = expected ? digestsOf(expected) : undefined;
    this.other = wanted && wanted.algorithm !== 'sha512' ? { hash: createHash(wanted.algorithm), digests: wanted.digests } : undefined;
    this.expected = wanted && wanted.algorithm === 'sha512' ? wanted.digests : undefined;
    this.checked = wanted !== undefined || expected === undefined;
  }

  private readonly expected: Set<string> | undefined;
  /** False when an expected integrity was given that names no digest: nothing can match it. */
  private readonly checked: boolean;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sha512.update(chunk);
    this.other?.hash.update(chunk);
    this.bytesRead += chunk.length;
    if (this.held) this.push(this.held);
    this.held = chunk;
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const digest = this.sha512.digest('base64');
    const matches = this.checked && (this.expected ? this.expected.has(digest) : true) && (this.other ? this.other.digests.has(this.other.hash.digest('base64')) : true);
    if (!matches) return callback(new Error('the stored tarball does not match its integrity'));
    this.tag = `"sha512-${digest}"`;
    if (this.held) this.push(this.held);
    callback();
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

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { BoundedCache } from './bounded-cache';

/**
 * Filtered, serialised and compressed packument responses, so a warm packument request costs
 * a map lookup, a stat and a write: no storage read, no JSON work, no policy evaluation.
 *
 * An entry is served only while all of these still hold:
 * - the policy generation it was built under is current (a policy change, here or in another
 *   process through NOTIFY, bumps it);
 * - the package's storage revision (PackageStorage.revision: for the shared directory, the
 *   stored package.json's inode, size, mtime and ctime) is the one it was built from: publish,
 *   unpublish, dist-tag and deprecate all rewrite that file;
 * - the upstream copy it was built from is younger than the uplink's maxage (after that,
 *   Verdaccio must be asked so it refreshes from the upstream);
 * - no decision in it has expired (an approval's expiry).
 * Memory is bounded: least recently used entries are dropped beyond `maxBytes`.
 */

export interface CachedResponse {
  status: number;
  /** The reason phrase of a refusal (its `[CODE] message`); undefined for 200. */
  statusText?: string;
  headers: Record<string, string>;
  /**
   * The uncompressed body; undefined for a body of GZIP_ONLY_MIN_BYTES or more, which is kept
   * compressed only and decompressed on its way to a client that does not accept gzip (every
   * npm, pnpm, yarn and bun request does).
   */
  body?: Buffer;
  /** The uncompressed body's length (its content-length). */
  length: number;
  gzip: Buffer;
  etag: string;
  generation: number;
  revision: string;
  /** When this entry must be rebuilt (upstream maxage, decision expiry). */
  expiresAt: number;
  bytes: number;
  /** For refusals: what to audit each time it is served. */
  blocked?: unknown;
  /** Decisions with warnings (warn-mode rules), audited once each. */
  warned?: unknown[];
  /** Dependencies to warm ahead when a client is first served this response (prefetch.ts); then cleared. */
  warmAhead?: string[];
}

/** Bodies at least this large are cached gzipped only (see CachedResponse.body). */
export const GZIP_ONLY_MIN_BYTES = 1024 * 1024;

export function buildResponse(
  status: number,
  headers: Record<string, string>,
  text: string,
  meta: { generation: number; revision: string; expiresAt: number; statusText?: string; blocked?: unknown; warned?: unknown[]; warmAhead?: string[] },
): CachedResponse {
  const body = Buffer.from(text);
  const gzip = gzipSync(body, { level: 6 });
  // The notice is part of what the client is told: a response whose notice changed (a rule
  // moved to warn) must not be answered 304 from a copy made before.
  const etag = `"${createHash('sha1').update(gzip).update(headers['npm-notice'] ?? '').digest('base64url')}"`;
  const kept = body.length < GZIP_ONLY_MIN_BYTES ? body : undefined;
  // What Verdaccio's CORS middleware sends on the full path: a response served from the cache, before express, carries it too.
  headers = { 'access-control-allow-origin': '*', ...headers };
  return { status, headers, body: kept, length: body.length, gzip, etag, ...meta, bytes: (kept?.length ?? 0) + gzip.length + 512 };
}

export class PackumentCache {
  private readonly entries = new BoundedCache<CachedResponse>(
    (key) => key.slice(0, key.indexOf('\u0000')),
    (entry) => entry.bytes,
  );
  private readonly building = new Map<string, Promise<CachedResponse>>();
  hits = 0;
  misses = 0;

  /** `afterBuild` runs after each build that succeeded (the heap reclaimer's check). */
  constructor(
    private readonly maxBytes: number,
    private readonly afterBuild?: () => void,
  ) {}

  get bytes(): number {
    return this.entries.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The keys of each package (see invalidate). */
  get keys(): BoundedCache<CachedResponse>['keys'] {
    return this.entries.keys;
  }

  /** The entry if it is still valid for this generation, revision and time. */
  lookup(key: string, generation: number, revision: string, now: number, countMiss = true): CachedResponse | undefined {
    // One lookup for a hit: an entry that turns out stale is dropped right after it is counted as used.
    const entry = this.entries.use(key);
    if (!entry) {
      if (countMiss) this.misses++;
      return undefined;
    }
    if (entry.generation !== generation || entry.revision !== revision || entry.expiresAt <= now) {
      this.entries.remove(key);
      if (countMiss) this.misses++;
      return undefined;
    }
    this.hits++;
    return entry;
  }

  /** One build per key at a time; concurrent misses share it. */
  build(key: string, make: () => Promise<CachedResponse>): Promise<CachedResponse> {
    const pending = this.building.get(key);
    if (pending) return pending;
    const promise = make()
      .then((entry) => {
        this.store(key, entry);
        this.afterBuild?.();
        return entry;
      })
      .finally(() => this.building.delete(key));
    this.building.set(key, promise);
    return promise;
  }

  private store(key: string, entry: CachedResponse): void {
    if (entry.bytes > this.maxBytes) return;
    this.entries.put(key, entry, this.maxBytes);
  }

  stats(): { entries: number; bytes: number; maxBytes: number; hits: number; misses: number } {
    return { entries: this.entries.size, bytes: this.entries.bytes, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses };
  }

  private readonly invalidationListeners: Array<(name: string) => void> = [];

  /** Called whenever a package's entries are dropped (a write, new advisories, a fetched tarball). */
  onInvalidate(listener: (name: string) => void): void {
    this.invalidationListeners.push(listener);
  }

  /** Drops every entry of a package (all hosts and forms). */
  invalidate(name: string): void {
    this.entries.invalidate(name);
    for (const listener of this.invalidationListeners) listener(name);
  }
}

/** The audience (developer or admin) is part of the key: a refusal's next step depends on it. */
export function cacheKey(name: string, abbreviated: boolean, origin: string, audience: 'developer' | 'admin' = 'developer'): string {
  return `${name}\u0000${abbreviated ? 'a' : 'f'}\u0000${origin}\u0000${audience}`;
}

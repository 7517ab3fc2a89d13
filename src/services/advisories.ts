import { Advisory, fromBulk, fromOsv, mergeSameKey, PackageAdvisories } from '../core/advisory';
import { createHash } from 'node:crypto';
import semver from 'semver';
import { GatekeeperError } from '../core/errors';
import { sanitizeText } from '../core/text';
import { assertPackageName, assertRange } from '../core/names';
import { isPrivateName } from '../core/publish';
import type { Store } from '../db/store';
import { UpstreamClient } from '../upstream/client';
import { Actor, auditEntry } from './audit';
import { Batcher } from './batcher';
import { NameIndex } from './name-index';
import type { JobDefinition } from './jobs';
import type { PolicyCache } from './policy-cache';

/** Asks the upstream's bulk advisory endpoint (the one `npm audit` uses) about versions. */
export interface AdvisorySource {
  bulk(query: Record<string, string[]>): Promise<Record<string, unknown[]>>;
}

/**
 * The upstream's bulk advisory endpoint through the upstream client (its deadline, size limit
 * and error codes). Given a registry URL instead of a client (the older call), it makes a
 * client with a 5 s deadline and an 8 MiB answer limit.
 */
export function upstreamAdvisorySource(upstream: Pick<UpstreamClient, 'advisoriesBulk'> | string, timeoutMs = 5000): AdvisorySource {
  const client = typeof upstream === 'string' ? new UpstreamClient({ registry: upstream, timeoutMs, maxBytes: 8 * 1024 * 1024 }) : upstream;
  return {
    bulk: (query) => client.advisoriesBulk(query),
  };
}

/**
 * The advisory feed as the only source (GATEKEEPER_ADVISORY_SOURCE=feed): no package is asked
 * about; what the feed, imports, syncs and flags stored is what is known, and it counts as
 * fresh while the feed was read successfully (by any instance) within `freshForMs`.
 */
export interface FeedSource {
  /** When the feed was last read successfully (ms since the epoch), or null: never. */
  syncedAt(): number | null;
  freshForMs: number;
}

const isFeed = (source: AdvisorySource | FeedSource): source is FeedSource => 'syncedAt' in source;

/** Packages asked about in one bulk request. */
const BULK_BATCH = 100;
/** How long check times written behind wait for others (see checksToWrite), and how many may wait. */
const CHECK_WRITE_DELAY_MS = 100;
const CHECK_WRITE_MAX = 1000;

interface Known {
  advisories: Advisory[];
  /** When the upstream last answered for this package. */
  checkedAt: number | null;
}

export interface AdvisoryHealth {
  ok: boolean;
  lastSuccessAt: string | null;
  lastError: string | null;
}

/**
 * The advisories the policy decides with: cached in the database (upstream answers and
 * imported OSV files) and in memory. A package is asked about when it is first served and
 * again once its answer is older than the refresh interval; a background job refreshes the
 * packages served before. When the source cannot be reached, decisions use what is known
 * (and say so), or block unchecked packages if the policy says so.
 */
export class AdvisoryService {
  private readonly memory = new Map<string, Known>();
  private readonly pending = new Map<string, Promise<void>>();
  /**
   * How long prepare() waits for the source (GATEKEEPER_ADVISORY_TIMEOUT); after that the
   * caller decides with what is known, and the answer, when it comes, drops those decisions.
   */
  waitMs = Infinity;
  /**
   * Packages decided without a fresh answer (callers that stopped waiting, or a source that was
   * unreachable): their decisions go once the source answers (those made meanwhile also expire,
   * see UNCHECKED_DECISION_MS).
   */
  private readonly late = new Set<string>();
  /**
   * Packages whose entries in memory may miss a change (the channel reconnected): kept, so a
   * decision made meanwhile uses what was known rather than nothing, and read again before the
   * next one (forgetAll).
   */
  private readonly suspect = new Set<string>();
  /**
   * Reads of a package's entries are applied in the order they started, however they finish: a
   * read writes memory unless one started after it has written already (`written`), and the
   * latest started (`claimed`) is the one that ends a package's suspicion.
   */
  private readonly claimed = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private readSeq = 0;
  /**
   * Every package the database holds entries for (any source; see NameIndex). Loaded once the
   * invalidation channel is connected and again after every reconnect (forgetAll); an
   * announcement adds its package before anything else. A first sight of a package not in it
   * needs no read: it has no entries, and the source is asked as for any unchecked package.
   */
  private readonly withEntries = new NameIndex(() => this.store.repos.advisories.packagesWithEntries());
  /** What the database knows, loaded for many packages at once (concurrent first sights). */
  private readonly loader = new Batcher<string>((names) => this.load(names), 1);
  /** Check times re-read for packages stale in memory (another instance's refresh may have asked since). */
  private readonly checker = new Batcher<string>((names) => this.loadChecks(names), 1);
  /** The versions to ask about, per package waiting for the next bulk request. */
  private readonly asking = new Map<string, string[]>();
  /**
   * Check times of answers that changed nothing, written behind: gathered for CHECK_WRITE_DELAY_MS
   * (an install's first sights, asked in many small bulk requests, share one statement), then
   * written in order, one statement at a time.
   */
  private readonly checksToWrite = new Map<string, string[]>();
  private checkTimer: NodeJS.Timeout | undefined;
  /** How long check times written behind wait for others (CHECK_WRITE_DELAY_MS). */
  checkWriteDelayMs = CHECK_WRITE_DELAY_MS;
  private checksWritten: Promise<void> = Promise.resolve();
  /**
   * Bulk requests for many packages at once, BULK_BATCH per request: a question goes out as soon
   * as it is asked (on a first sight, while Verdaccio stores the packument), and the questions
   * asked while one is out go together in the next.
   */
  private readonly asker = new Batcher<string>((names) => this.askMany(names), 1, true);
  private lastSuccessAt: number | null = null;
  private lastError: string | null = null;
  private readonly changeListeners: Array<(name: string) => void> = [];
  private readonly healthListeners: Array<(health: AdvisoryHealth) => void> = [];
  private readonly storedListeners: Array<(names: string[]) => Promise<unknown>> = [];

  constructor(
    private readonly store: Store,
    private readonly cache: PolicyCache,
    private readonly source: AdvisorySource | FeedSource,
    private readonly refreshMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called when a package's advisories change (decisions and cached responses must go). */
  onChange(listener: (name: string) => void): void {
    this.changeListeners.push(listener);
  }

  /** Called when the source becomes unreachable or reachable again (for the log). */
  onHealthChange(listener: (health: AdvisoryHealth) => void): void {
    this.healthListeners.push(listener);
  }

  private setError(error: string | null): void {
    const was = this.lastError === null;
    this.lastError = error;
    if (was !== (error === null)) for (const listener of this.healthListeners) listener(this.health());
  }

  private changed(name: string): void {
    for (const listener of this.changeListeners) listener(name);
  }

  /**
   * Called after this process stored entries for packages (an import, a sync, the feed, a flag,
   * an override, the upstream's changed answers): impact records are brought up to date.
   */
  onStored(listener: (names: string[]) => Promise<unknown>): void {
    this.storedListeners.push(listener);
  }

  /**
   * Waits until every process listening on the database has handled the announcements made so
   * far (ChannelListener.barrier on the advisory channel); set by the composition root. Each
   * process drops what it decided with a package's old entries when it handles the announcement
   * (announced), so an admin's change answers once no process serves the old decisions.
   */
  barrier: (() => Promise<boolean>) | undefined;

  /** After a change stored and announced here: reloaded here, confirmed everywhere, impact brought up to date. */
  private async propagate(names: string[]): Promise<void> {
    for (const name of names) await this.reload(name);
    await this.barrier?.();
    await this.afterStore(names);
  }

  /**
   * Another process (or this one) announced a change to a package's entries: until they are read
   * again (reload), nothing is decided with the old ones. Synchronous, so that it is done when the
   * listener acknowledges a barrier.
   */
  announced(name: string): void {
    this.withEntries.add(name);
    if (this.memory.has(name)) this.suspect.add(name);
    this.changed(name);
  }

  /** Runs the onStored listeners; a failure is reported to onStoredError, never thrown. */
  private async afterStore(names: string[]): Promise<void> {
    if (names.length === 0) return;
    for (const listener of this.storedListeners) {
      await listener(names).catch((err) => this.onStoredError?.(err, names));
    }
  }

  /** Where a failing onStored listener is reported (the log). */
  onStoredError: ((err: unknown, names: string[]) => void) | undefined;

  /** Where a failing write of check times (after an answer that changed nothing) is reported (the log). */
  onChecksError: ((err: unknown, names: string[]) => void) | undefined;

  /** Whether the source answered the last question (health().ok, without building the object: read per response). */
  get reachable(): boolean {
    return isFeed(this.source) ? this.feedFresh(this.source) : this.lastError === null;
  }

  /** Whether the feed (the only source) was read recently enough. */
  private feedFresh(feed: FeedSource): boolean {
    const at = feed.syncedAt();
    return at !== null && this.now() - at < feed.freshForMs;
  }

  /** Where advisories come from: asked per package of the upstream, or only the feed. */
  get sourceKind(): 'upstream' | 'feed' {
    return isFeed(this.source) ? 'feed' : 'upstream';
  }

  health(): AdvisoryHealth {
    if (isFeed(this.source)) {
      const at = this.source.syncedAt();
      const ok = this.feedFresh(this.source);
      const limit = `${Math.round(this.source.freshForMs / 60_000)} min`;
      return {
        ok,
        lastSuccessAt: at === null ? null : new Date(at).toISOString(),
        lastError: ok ? null : at === null ? 'the advisory feed (the only advisory source) has not been read successfully yet' : `the advisory feed (the only advisory source) was last read more than ${limit} ago`,
      };
    }
    return {
      ok: this.lastError === null,
      lastSuccessAt: this.lastSuccessAt === null ? null : new Date(this.lastSuccessAt).toISOString(),
      lastError: this.lastError,
    };
  }

  private applies(name: string): boolean {
    const policy = this.cache.current();
    return (policy.rules.advisories.mode !== 'off' || policy.rules.malware.mode !== 'off') && !isPrivateName(policy.publishRules, name);
  }

  /** What is known for a package, for a decision; undefined when the rule does not apply. */
  known(name: string): PackageAdvisories | undefined {
    if (!this.applies(name)) return undefined;
    const entry = this.memory.get(name);
    const known = this.statusOf(entry);
    // The feed's packages are decided again as their decisions expire (UNCHECKED_DECISION_MS).
    if (known.status !== 'fresh' && !isFeed(this.source)) this.late.add(name);
    return known;
  }

  private statusOf(entry: Known | undefined): PackageAdvisories {
    if (!entry) return { advisories: [], status: 'unchecked' };
    if (isFeed(this.source)) {
      // What is stored is all there is; its age is the feed's.
      if (this.source.syncedAt() === null) return { advisories: entry.advisories, status: 'unchecked' };
      return { advisories: entry.advisories, status: this.feedFresh(this.source) ? 'fresh' : 'stale' };
    }
    const fresh = entry.checkedAt !== null && this.now() - entry.checkedAt < this.refreshMs;
    return { advisories: entry.advisories, status: fresh ? 'fresh' : entry.checkedAt === null ? 'unchecked' : 'stale' };
  }

  /** Starts a read of these packages' entries (see settle). */
  private claim(names: readonly string[]): number {
    const seq = ++this.readSeq;
    for (const name of names) this.claimed.set(name, seq);
    return seq;
  }

  /**
   * Writes a package's entries read by claim `seq`: 'older' (not written) when a read started
   * later has written already; 'latest' when no read started after it; 'written' otherwise (a
   * later read is still out, and will write when it lands).
   */
  private settle(name: string, seq: number, entry: Known): 'older' | 'written' | 'latest' {
    if ((this.written.get(name) ?? 0) > seq) return 'older';
    this.written.set(name, seq);
    this.memory.set(name, entry);
    if (this.claimed.get(name) !== seq) return 'written';
    this.claimed.delete(name);
    return 'latest';
  }

  private isFresh(checkedAt: number | null | undefined): boolean {
    return checkedAt !== undefined && checkedAt !== null && this.now() - checkedAt < this.refreshMs;
  }

  /** Makes sure a package's advisories are loaded and, when due, asked again. Never throws on source errors. */
  prepare(name: string, versions: readonly string[]): Promise<void> {
    return this.prepareMany([{ name, versions }]);
  }

  /**
   * Starts the question about a package as soon as its upstream document has been read (by the
   * upstream gateway), while Verdaccio is still storing it: the request that reads it then finds
   * the answer, or joins the question in flight. Fresh packages are not asked again; errors are
   * left to prepare(), which reports them.
   */
  prefetch(name: string, versions: readonly string[]): void {
    this.prepareMany([{ name, versions }]).catch(() => undefined);
  }

  /**
   * Loads what the database knows about a package, without asking the source: started
   * alongside the packument's fetch on a first sight, so prepare() finds it in memory.
   * Errors are left to prepare(), which loads again and reports them.
   */
  preload(name: string): void {
    try {
      if (!this.applies(name) || this.memory.has(name)) return;
    } catch {
      return;
    }
    this.loader.add([name]).catch(() => undefined);
  }

  /**
   * The same for many packages at once (a lockfile, or the packages concurrent requests see
   * for the first time): the database is read with one query per kind, the upstream asked with
   * one bulk request per BULK_BATCH packages, and neither waited for longer than `waitMs`.
   */
  async prepareMany(packages: ReadonlyArray<{ name: string; versions: readonly string[] }>): Promise<void> {
    const suspect = packages.filter((p) => this.suspect.has(p.name)).map((p) => p.name);
    if (suspect.length > 0) await this.loader.add(suspect);
    if (isFeed(this.source)) {
      // Nothing to ask: what the database holds (read only for packages the index names) is all.
      const toRead = this.withoutEntries(packages.filter((p) => this.applies(p.name)).map((p) => p.name));
      if (toRead.length > 0) await this.loader.add(toRead);
      return;
    }
    const relevant = packages.filter((p) => this.applies(p.name) && !this.isFresh(this.memory.get(p.name)?.checkedAt));
    if (relevant.length === 0) return;
    const unknown = relevant.filter((p) => !this.memory.has(p.name)).map((p) => p.name);
    const toRead = this.withoutEntries(unknown);
    if (toRead.length > 0) await this.loader.add(toRead);
    // Known here but stale: the refresh job (on whichever instance claimed it) may have asked since;
    // what its answer changed was announced and reloaded, so only the check time is read (one query per batch).
    // Never checked (just loaded, or the last question failed) or being asked right now: nothing to re-read.
    const loaded = new Set(unknown);
    const stale = relevant
      .filter((p) => !loaded.has(p.name) && !this.pending.has(p.name) && typeof this.memory.get(p.name)?.checkedAt === 'number' && !this.isFresh(this.memory.get(p.name)?.checkedAt))
      .map((p) => p.name);
    if (stale.length > 0) await this.checker.add(stale).catch(() => undefined); // unread: the source is asked, as before
    const waiting: Promise<void>[] = [];
    const todo: Array<{ name: string; versions: string[] }> = [];
    for (const p of relevant) {
      if (this.isFresh(this.memory.get(p.name)?.checkedAt)) continue;
      const running = this.pending.get(p.name);
      if (running) waiting.push(running);
      else todo.push({ name: p.name, versions: [...p.versions] });
    }
    if (todo.length > 0) {
      for (const p of todo) this.asking.set(p.name, p.versions);
      const work = this.asker.add(todo.map((p) => p.name));
      for (const p of todo) this.pending.set(p.name, work);
      waiting.push(
        work.finally(() => {
          for (const p of todo) if (this.pending.get(p.name) === work) this.pending.delete(p.name);
        }),
      );
    }
    if (waiting.length === 0) return;
    const all = Promise.all(waiting);
    if (!Number.isFinite(this.waitMs)) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([all.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, this.waitMs))))]).finally(() =>
      clearTimeout(timer),
    );
    if (!answered) {
      // Decided now with what is known; the answer, when it comes, replaces those decisions.
      all.catch(() => undefined);
      // What is known includes a check another process made (taken as never checked when the
      // index said the database holds no entries): read, as when the source fails.
      const unread = relevant.filter((p) => this.memory.get(p.name)?.checkedAt === null).map((p) => p.name);
      if (unread.length > 0) await this.loadChecks(unread).catch(() => undefined);
      for (const p of relevant) if (!this.isFresh(this.memory.get(p.name)?.checkedAt)) this.late.add(p.name);
    }
  }

  /**
   * Loads the names of the packages the database holds entries for. Call it once the
   * invalidation channel listens (so no announcement made after the read is missed); forgetAll
   * drops it, and it must be loaded again.
   */
  loadIndex(): Promise<void> {
    return this.withEntries.load();
  }

  /** Whether the names index is loaded (until it is, first sights read the database). */
  get indexed(): boolean {
    return this.withEntries.loaded;
  }

  /**
   * Takes the packages the database holds no entries for (the index says so) as known, with
   * nothing and never checked, and returns the others, which must be read. No read, and no
   * wait for one: a first sight's question goes out at once.
   */
  private withoutEntries(names: string[]): string[] {
    const toRead: string[] = [];
    for (const name of names) {
      if (this.suspect.has(name)) toRead.push(name);
      else if (this.memory.has(name)) continue;
      else if (this.withEntries.mayHave(name)) toRead.push(name);
      else this.memory.set(name, { advisories: [], checkedAt: null });
    }
    return toRead;
  }

  /** Loads what the database holds for packages not in memory yet (one query per kind). */
  private async load(names: string[]): Promise<void> {
    const unknown = this.withoutEntries(names);
    if (unknown.length === 0) return;
    const repo = this.store.repos.advisories;
    const seq = this.claim(unknown);
    const [stored, checked] = await Promise.all([repo.listMany(unknown), repo.checkedAt(unknown)]);
    for (const name of unknown) {
      const wasSuspect = this.suspect.has(name);
      if (!wasSuspect && this.memory.has(name)) continue;
      const checkedAt = checked.get(name)?.getTime() ?? this.memory.get(name)?.checkedAt ?? null;
      const settled = this.settle(name, seq, { advisories: stored.get(name) ?? [], checkedAt });
      if (settled === 'older') continue;
      if (settled === 'latest') this.suspect.delete(name);
      // Decisions made with the entries kept through the reconnect go.
      if (wasSuspect) this.changed(name);
    }
  }

  /**
   * Takes a later check time from the database for packages in memory (the advisories stay:
   * changes reach memory through announcements, never by a read that could miss one).
   */
  private async loadChecks(names: string[]): Promise<void> {
    const checked = await this.store.repos.advisories.checkedAt(names);
    for (const name of names) {
      const entry = this.memory.get(name);
      const at = checked.get(name)?.getTime();
      if (entry && at !== undefined && (entry.checkedAt === null || at > entry.checkedAt)) entry.checkedAt = at;
    }
  }

  /** Asks about the packages queued in `asking`, BULK_BATCH per bulk request, the requests concurrent. */
  private async askMany(names: string[]): Promise<void> {
    const batch: Array<{ name: string; versions: string[] }> = [];
    for (const name of names) {
      const versions = this.asking.get(name);
      this.asking.delete(name);
      if (versions && !this.isFresh(this.memory.get(name)?.checkedAt)) batch.push({ name, versions });
    }
    const parts: Array<Array<{ name: string; versions: string[] }>> = [];
    for (let i = 0; i < batch.length; i += BULK_BATCH) parts.push(batch.slice(i, i + BULK_BATCH));
    await Promise.all(parts.map((part) => this.ask(part)));
  }

  private async ask(batch: Array<{ name: string; versions: string[] }>): Promise<void> {
    const repo = this.store.repos.advisories;
    let answer: Record<string, unknown[]>;
    const source = this.source;
    if (isFeed(source)) return; // never asked per package (prepareMany returns before)
    try {
      answer = await source.bulk(Object.fromEntries(batch.map((p) => [p.name, p.versions])));
    } catch (err) {
      const error = `${(err as Error).message}`;
      this.setError(error);
      // A package loaded without reading its check time (the index says it has no entries) may
      // have been answered before (another process, an earlier start): that answer is what is
      // known, as it would have been had the check time been read (stale: warned, not blocked).
      const unread = batch.filter((p) => this.memory.get(p.name)?.checkedAt === null).map((p) => p.name);
      if (unread.length > 0) await this.loadChecks(unread).catch(() => undefined);
      await repo.saveChecks(batch.map((p) => ({ package: p.name, versions: p.versions, ok: false, error }))).catch(() => undefined);
      return;
    }
    this.lastSuccessAt = this.now();
    this.setError(null);
    // Own properties only: a package named `constructor` must not read the prototype's.
    const entriesOf = (name: string): unknown[] => (Object.hasOwn(answer, name) && Array.isArray(answer[name]) ? answer[name] : []);
    const fresh = batch.flatMap((p) => entriesOf(p.name).map((a) => fromBulk(p.name, a)).filter((a): a is Advisory => a !== undefined));
    if (fresh.length === 0 && batch.every((p) => this.memory.get(p.name)?.advisories.every((a) => a.source !== 'upstream'))) {
      // The usual first sight: the upstream knows nothing and held nothing, so no entry changes.
      // Waiters are released now; the check times are written after (one statement, no
      // transaction): a lost write only means these packages are asked again sooner.
      for (const p of batch) {
        const entry = this.memory.get(p.name);
        if (entry) this.memory.set(p.name, { advisories: entry.advisories, checkedAt: this.now() });
        if (this.late.delete(p.name)) this.changed(p.name);
      }
      for (const p of batch) this.checksToWrite.set(p.name, p.versions);
      if (this.checksToWrite.size >= CHECK_WRITE_MAX) void this.flushChecks();
      else if (!this.checkTimer) {
        this.checkTimer = setTimeout(() => void this.flushChecks(), this.checkWriteDelayMs);
        this.checkTimer.unref();
      }
      return;
    }
    let all = new Map<string, Advisory[]>();
    const differ: string[] = [];
    let seq = 0;
    await this.store
      .transaction(async (repos) => {
        await repos.advisories.replaceMany(
          batch.map((p) => p.name),
          'upstream',
          fresh,
        );
        await repos.advisories.saveChecks(batch.map((p) => ({ package: p.name, versions: p.versions, ok: true, error: null })));
        // Read back: the package's other sources' entries and overrides are merged in the database.
        seq = this.claim(batch.map((p) => p.name));
        all = await repos.advisories.listMany(batch.map((p) => p.name));
        differ.length = 0;
        for (const p of batch) if (JSON.stringify(this.memory.get(p.name)?.advisories ?? []) !== JSON.stringify(all.get(p.name) ?? [])) differ.push(p.name);
        // The other processes hold these packages' entries, decisions and cached responses too, and
        // (with the refresh a job on one of them) do not ask for themselves: tell them at commit.
        await repos.advisories.announce(differ);
      })
      .catch((err: unknown) => {
        // The source answered; what it said could not be stored. Shown in /health, and the
        // packages' callers are refused (they wait for this answer) until it can be.
        this.setError(`the upstream's advisories could not be stored: ${sanitizeText((err as Error)?.message ?? String(err), 300)}`);
        throw err;
      });
    for (const p of batch) {
      const settled = this.settle(p.name, seq, { advisories: all.get(p.name) ?? [], checkedAt: this.now() });
      if (settled === 'older') {
        // A read started after this one (an announcement's reload) wrote newer entries already.
        const entry = this.memory.get(p.name);
        if (entry) this.memory.set(p.name, { advisories: entry.advisories, checkedAt: this.now() });
      }
      if (settled === 'latest') this.suspect.delete(p.name);
      const waitedFor = this.late.delete(p.name);
      if (differ.includes(p.name) || waitedFor) this.changed(p.name);
    }
    // Impact records in the background: the request that asked does not wait for them.
    void this.afterStore(differ);
  }

  /**
   * Writes the check times waiting in checksToWrite (one statement, after any still being
   * written); a failure is reported to onChecksError, never thrown. Called by the timer, and at
   * shutdown so none is lost.
   */
  flushChecks(): Promise<void> {
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
    if (this.checksToWrite.size === 0) return this.checksWritten;
    const checks = [...this.checksToWrite].map(([name, versions]) => ({ package: name, versions, ok: true, error: null }));
    this.checksToWrite.clear();
    this.checksWritten = this.checksWritten.then(() =>
      this.store.repos.advisories.saveChecks(checks).catch((err) => this.onChecksError?.(err, checks.map((c) => c.package))),
    );
    return this.checksWritten;
  }

  /** Refreshes packages whose answer is older than the interval, a batch at a time. */
  async refreshDue(batch = 50): Promise<number> {
    if (isFeed(this.source)) return 0; // nothing is asked per package
    const due = await this.store.repos.advisories.due(new Date(this.now() - this.refreshMs), batch);
    for (const check of due) {
      // Made stale (so asked again below), never forgotten: a decision made meanwhile by a request
      // that prepared before this refresh still sees the package's entries, not none at all.
      const entry = this.memory.get(check.package);
      if (entry && entry.checkedAt !== null) entry.checkedAt = Math.min(entry.checkedAt, this.now() - this.refreshMs);
    }
    await this.prepareMany(due.map((c) => ({ name: c.package, versions: c.versions })));
    return due.length;
  }

  /**
   * The background job that refreshes the packages served before (job 'advisories.refresh',
   * run by the JobRunner once per interval across every gatekeeper on the database): due
   * every quarter of the refresh interval (1 s to 15 min), it refreshes batches of packages
   * whose answer is older than the refresh interval until none is left (at most 20 batches a run).
   */
  refreshJob(): JobDefinition {
    const batch = 50;
    return {
      name: 'advisories.refresh',
      intervalMs: Math.max(1000, Math.min(this.refreshMs / 4, 15 * 60_000)),
      run: async (signal) => {
        try {
          for (let i = 0; i < 20 && !signal.aborted; i++) {
            if ((await this.refreshDue(batch)) < batch) break;
          }
        } catch (err) {
          this.setError((err as Error).message);
          throw err;
        }
      },
    };
  }

  /** Imports OSV advisories (offline); they apply at once. */
  async importOsv(actor: Actor, document: unknown): Promise<{ imported: number; packages: string[] }> {
    let advisories: Advisory[];
    try {
      advisories = fromOsv(document);
    } catch (err) {
      throw err instanceof GatekeeperError ? err : new GatekeeperError('EVALIDATION', `not an OSV document: ${(err as Error).message}`);
    }
    if (advisories.length === 0) throw new GatekeeperError('EVALIDATION', 'the document has no advisory for an npm package. Import OSV advisories whose affected packages are in the npm ecosystem');
    return this.importAdvisories(actor, advisories);
  }

  /**
   * Stores advisories as an import does: upserted, audited (advisory.import, with `details`),
   * announced to every process in the same transaction, reloaded here, impact brought up to date.
   */
  private async importAdvisories(actor: Actor, advisories: Advisory[], details: Record<string, unknown> = {}): Promise<{ imported: number; packages: string[] }> {
    const packages = [...new Set(advisories.map((a) => a.name))];
    // A bulk import (a feed, an admin's file) may rightly take longer than a request's deadline.
    await this.store.longTransaction(async (repos) => {
      await repos.advisories.upsert(advisories);
      await repos.audit.saveMany(
        advisories.map((a) =>
          auditEntry(actor, 'advisory.import', {
            package: a.name,
            details: { id: a.id, severity: a.severity, vulnerableVersions: a.vulnerableVersions, ...details, ...(a.malware ? { malware: true } : {}), ...(a.withdrawnAt ? { withdrawnAt: a.withdrawnAt } : {}) },
          }),
        ),
      );
      await repos.advisories.announce(packages);
    });
    await this.propagate(packages);
    return { imported: advisories.length, packages };
  }

  /**
   * Imports a feed's OSV document (one or an array) like `advisories import`, but only the
   * entries that are new or differ from what is stored (severity, range, title, fixes, malware,
   * withdrawn): a feed fetched every interval does not import, audit and announce the same
   * entries again. Entries that are not OSV are skipped and counted.
   */
  async importFeed(actor: Actor, document: unknown, url: string): Promise<{ entries: number; imported: number; skipped: number; packages: string[] }> {
    const docs = Array.isArray(document) ? document : [document];
    const advisories: Advisory[] = [];
    let skipped = 0;
    for (const doc of docs) {
      try {
        advisories.push(...fromOsv(doc));
      } catch {
        skipped++;
      }
    }
    const stored = await this.store.repos.advisories.listMany([...new Set(advisories.map((a) => a.name))]);
    const same = (a: Advisory, b: Advisory | undefined) =>
      b !== undefined &&
      a.id === b.id &&
      a.title === b.title &&
      a.url === b.url &&
      a.severity === b.severity &&
      a.vulnerableVersions === b.vulnerableVersions &&
      JSON.stringify(a.fixedIn) === JSON.stringify(b.fixedIn) &&
      (a.malware === true) === (b.malware === true) &&
      (a.withdrawnAt ? Date.parse(a.withdrawnAt) : null) === (b.withdrawnAt ? Date.parse(b.withdrawnAt) : null);
    const storedByKey = new Map<string, Advisory>();
    for (const list of stored.values()) for (const b of list) storedByKey.set(`${b.name} ${b.key}`, b);
    // Compared as they would be stored: a package named in two `affected` entries is one row.
    const changed = mergeSameKey(advisories).filter((a) => !same(a, storedByKey.get(`${a.name} ${a.key}`)));
    if (changed.length === 0) return { entries: advisories.length, imported: 0, skipped, packages: [] };
    const result = await this.importAdvisories(actor, changed, { feed: url });
    return { entries: advisories.length, imported: result.imported, skipped, packages: result.packages };
  }

  /**
   * Reads a package's advisories from the database again and drops its decisions and cached
   * responses: after a change here, or announced by another process (ADVISORY_CHANNEL).
   */
  async reload(name: string): Promise<void> {
    this.withEntries.add(name);
    const repo = this.store.repos.advisories;
    const seq = this.claim([name]);
    const [stored, checked] = await Promise.all([repo.list(name), repo.checkedAt([name])]);
    // When the source was last asked (by any process): an answer another process just stored is not asked for again here.
    const checkedAt = checked.get(name)?.getTime() ?? this.memory.get(name)?.checkedAt ?? null;
    // A read started later (another announcement's) wrote already: it told.
    const settled = this.settle(name, seq, { advisories: stored, checkedAt });
    if (settled === 'older') return;
    if (settled === 'latest') this.suspect.delete(name);
    this.changed(name);
  }

  /**
   * The channel reconnected: a change may have been missed. Every package's entries are read
   * again (now, and before any later decision about it); until then a decision uses what was
   * known, never nothing, and the decisions made meanwhile go when the read lands. The names
   * index is loaded again too.
   */
  forgetAll(): void {
    const names = [...this.memory.keys()];
    this.withEntries.forget();
    for (const name of names) this.suspect.add(name);
    // One read (a query per kind) for all of them; a failed read leaves them suspect, and the
    // next request about one reads it first.
    if (names.length > 0) this.loader.add(names).catch(() => undefined);
    for (const name of names) this.changed(name);
  }

  /**
   * An admin flags a package (or a range of it) as malware by hand: an entry of source
   * `manual` that the malware rule enforces like a MAL- entry. Audited as advisory.flag.
   */
  async flag(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown }): Promise<Advisory> {
    const name = assertPackageName(input.name);
    const range = input.range === undefined || input.range === null || input.range === '' ? '*' : assertRange(input.range);
    if (semver.validRange(range) === null) throw new GatekeeperError('EINVALIDRANGE', `'${range}' is not a semver range. Give a range such as 1.2.3 or >=1.0.0 <1.4.0`);
    const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
    if (!reason || reason.length > 2000) throw new GatekeeperError('EVALIDATION', 'a malware flag needs a reason (at most 2000 characters). Say why the package is malicious');
    const id = `MANUAL-${createHash('sha256').update(`${name}@${range}`).digest('hex').slice(0, 12)}`;
    const advisory: Advisory = { key: `manual:${id}`, name, id, title: reason, url: null, severity: 'critical', vulnerableVersions: range, fixedIn: [], source: 'manual', malware: true };
    await this.store.transaction(async (repos) => {
      await repos.advisories.upsert([advisory]);
      await repos.audit.save(auditEntry(actor, 'advisory.flag', { package: name, ruleId: `malware:${id}`, details: { id, range, flagReason: reason } }));
      await repos.advisories.announce([name]);
    });
    await this.propagate([name]);
    return advisory;
  }

  /**
   * An admin overrides one entry of a package (a false positive): it then blocks nothing, and
   * explain says who overrode it and why. Audited as advisory.override; `remove` undoes it.
   */
  async override(actor: Actor, input: { name?: unknown; id?: unknown; reason?: unknown; remove?: boolean }): Promise<Advisory> {
    const name = assertPackageName(input.name);
    const id = typeof input.id === 'string' ? input.id.trim() : '';
    if (!id) throw new GatekeeperError('EVALIDATION', "an override needs the entry's id. See them with 'gatekeeper advisories list <name>'");
    const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
    if (!input.remove && (!reason || reason.length > 2000)) throw new GatekeeperError('EVALIDATION', 'an override needs a reason (at most 2000 characters). Say why the entry is a false positive');
    // An id shown by several entries (one advisory from several sources) names them all: overriding one would leave the version blocked by the other.
    const entries = await this.store.repos.advisories.findAll(name, id);
    if (entries.length === 0) throw new GatekeeperError('ENOTFOUND', `${name} has no advisory ${id}. See its entries with 'gatekeeper advisories list ${name}'`);
    const [entry] = entries;
    await this.store.transaction(async (repos) => {
      let changedAny = false;
      for (const one of entries) {
        const changed = input.remove ? await repos.advisories.removeOverride(name, one.key) : await repos.advisories.saveOverride({ package: name, key: one.key, reason, createdBy: actor.username });
        if (!changed) continue;
        changedAny = true;
        await repos.audit.save(auditEntry(actor, input.remove ? 'advisory.unoverride' : 'advisory.override', { package: name, ruleId: `${one.malware ? 'malware' : 'advisory'}:${one.id}`, details: { id: one.id, key: one.key, ...(input.remove ? {} : { overrideReason: reason }) } }));
      }
      if (!changedAny) throw new GatekeeperError(input.remove ? 'ENOTFOUND' : 'ECONFLICT', input.remove ? `${entry.id} of ${name} is not overridden. Nothing to undo` : `${entry.id} of ${name} is overridden already. Undo it first to change the reason`);
      await repos.advisories.announce([name]);
    });
    await this.propagate([name]);
    return (await this.store.repos.advisories.find(name, entry.key)) as Advisory;
  }

  /**
   * What `gatekeeper advisories sync <dir>` read before under `root` (the directory's absolute
   * path): each file's path relative to it and its modification time. The CLI reads only files
   * that are new or whose time changed.
   */
  async syncState(rootInput: unknown): Promise<{ root: string; files: Record<string, number> }> {
    const root = syncRoot(rootInput);
    const stored = await this.store.repos.advisories.syncedFiles(`${root}/`);
    const files: Record<string, number> = {};
    for (const [p, mtime] of stored) files[p.slice(root.length + 1)] = mtime;
    return { root, files };
  }

  /**
   * Imports the OSV files a sync read (new or changed since the last sync) and records their
   * modification times, in one transaction; a file that is not OSV is reported and not recorded,
   * so the next sync tries it again. Audited per advisory (advisory.import, with the file).
   */
  async syncFiles(actor: Actor, input: { root?: unknown; files?: unknown }): Promise<{ files: number; imported: number; packages: string[]; skipped: Array<{ path: string; error: string }> }> {
    const root = syncRoot(input.root);
    if (!Array.isArray(input.files) || input.files.length > 5000) throw new GatekeeperError('EVALIDATION', 'files must be a list of at most 5000 {path, mtimeMs, document}. Send the directory in batches');
    const advisories: Array<{ advisory: Advisory; file: string }> = [];
    const recorded: Array<{ path: string; mtimeMs: number }> = [];
    const skipped: Array<{ path: string; error: string }> = [];
    for (const [i, raw] of (input.files as unknown[]).entries()) {
      const f = raw as { path?: unknown; mtimeMs?: unknown; document?: unknown };
      if (!f || typeof f !== 'object' || typeof f.path !== 'string' || f.path === '' || f.path.length > 4096 || f.path.startsWith('/') || f.path.split('/').includes('..')) {
        throw new GatekeeperError('EVALIDATION', `files[${i}].path must be a path relative to the directory. Send each file's path below it`);
      }
      if (typeof f.mtimeMs !== 'number' || !Number.isFinite(f.mtimeMs) || f.mtimeMs < 0) throw new GatekeeperError('EVALIDATION', `files[${i}].mtimeMs must be a modification time in milliseconds`);
      try {
        for (const advisory of fromOsv(f.document)) advisories.push({ advisory, file: f.path });
        recorded.push({ path: `${root}/${f.path}`, mtimeMs: f.mtimeMs });
      } catch (err) {
        skipped.push({ path: f.path, error: (err as Error).message });
      }
    }
    const packages = [...new Set(advisories.map((a) => a.advisory.name))];
    await this.store.longTransaction(async (repos) => {
      await repos.advisories.upsert(advisories.map((a) => a.advisory));
      await repos.audit.saveMany(
        advisories.map(({ advisory: a, file }) =>
          auditEntry(actor, 'advisory.import', {
            package: a.name,
            details: { id: a.id, severity: a.severity, vulnerableVersions: a.vulnerableVersions, file, ...(a.malware ? { malware: true } : {}), ...(a.withdrawnAt ? { withdrawnAt: a.withdrawnAt } : {}) },
          }),
        ),
      );
      await repos.advisories.saveSyncedFiles(recorded);
      await repos.advisories.announce(packages);
    });
    await this.propagate(packages);
    return { files: recorded.length, imported: advisories.length, packages, skipped };
  }

  /** Every stored advisory (upstream answers and OSV imports) of these packages, for audit. */
  forAudit(names: readonly string[]): Promise<Map<string, Advisory[]>> {
    return names.length === 0 ? Promise.resolve(new Map()) : this.store.repos.advisories.listMany(names);
  }

  /** One package's entries (its name validated before the query: 400 EINVALIDNAME), or the first 1000 of all. */
  async list(name?: string): Promise<Advisory[]> {
    return name ? this.store.repos.advisories.list(assertPackageName(name)) : this.store.repos.advisories.listAll(1000);
  }
}

/** A sync's directory: an absolute path, without a trailing slash. */
function syncRoot(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 4096 || /[\u0000-\u001f]/.test(value)) {
    throw new GatekeeperError('EVALIDATION', "root must be the directory's absolute path. Run gatekeeper advisories sync <dir>");
  }
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}

import type { Principal } from './identity';

/** What the cache needs of the LISTEN connection (src/db/listener.ts). */
export interface InvalidationChannel {
  readonly connected: boolean;
  on(event: 'connected' | 'disconnected', listener: () => void): unknown;
  on(event: 'message', listener: (channel: string, payload: string) => void): unknown;
  barrier(channel: string, timeoutMs: number): Promise<boolean>;
  /** How long a barrier waits: past it, a listener that has not confirmed no longer trusts its caches. */
  readonly confirmWithinMs: number;
}

export interface TokenCacheOptions {
  /** The LISTEN connection; the cache is trusted only while it is connected. */
  listener: InvalidationChannel;
  /** The channel token and user changes are announced on (IDENTITY_CHANNEL). */
  channel: string;
  maxEntries?: number;
  /** How long an entry is used at most, even when no change is announced. */
  maxAgeMs?: number;
  /**
   * How long a revocation waits for the other processes to confirm they dropped their entries;
   * by default the listener's confirmWithinMs, after which one that has not confirmed no longer
   * trusts its cache (so the revocation holds everywhere once it answers, as a policy change does).
   */
  barrierMs?: number;
  now?: () => number;
}

interface Entry {
  principal: Principal;
  at: number;
}

/**
 * Bearer tokens resolved to their principal, in process memory: token hash -> principal.
 *
 * It keeps the promise of the per-request database lookup it replaces: a revoked token, or a
 * token of a disabled user, is refused on its next request in every process. Every change that
 * can end or narrow a token (a revocation; a user disabled, enabled or given another role) is
 * announced with NOTIFY on the identity channel in the transaction that makes it
 * (src/db/repositories/identity-channel.ts), and any announcement empties the cache. Like the
 * policy cache it is trusted only while the LISTEN connection is up: while it is down nothing
 * is served from it (every request asks the database), and every (re)connect empties it,
 * since announcements made while nobody listened are lost.
 *
 * A lookup that races with a change cannot put back what the change removed: an entry is
 * stored only if no announcement, disconnect or reconnect happened since its lookup began (the
 * epoch). Only valid tokens are cached; an unknown or revoked token asks the database each
 * time, as before.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private epoch = 0;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly barrierMs: number | undefined;
  private readonly now: () => number;
  hits = 0;
  misses = 0;

  constructor(private readonly options: TokenCacheOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.barrierMs = options.barrierMs;
    this.now = options.now ?? Date.now;
    options.listener.on('connected', () => this.reset());
    options.listener.on('disconnected', () => this.reset());
    options.listener.on('message', (channel: string) => {
      if (channel === options.channel) this.reset();
    });
  }

  /** Whether entries may be used now: only while the invalidation channel is connected. */
  get trusted(): boolean {
    return this.options.listener.connected;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached principal of a token hash, or undefined (not cached, too old, or not trusted). */
  get(tokenHash: string): Principal | undefined {
    if (!this.options.listener.connected) return undefined;
    const entry = this.entries.get(tokenHash);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    if (this.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(tokenHash);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.principal;
  }

  /** Taken before the database lookup; `put` stores only if nothing changed since. */
  ticket(): number | undefined {
    return this.options.listener.connected ? this.epoch : undefined;
  }

  put(tokenHash: string, principal: Principal, ticket: number | undefined): void {
    if (ticket === undefined || ticket !== this.epoch || !this.options.listener.connected) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(tokenHash)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(tokenHash, { principal: Object.freeze({ ...principal }), at: this.now() });
  }

  /** Forgets everything; lookups in flight will not store their answers. */
  reset(): void {
    this.epoch++;
    this.entries.clear();
  }

  /**
   * After this process committed a change (its NOTIFY included): forgets everything here at
   * once, then waits until every listening process has handled the announcement (or
   * `barrierMs` passed). Resolves with whether every process confirmed in time.
   */
  async invalidated(): Promise<boolean> {
    this.reset();
    return this.options.listener.barrier(this.options.channel, this.barrierMs ?? this.options.listener.confirmWithinMs);
  }

  stats(): { entries: number; trusted: boolean; hits: number; misses: number } {
    return { entries: this.entries.size, trusted: this.trusted, hits: this.hits, misses: this.misses };
  }
}

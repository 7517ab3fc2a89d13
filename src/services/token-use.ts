import type { Store } from '../db/store';
import type { PeriodicJob } from './periodic';

/**
 * When each token was last used (`tokens.last_used_at`, which `npm token list`, `gatekeeper
 * token list` and the console show), written behind: a request only notes its token in
 * memory, and one statement a minute writes what was noted since. Reads with a token stay
 * free of database writes. A failed write is not retried (the next use notes the token again);
 * the job's error shows in /health. At most `maxPending` tokens wait; more are dropped until
 * the next write.
 */
export class TokenUse {
  private readonly pending = new Map<number, number>();
  private readonly maxPending: number;
  readonly intervalMs: number;

  constructor(
    private readonly store: Store,
    options: { intervalMs?: number; maxPending?: number } = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxPending = options.maxPending ?? 50_000;
  }

  /** Notes a use of the token now (no I/O). */
  note(tokenId: number | undefined, at = Date.now()): void {
    if (tokenId === undefined) return;
    if (this.pending.size >= this.maxPending && !this.pending.has(tokenId)) return;
    this.pending.set(tokenId, at);
  }

  get waiting(): number {
    return this.pending.size;
  }

  /** Writes what was noted, in one statement; returns how many tokens it covered. */
  async flush(): Promise<number> {
    if (this.pending.size === 0) return 0;
    const batch = [...this.pending];
    this.pending.clear();
    await this.store.repos.tokens.touchMany(batch.map(([id, at]) => ({ id, at: new Date(at) })));
    return batch.length;
  }

  job(): PeriodicJob {
    return { name: 'tokens.last-used', intervalMs: this.intervalMs, run: async () => void (await this.flush()) };
  }
}

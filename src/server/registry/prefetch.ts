import type { Audience } from '../../core/policy';

/**
 * Warms ahead what an install asks for next. When a client is served a packument whose
 * response names dependencies (core/packument.ts dependencyNames), the packuments of those
 * not yet in storage are built in the background, as that client would have them built: same
 * origin, same form, same audience, so its next requests find them in the response cache, or
 * join the build under way. The advisory questions of those packages are then asked together
 * in bulk requests, not one after another as npm reaches each package.
 *
 * A build here is the gate's own build (the same decision, nothing served and nothing audited
 * until a client asks), bounded: `concurrency` at once (0: none), `maxQueued` waiting, each
 * name once while it waits or runs. A failed build is counted and forgotten: the client's own
 * request builds it again and answers whatever the failure was.
 */
export interface WarmContext {
  protocol: string;
  host: string;
  abbreviated: boolean;
  audience: Audience;
}

export interface PrefetchStats {
  /** Builds started, finished, failed, and names dropped because the queue was full. */
  started: number;
  built: number;
  failed: number;
  dropped: number;
  /** Waiting and running now. */
  queued: number;
  running: number;
}

export class DependencyPrefetcher {
  private readonly queue: Array<{ key: string; name: string; context: WarmContext }> = [];
  private readonly pending = new Set<string>();
  private running = 0;
  private closed = false;
  private readonly counts = { started: 0, built: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly options: {
      concurrency: number;
      maxQueued?: number;
      /** The cache key of name's response for this context (the same key a client's request computes). */
      keyOf: (name: string, context: WarmContext) => string;
      /** Whether name needs no build (in storage, or private). */
      skip: (name: string) => boolean;
      build: (name: string, context: WarmContext) => Promise<unknown>;
    },
  ) {}

  /** Queues the names that need a build; returns at once. */
  warm(names: readonly string[], context: WarmContext): void {
    if (this.closed || this.options.concurrency <= 0) return;
    const maxQueued = this.options.maxQueued ?? 2000;
    for (const name of names) {
      const key = this.options.keyOf(name, context);
      if (this.pending.has(key) || this.options.skip(name)) continue;
      if (this.queue.length >= maxQueued) {
        this.counts.dropped++;
        continue;
      }
      this.pending.add(key);
      this.queue.push({ key, name, context });
      this.pump();
    }
  }

  stats(): PrefetchStats {
    return { ...this.counts, queued: this.queue.length, running: this.running };
  }

  /** Stops starting builds (those running finish on their own). */
  close(): void {
    this.closed = true;
    for (const job of this.queue) this.pending.delete(job.key);
    this.queue.length = 0;
  }

  private pump(): void {
    while (!this.closed && this.running < this.options.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      this.counts.started++;
      let build: Promise<unknown>;
      try {
        build = this.options.build(job.name, job.context);
      } catch (err) {
        build = Promise.reject(err);
      }
      build
        .then(
          () => this.counts.built++,
          () => this.counts.failed++,
        )
        .finally(() => {
          this.running--;
          this.pending.delete(job.key);
          this.pump();
        });
    }
  }
}

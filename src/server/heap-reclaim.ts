import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Gives the garbage of large one-off builds back to the system.
 *
 * Building a large packument (parsing, validating, pruning and serialising tens of megabytes of
 * JSON) leaves hundreds of megabytes of garbage in V8's old space. V8 collects old space when
 * more is allocated there, or through its memory reducer once the process allocates little. A
 * gatekeeper that goes on to serve from its caches does neither: its answers are prepared
 * buffers, so the heap stays at its peak, measured at 400-570 MB of RSS against a 48 MB live
 * heap (docs/benchmarks.md), while plain Verdaccio, which parses on every read, keeps collecting.
 *
 * After each packument build, `check()` compares the heap in use with what the last collection
 * left. When it has grown by `growthBytes`, one full collection runs `delayMs` later (the burst
 * of builds is usually over by then), at most once per `minIntervalMs`. A collection that finds
 * the growth live (a cache filling up) moves the baseline up, so live growth never causes
 * repeated collections. `growthBytes` 0 turns it off.
 */
export interface HeapReclaimOptions {
  growthBytes: number;
  delayMs?: number;
  minIntervalMs?: number;
  /** Heap in use, in bytes (V8's own count by default). */
  heapUsed?: () => number;
  /** A full collection (V8's, made reachable without --expose-gc, by default). */
  collect?: () => void;
  onCollected?: (event: { before: number; after: number; ms: number }) => void;
}

export interface HeapReclaimStats {
  collections: number;
  /** Time spent in the collections this instance asked for. */
  seconds: number;
  /** Heap bytes in use at start or after the last one: growth is counted from here. */
  baselineBytes: number;
  /** Heap bytes in use right before and after the last one. */
  lastBefore?: number;
  lastAfter?: number;
}

const v8HeapUsed = (): number => v8.getHeapStatistics().used_heap_size;

let fullCollection: (() => void) | undefined;

/**
 * V8's full collection, compacting every page it can: a regular one frees the garbage but keeps
 * the pages the survivors are scattered over (measured: 163 MB of heap held for 16 MB in use,
 * against 50 MB compacted; the pause about 3 times as long). `global.gc` when node runs with
 * --expose-gc; otherwise the flag is set now and the function taken from a new context (V8
 * installs `gc` in contexts made after the flag).
 */
export function v8FullCollection(): () => void {
  if (!fullCollection) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    let gc: () => void;
    if (typeof exposed === 'function') gc = exposed;
    else {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    }
    fullCollection = () => {
      v8.setFlagsFromString('--compact-on-every-full-gc');
      try {
        gc();
      } finally {
        v8.setFlagsFromString('--no-compact-on-every-full-gc');
      }
    };
  }
  return fullCollection;
}

/**
 * Turns off V8's allocation-site pretenuring for the whole process. After a burst of work whose
 * objects survive (a few thousand policy changes, each reloaded), V8 marks the allocation sites
 * involved as long-lived and from then on allocates what they create straight in old space,
 * including the short-lived objects of every later request. Measured on 2026-12-03 (warm small
 * packuments at about 9,000 req/s for 60 s, after 2,000 approvals set through the admin API):
 * old space refilled by about 100 MB every 20 s and the process swung between 180 and 290 MB of
 * RSS; without pretenuring, old space stayed at 39 to 42 MB and RSS at 166 to 169 MB, at the
 * same throughput. A process restarted on the same policy never grew (150 MB). The first builds
 * of the large and huge packuments took as long either way (two runs each way, within their spread).
 */
export function disableAllocationSitePretenuring(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

export class HeapReclaimer {
  private readonly growthBytes: number;
  private readonly delayMs: number;
  private readonly minIntervalMs: number;
  private readonly heapUsed: () => number;
  private readonly collect: (() => void) | undefined;
  private baseline: number;
  private lastAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private readonly counts: Omit<HeapReclaimStats, 'baselineBytes'> = { collections: 0, seconds: 0 };

  constructor(private readonly options: HeapReclaimOptions) {
    this.growthBytes = options.growthBytes;
    this.delayMs = options.delayMs ?? 1000;
    this.minIntervalMs = options.minIntervalMs ?? 10_000;
    this.heapUsed = options.heapUsed ?? v8HeapUsed;
    this.collect = this.growthBytes > 0 ? (options.collect ?? v8FullCollection()) : undefined;
    this.baseline = this.heapUsed();
  }

  /** After work that may have left much garbage: arms one collection when the heap grew enough. */
  check(): void {
    if (!this.collect || this.timer) return;
    if (this.heapUsed() - this.baseline < this.growthBytes) return;
    const wait = Math.max(this.delayMs, this.lastAt + this.minIntervalMs - performance.now());
    this.timer = setTimeout(() => this.run(), wait);
    this.timer.unref();
  }

  stats(): HeapReclaimStats {
    return { ...this.counts, baselineBytes: this.baseline };
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    this.timer = undefined;
    const before = this.heapUsed();
    const started = performance.now();
    this.collect!();
    const ms = performance.now() - started;
    this.lastAt = performance.now();
    const after = this.heapUsed();
    this.baseline = after;
    this.counts.collections++;
    this.counts.seconds += ms / 1000;
    this.counts.lastBefore = before;
    this.counts.lastAfter = after;
    this.options.onCollected?.({ before, after, ms });
  }
}

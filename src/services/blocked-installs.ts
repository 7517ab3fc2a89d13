import type { EventSink } from './webhooks';
import type { PeriodicJob } from './periodic';

/** Packages counted per interval at most; refusals of further packages are counted as `overflow`. */
const MAX_PACKAGES = 10_000;

/**
 * Refused installs counted in memory for the `install.blocked` webhook event: the gate's deny
 * path only bumps a counter (no I/O); a periodic flush sends one event per package per
 * interval with its counts by code.
 */
export class BlockedInstalls {
  private counts = new Map<string, Map<string, number>>();
  private overflow = 0;
  private since = Date.now();

  constructor(
    private readonly events: EventSink,
    private readonly intervalMs: number,
  ) {}

  /** One refused request (packument, version or tarball) of `name`, refused with `code`. */
  count(name: string, code: string): void {
    let byCode = this.counts.get(name);
    if (!byCode) {
      if (this.counts.size >= MAX_PACKAGES) {
        this.overflow++;
        return;
      }
      byCode = new Map();
      this.counts.set(name, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  /** Sends what was counted since the last flush, one event per package, and starts a new interval. */
  flush(): number {
    const counts = this.counts;
    const overflow = this.overflow;
    const from = new Date(this.since).toISOString();
    this.counts = new Map();
    this.overflow = 0;
    this.since = Date.now();
    const to = new Date(this.since).toISOString();
    const items: Array<Record<string, unknown>> = [];
    for (const [name, byCode] of counts) {
      const codes = Object.fromEntries([...byCode].sort(([a], [b]) => a.localeCompare(b)));
      const total = [...byCode.values()].reduce((a, b) => a + b, 0);
      items.push({ package: name, counts: codes, total, from, to });
    }
    if (overflow > 0) items.push({ package: null, overflow, from, to });
    // Up to MAX_PACKAGES events: queued in a few statements, not one query each at once.
    if (this.events.emitMany) this.events.emitMany('install.blocked', items);
    else for (const data of items) this.events.emit('install.blocked', data);
    return counts.size;
  }

  job(): PeriodicJob {
    return { name: 'webhooks.install-blocked', intervalMs: this.intervalMs, run: async () => void this.flush() };
  }
}

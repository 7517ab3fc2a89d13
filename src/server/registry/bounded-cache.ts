import { KeysByName } from './keys-by-name';

interface Slot<V> {
  value: V;
  /** The clock when the entry was last put at the most recent end. */
  stamp: number;
  cost: number;
}

/**
 * The store under the packument and tarball caches: entries by key, bounded by the sum of
 * their costs, the least recently used dropped first, and indexed by package name (see
 * KeysByName).
 *
 * A hit does not reorder the entries every time. Moving a key to the most recent end of a Map
 * (delete, then set) rebuilds the Map's table every few hits, and under a load of tens of
 * thousands of reads a second those tables were a large part of what V8 promoted to its old
 * space and collected only by full collections (measured with the sampling heap profiler, see
 * docs/benchmarks.md). Here a hit moves its entry only once more than half of the map has been
 * put after it: an entry in the more recent half is left where it is. Eviction is therefore
 * least recently used to within half the map: an entry in use is moved by its first read after
 * more than half of the map was put after it, and dropped only when no read comes while the
 * other half is put.
 */
export class BoundedCache<V> {
  private readonly slots = new Map<string, Slot<V>>();
  /** The keys of each package (see invalidate). */
  readonly keys: KeysByName;
  private clock = 0;
  private total = 0;

  constructor(
    nameOf: (key: string) => string,
    private readonly costOf: (value: V) => number,
  ) {
    this.keys = new KeysByName(nameOf);
  }

  get size(): number {
    return this.slots.size;
  }

  /** The sum of the entries' costs. */
  get bytes(): number {
    return this.total;
  }

  /** The entry, without counting it as used. */
  peek(key: string): V | undefined {
    return this.slots.get(key)?.value;
  }

  /** The entry, counted as used (see the class comment for when that moves it). */
  use(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (this.clock - slot.stamp > this.slots.size >> 1) {
      this.slots.delete(key);
      this.slots.set(key, slot);
      slot.stamp = ++this.clock;
    }
    return slot.value;
  }

  /** Puts an entry at the most recent end, then drops the oldest until the costs fit `limit`. */
  put(key: string, value: V, limit: number): void {
    this.remove(key);
    const cost = this.costOf(value);
    this.slots.set(key, { value, stamp: ++this.clock, cost });
    this.keys.add(key);
    this.total += cost;
    for (const oldest of this.slots.keys()) {
      if (this.total <= limit) break;
      this.remove(oldest);
    }
  }

  remove(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.keys.delete(key);
    this.total -= slot.cost;
  }

  /** Drops every entry of a package. */
  invalidate(name: string): void {
    for (const key of this.keys.of(name)) this.remove(key);
  }

  /** Drops every entry. */
  clear(): void {
    for (const key of [...this.slots.keys()]) this.remove(key);
  }
}

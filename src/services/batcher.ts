/**
 * Gathers keys asked for by concurrent callers into one call of `run`: the keys added while no
 * batch is open start one, which runs on the next turn of the event loop (so every request
 * parsed in the same turn joins it); keys added while `parallel` batches are running wait for
 * the next one. Every caller's promise settles with the batch its keys went into.
 *
 * With `immediate`, a batch starts at once when fewer than `parallel` are running (the keys of
 * that call alone), and keys gather only while batches run: for work whose latency is on a
 * request's path and that would otherwise wait behind whatever else that turn runs.
 *
 * Used on the cold path, where many packages are seen for the first time at once (an install
 * fetching a tree): one database query or one bulk advisory request for many packages instead
 * of one each.
 */
export class Batcher<K> {
  private open: { keys: Set<K>; promise: Promise<void>; release: () => void } | undefined;
  private running = 0;

  constructor(
    private readonly run: (keys: K[]) => Promise<void>,
    private readonly parallel = 2,
    private readonly immediate = false,
  ) {}

  add(keys: Iterable<K>): Promise<void> {
    let batch = this.open;
    if (!batch) {
      let release = () => undefined as void;
      const started = new Promise<void>((resolve) => (release = resolve));
      const created = { keys: new Set<K>(), release, promise: Promise.resolve() };
      created.promise = started
        .then(() => this.run([...created.keys]))
        .finally(() => {
          this.running--;
          this.startNext();
        });
      batch = this.open = created;
      if (!this.immediate) setImmediate(() => this.startNext());
    }
    for (const key of keys) batch.keys.add(key);
    // The batch's run reads its keys in a later microtask, after this call added them.
    if (this.immediate) this.startNext();
    return batch.promise;
  }

  private startNext(): void {
    const batch = this.open;
    if (!batch || this.running >= this.parallel) return;
    this.open = undefined;
    this.running++;
    batch.release();
  }
}

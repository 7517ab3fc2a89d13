/**
 * Gathers keys asked for by concurrent callers into one call of `run`: the keys added while no
 * batch is open start one, which runs on the next turn of the event loop (so every request
 * parsed in the same turn joins it); keys added while `parallel` batches are running wait for
 * the next one. Every caller's promise settles with the batch its keys went into.
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
      setImmediate(() => this.startNext());
    }
    for (const key of keys) batch.keys.add(key);
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

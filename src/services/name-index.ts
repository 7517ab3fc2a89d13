/**
 * The names of the packages the database holds rows of one kind for (advisory entries, tarball
 * inspections), kept in memory so that a first sight of a package without any needs no read.
 *
 * Load it once the channel that announces new rows listens, so that nothing announced after
 * the read is missed, and again after every reconnect (`forget`, then `load`): announcements
 * may have been missed meanwhile. Every announced or recorded name is `add`ed, also while a
 * load runs (its read may have been made before their commit). Until it is loaded it knows
 * nothing, and `mayHave` answers true for every name: each must be read.
 */
export class NameIndex {
  private names: Set<string> | null = null;
  /** Names added while the running load reads. */
  private during: Set<string> | null = null;

  constructor(private readonly read: () => Promise<string[]>) {}

  async load(): Promise<void> {
    const during = new Set<string>();
    this.during = during;
    try {
      const names = await this.read();
      if (this.during !== during) return; // forgotten meanwhile: a newer load follows
      this.names = new Set([...names, ...during]);
    } finally {
      if (this.during === during) this.during = null;
    }
  }

  get loaded(): boolean {
    return this.names !== null;
  }

  /** False only when the index is loaded and the database holds nothing for the name. */
  mayHave(name: string): boolean {
    return this.names === null || this.names.has(name);
  }

  add(name: string): void {
    this.names?.add(name);
    this.during?.add(name);
  }

  /** Unloaded until the next load. */
  forget(): void {
    this.names = null;
    this.during = null;
  }
}

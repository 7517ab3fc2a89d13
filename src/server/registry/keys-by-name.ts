/**
 * A cache's keys grouped by package name, so that dropping a package's entries (an
 * invalidation: one per new tarball inspection on a cold install) touches only its own keys
 * instead of scanning every key the cache holds.
 */
export class KeysByName {
  private readonly byName = new Map<string, Set<string>>();

  constructor(private readonly nameOf: (key: string) => string) {}

  add(key: string): void {
    const name = this.nameOf(key);
    let keys = this.byName.get(name);
    if (!keys) this.byName.set(name, (keys = new Set()));
    keys.add(key);
  }

  delete(key: string): void {
    const name = this.nameOf(key);
    const keys = this.byName.get(name);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.byName.delete(name);
  }

  /** The package's keys (a copy: the caller may delete while it iterates). */
  of(name: string): string[] {
    const keys = this.byName.get(name);
    return keys ? [...keys] : [];
  }

  /** How many packages have keys (for tests: nothing is left behind). */
  get names(): number {
    return this.byName.size;
  }
}

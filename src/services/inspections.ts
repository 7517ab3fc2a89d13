import type { TarballInspection } from '../core/inspection';
import type { Store } from '../db/store';
import { Batcher } from './batcher';

/**
 * Tarball inspections (see core/inspection.ts): recorded once per version in the database,
 * and held in memory per package so that deciding a version costs no query. A package's
 * inspections are loaded with one query the first time it is decided in this process.
 */
export class InspectionService {
  private readonly memory = new Map<string, Map<string, TarballInspection>>();
  /** Packages first seen by concurrent requests are loaded together, in one query. */
  private readonly loader = new Batcher<string>((names) => this.prepareMany(names), 1);

  constructor(
    private readonly store: Store,
    private readonly maxPackages = 50_000,
  ) {}

  /** Loads a package's inspections unless this process holds them already. */
  async prepare(name: string): Promise<void> {
    if (this.memory.has(name)) return;
    await this.loader.add([name]);
  }

  /** Loads the inspections of many packages (lockfile checks) in a few queries. */
  async prepareMany(names: readonly string[]): Promise<void> {
    const missing = [...new Set(names)].filter((n) => !this.memory.has(n));
    if (missing.length === 0) return;
    const byName = new Map<string, Map<string, TarballInspection>>(missing.map((n) => [n, new Map()]));
    for (const row of await this.store.repos.inspections.listForPackages(missing)) byName.get(row.name)?.set(row.version, row);
    for (const [name, versions] of byName) this.hold(name, versions);
  }

  /** What is known of name@version (call prepare first). */
  known(name: string, version: string): TarballInspection | undefined {
    return this.memory.get(name)?.get(version);
  }

  async record(inspection: TarballInspection, source: 'upstream' | 'publish'): Promise<void> {
    await this.store.repos.inspections.save(inspection, source);
    // A package not held yet is loaded whole by the next prepare(), this one included.
    this.memory.get(inspection.name)?.set(inspection.version, inspection);
  }

  private hold(name: string, versions: Map<string, TarballInspection>): void {
    this.memory.delete(name);
    this.memory.set(name, versions);
    if (this.memory.size > this.maxPackages) this.memory.delete(this.memory.keys().next().value as string);
  }
}

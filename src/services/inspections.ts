import type { TarballInspection } from '../core/inspection';
import { databaseFailure, isRowError, pgCode } from '../db/errors';
import type { Store } from '../db/store';
import { Batcher } from './batcher';
import { NameIndex } from './name-index';

export interface InspectionHealth {
  ok: boolean;
  /** Recordings whose insert failed since start. */
  failedWrites: number;
  lastError?: string;
  lastFailureAt?: string;
}

/**
 * Tarball inspections (see core/inspection.ts): recorded once per version in the database,
 * and held in memory per package so that deciding a version costs no query. A package's
 * inspections are loaded with one query the first time it is decided in this process, unless
 * the index of packages with inspections says it has none (a package seen for the first time
 * usually has none: its tarballs were never fetched).
 *
 * Every new inspection is announced (INSPECTION_CHANNEL, by whichever process recorded it);
 * `announced` takes it in here, and the caller decides the package again. The index is loaded
 * once the channel listens and again after every reconnect (`forgetAll`, since announcements
 * may have been missed); until it is, every first sight reads the database.
 */
export class InspectionService {
  private readonly memory = new Map<string, Map<string, TarballInspection>>();
  /** Packages first seen by concurrent requests are loaded together, in one query. */
  private readonly loader = new Batcher<string>((names) => this.prepareMany(names), 1);
  /** Every package with an inspection recorded (see loadIndex). */
  private readonly inspected: NameIndex;
  /**
   * Packages being read from the database, and whether an announcement came meanwhile: that
   * read may have been made before the announced row's commit, so it is read again.
   */
  private readonly reading = new Map<string, { announced: boolean }>();

  constructor(
    private readonly store: Store,
    private readonly maxPackages = 50_000,
  ) {
    this.inspected = new NameIndex(() => store.repos.inspections.packagesWithInspections());
  }

  /** Loads a package's inspections unless this process holds them already. */
  async prepare(name: string): Promise<void> {
    if (this.memory.has(name)) return;
    await this.loader.add([name]);
  }

  /** Loads the inspections of many packages (lockfile checks) in a few queries. */
  async prepareMany(names: readonly string[]): Promise<void> {
    let missing = [...new Set(names)].filter((n) => !this.memory.has(n));
    // Nothing recorded for them (and any recording is announced): held as none, unread.
    for (const name of missing) if (!this.inspected.mayHave(name)) this.hold(name, new Map());
    missing = missing.filter((n) => this.inspected.mayHave(n));
    if (missing.length === 0) return;
    const byName = new Map<string, Map<string, TarballInspection>>(missing.map((n) => [n, new Map()]));
    const reads = missing.map((n) => {
      const read = { announced: false };
      this.reading.set(n, read);
      return read;
    });
    try {
      for (const row of await this.store.repos.inspections.listForPackages(missing)) byName.get(row.name)?.set(row.version, row);
    } finally {
      missing.forEach((n, i) => {
        if (this.reading.get(n) === reads[i]) this.reading.delete(n);
      });
    }
    // Announced while read: read again, so that the caller decides with the announced row.
    const again = missing.filter((_, i) => reads[i].announced);
    missing.forEach((name, i) => {
      if (!reads[i].announced) this.hold(name, byName.get(name) as Map<string, TarballInspection>);
    });
    if (again.length > 0) await this.prepareMany(again);
  }

  /** What is known of name@version (call prepare first). */
  known(name: string, version: string): TarballInspection | undefined {
    return this.memory.get(name)?.get(version);
  }

  /**
   * Records an inspection. Held before it is stored: its own announcement, which may arrive
   * before the insert's answer, then finds it here and changes nothing (else it would drop the
   * package's inspections and decisions, and the request that recorded it would read them
   * again). A package not held yet is loaded whole by the next prepare(), this one included.
   * Settles with the batch it joined: a failed statement fails every recording in it (after an
   * error one row can cause, see isRowError, each is tried again alone), and a failed
   * recording is no longer held (the database has no row for it), so the next fetch of the
   * version inspects and records it again; the failure shows in health().
   */
  async record(inspection: TarballInspection, source: 'upstream' | 'publish'): Promise<void> {
    const held = this.memory.get(inspection.name);
    held?.set(inspection.version, inspection);
    this.inspected.add(inspection.name);
    try {
      await this.saver.add([{ inspection, source }]).catch((err: unknown) => {
        // A row the database refuses (a data exception, a constraint it breaks) fails its whole
        // batch: every recording in it is tried again alone, one at a time (a large batch must
        // not take the whole pool), so that only that one fails.
        if (!isRowError(err)) throw err;
        const alone = this.retries.then(() => this.store.repos.inspections.saveMany([{ inspection, source }]));
        this.retries = alone.catch(() => undefined);
        return alone;
      });
      this.writes.lastError = undefined;
    } catch (err) {
      if (held?.get(inspection.version) === inspection) held.delete(inspection.version);
      this.writes.failed++;
      // Not the driver's text: it quotes the statement, and the inspection's package text with it.
      this.writes.lastError = databaseFailure(err)?.message ?? `the insert failed${pgCode(err) ? ` (SQLSTATE ${pgCode(err)})` : ''}; the server log has the details`;
      this.writes.lastFailureAt = new Date().toISOString();
      throw err;
    }
  }

  private readonly writes: { failed: number; lastError?: string; lastFailureAt?: string } = { failed: 0 };
  /** The recordings tried again alone (see record), in turn. */
  private retries: Promise<unknown> = Promise.resolve();

  /** Recordings that failed (each is inspected again on the version's next fetch); not ok until one succeeds. */
  health(): InspectionHealth {
    return { ok: this.writes.lastError === undefined, failedWrites: this.writes.failed, ...(this.writes.lastError ? { lastError: this.writes.lastError, lastFailureAt: this.writes.lastFailureAt } : {}) };
  }

  /**
   * Inspections recorded by concurrent first fetches (a cold install) are stored together: one
   * statement and one commit for all that arrived while the previous batch was written,
   * instead of one each. A version appears once per batch (the first recording stays).
   */
  private readonly saver = new Batcher<{ inspection: TarballInspection; source: 'upstream' | 'publish' }>(async (entries) => {
    const unique = new Map<string, (typeof entries)[number]>();
    for (const entry of entries) {
      const key = `${entry.inspection.name}@${entry.inspection.version}`;
      if (!unique.has(key)) unique.set(key, entry);
    }
    await this.store.repos.inspections.saveMany([...unique.values()]);
  }, 1);

  /**
   * Loads the index of packages with inspections. Call it once the announcement channel
   * listens, so that no announcement made after the read is missed.
   */
  loadIndex(): Promise<void> {
    return this.inspected.load();
  }

  /** Whether the index is loaded (until it is, first sights read the database). */
  get indexed(): boolean {
    return this.inspected.loaded;
  }

  /**
   * An announcement (`name@version`) of an inspection recorded by any process, this one
   * included. Answers the package when what this process holds of it changed (its inspections
   * are read again when next needed): its decisions and responses must go. Undefined for one it
   * knew already, or a payload that names no version.
   */
  announced(payload: string): string | undefined {
    const at = payload.lastIndexOf('@');
    if (at <= 0) return undefined;
    const name = payload.slice(0, at);
    const version = payload.slice(at + 1);
    this.inspected.add(name);
    const read = this.reading.get(name);
    if (read) read.announced = true;
    const held = this.memory.get(name);
    if (!held) return undefined; // read from the database when first needed
    if (held.has(version)) return undefined;
    this.memory.delete(name);
    return name;
  }

  /**
   * Forgets every package's inspections and the index (the channel reconnected: announcements
   * may have been missed); answers the packages that were held, whose decisions must go.
   */
  forgetAll(): string[] {
    const names = [...this.memory.keys()];
    this.memory.clear();
    this.inspected.forget();
    return names;
  }

  private hold(name: string, versions: Map<string, TarballInspection>): void {
    this.memory.delete(name);
    this.memory.set(name, versions);
    if (this.memory.size > this.maxPackages) this.memory.delete(this.memory.keys().next().value as string);
  }
}

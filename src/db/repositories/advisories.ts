import type { Knex } from 'knex';
import { Advisory, mergeSameKey, Severity } from '../../core/advisory';
import { storable } from '../../core/text';
import { chunks } from '../batch';

interface AdvisoryRow {
  package: string;
  key: string;
  advisory_id: string;
  title: string;
  url: string | null;
  severity: Severity;
  vulnerable_versions: string;
  fixed_in: string[];
  source: 'upstream' | 'osv' | 'manual';
  malware: boolean;
  withdrawn_at: Date | null;
  /** From advisory_overrides (left join). */
  override_reason?: string | null;
  override_by?: string | null;
  override_at?: Date | null;
}

/** The advisories with their override, if an admin made one. */
const COLUMNS = ['advisories.*', 'o.reason as override_reason', 'o.created_by as override_by', 'o.created_at as override_at'];

function toAdvisory(row: AdvisoryRow): Advisory {
  return {
    key: row.key,
    name: row.package,
    id: row.advisory_id,
    title: row.title,
    url: row.url,
    severity: row.severity,
    vulnerableVersions: row.vulnerable_versions,
    fixedIn: row.fixed_in,
    source: row.source,
    ...(row.malware ? { malware: true } : {}),
    ...(row.withdrawn_at ? { withdrawnAt: new Date(row.withdrawn_at).toISOString() } : {}),
    ...(row.override_by ? { overridden: { by: row.override_by, reason: row.override_reason ?? '', at: new Date(row.override_at ?? 0).toISOString() } } : {}),
  };
}

/**
 * A change to a package's stored advisories (an import, a flag, an override) is announced on
 * this channel, with the package name, in the transaction that makes it: every process then
 * reloads the package's advisories and forgets its decisions and cached responses.
 */
export const ADVISORY_CHANNEL = 'gatekeeper_advisories';

export interface AdvisoryCheck {
  package: string;
  versions: string[];
  checkedAt: Date | null;
  ok: boolean;
  error: string | null;
}

export class AdvisoryRepository {
  constructor(private readonly db: Knex) {}

  private select(): Knex.QueryBuilder {
    return this.db<AdvisoryRow>('advisories')
      .leftJoin('advisory_overrides as o', function () {
        this.on('o.package', '=', 'advisories.package').andOn('o.key', '=', 'advisories.key');
      })
      .select(COLUMNS);
  }

  /** One advisory by package and key (or shown id), with its override. */
  async find(name: string, id: string): Promise<Advisory | undefined> {
    const row = await this.select()
      .where({ 'advisories.package': name })
      .andWhere((q) => q.where('advisories.key', id).orWhere('advisories.advisory_id', id))
      .orderBy('advisories.key')
      .first();
    return row ? toAdvisory(row as AdvisoryRow) : undefined;
  }

  /**
   * The advisories an id names for a package: the one whose key it is, else every one that
   * shows it (one advisory known from several sources: the upstream's `ghsa:` entry and an OSV
   * import's `osv:` entry of the same GHSA), each with its override.
   */
  async findAll(name: string, id: string): Promise<Advisory[]> {
    const rows = (await this.select()
      .where({ 'advisories.package': name })
      .andWhere((q) => q.where('advisories.key', id).orWhere('advisories.advisory_id', id))
      .orderBy('advisories.key')) as AdvisoryRow[];
    const byKey = rows.filter((row) => row.key === id);
    return (byKey.length > 0 ? byKey : rows).map(toAdvisory);
  }

  /** NOTIFY on ADVISORY_CHANNEL for each package; delivered when the surrounding transaction commits. */
  async announce(names: readonly string[]): Promise<void> {
    for (const name of new Set(names)) await this.db.raw('select pg_notify(?, ?)', [ADVISORY_CHANNEL, name]);
  }

  /** Records an admin's override of one entry (a false positive); returns false when there was one already. */
  async saveOverride(o: { package: string; key: string; reason: string; createdBy: string }): Promise<boolean> {
    const rows = await this.db('advisory_overrides').insert({ package: o.package, key: o.key, reason: o.reason, created_by: o.createdBy }).onConflict(['package', 'key']).ignore().returning('key');
    return rows.length > 0;
  }

  async removeOverride(name: string, key: string): Promise<boolean> {
    return (await this.db('advisory_overrides').where({ package: name, key }).del()) > 0;
  }

  /** The modification times recorded for synced files under a directory. */
  async syncedFiles(prefix: string): Promise<Map<string, number>> {
    const rows = (await this.db('advisory_sync_files').where('path', 'like', `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`).select('path', 'mtime_ms')) as Array<{ path: string; mtime_ms: number }>;
    return new Map(rows.map((r) => [r.path, Number(r.mtime_ms)]));
  }

  async saveSyncedFiles(files: ReadonlyArray<{ path: string; mtimeMs: number }>): Promise<void> {
    const rows = files.map((f) => ({ path: f.path, mtime_ms: f.mtimeMs, synced_at: this.db.fn.now() }));
    for (const part of chunks(rows)) await this.db('advisory_sync_files').insert(part).onConflict('path').merge();
  }

  async list(name: string): Promise<Advisory[]> {
    return (await this.select().where({ 'advisories.package': name }).orderBy('advisories.key')).map(toAdvisory);
  }

  /** Every advisory of these packages, in one query. */
  async listMany(names: readonly string[]): Promise<Map<string, Advisory[]>> {
    const out = new Map<string, Advisory[]>(names.map((n) => [n, []]));
    if (names.length === 0) return out;
    for (const part of chunks(names)) {
      const rows = await this.select().whereIn('advisories.package', part).orderBy(['advisories.package', 'advisories.key']);
      for (const row of rows) out.get(row.package)?.push(toAdvisory(row));
    }
    return out;
  }

  /** Every package with at least one stored entry, of any source (withdrawn and overridden ones included); only `among` these when given. */
  async packagesWithEntries(among?: readonly string[]): Promise<string[]> {
    if (!among) return ((await this.db('advisories').distinct('package')) as Array<{ package: string }>).map((r) => r.package);
    const out: string[] = [];
    for (const part of chunks(among)) {
      for (const r of (await this.db('advisories').distinct('package').whereIn('package', part)) as Array<{ package: string }>) out.push(r.package);
    }
    return out;
  }

  /** When the upstream last answered for each of these packages, in one query. */
  async checkedAt(names: readonly string[]): Promise<Map<string, Date | null>> {
    const out = new Map<string, Date | null>();
    for (const part of chunks(names)) {
      const rows = await this.db('advisory_checks').whereIn('package', part).select('package', 'checked_at');
      for (const r of rows as Array<{ package: string; checked_at: Date | null }>) out.set(r.package, r.checked_at);
    }
    return out;
  }

  async listAll(limit: number): Promise<Advisory[]> {
    return (await this.select().orderBy(['advisories.package', 'advisories.key']).limit(limit)).map(toAdvisory);
  }

  /** Replaces a package's advisories from one source with the given ones (one transaction by the caller). */
  async replace(name: string, source: Advisory['source'], advisories: Advisory[]): Promise<void> {
    await this.db('advisories').where({ package: name, source }).del();
    await this.upsert(advisories);
  }

  /** `replace` for many packages at once: one delete per chunk of names, then one upsert. */
  async replaceMany(names: readonly string[], source: Advisory['source'], advisories: Advisory[]): Promise<void> {
    for (const part of chunks(names)) await this.db('advisories').whereIn('package', part).where({ source }).del();
    await this.upsert(advisories);
  }

  /** `saveCheck` for many packages at once, a chunk of rows per statement. */
  async saveChecks(checks: ReadonlyArray<{ package: string; versions: string[]; ok: boolean; error: string | null }>): Promise<void> {
    // Rows of one statement need the same columns: successes set checked_at, failures keep it.
    for (const ok of [true, false]) {
      const rows = checks
        .filter((c) => c.ok === ok)
        .map((c) => ({ package: c.package, versions: JSON.stringify(c.versions.map(storable)), ok: c.ok, error: c.error === null ? null : storable(c.error), ...(ok ? { checked_at: this.db.fn.now() } : {}) }));
      for (const part of chunks(rows)) await this.db('advisory_checks').insert(part).onConflict('package').merge();
    }
  }

  /**
   * Inserts or updates advisories, a chunk of rows per statement. One statement cannot touch a
   * row twice, so entries with the same package and key become one first (mergeSameKey).
   */
  async upsert(advisories: Advisory[]): Promise<void> {
    for (const part of chunks(mergeSameKey(advisories))) await this.insertOrUpdate(part);
  }

  private async insertOrUpdate(advisories: Advisory[]): Promise<void> {
    if (advisories.length === 0) return;
    await this.db('advisories')
      .insert(
        advisories.map((a) => ({
          package: a.name,
          key: a.key,
          advisory_id: a.id,
          title: a.title,
          url: a.url,
          severity: a.severity,
          vulnerable_versions: a.vulnerableVersions,
          fixed_in: JSON.stringify(a.fixedIn),
          source: a.source,
          malware: a.malware === true,
          withdrawn_at: a.withdrawnAt ?? null,
          updated_at: this.db.fn.now(),
        })),
      )
      .onConflict(['package', 'key'])
      .merge();
  }

  async check(name: string): Promise<AdvisoryCheck | undefined> {
    const row = await this.db('advisory_checks').where({ package: name }).first();
    return row ? { package: row.package, versions: row.versions, checkedAt: row.checked_at, ok: row.ok, error: row.error } : undefined;
  }

  async saveCheck(c: { package: string; versions: string[]; ok: boolean; error: string | null }): Promise<void> {
    const row: Record<string, unknown> = { package: c.package, versions: JSON.stringify(c.versions), ok: c.ok, error: c.error };
    if (c.ok) row.checked_at = this.db.fn.now();
    await this.db('advisory_checks').insert(row).onConflict('package').merge();
  }

  /** Packages whose last successful check is older than `before` (or never succeeded). */
  async due(before: Date, limit: number): Promise<AdvisoryCheck[]> {
    const rows = await this.db('advisory_checks')
      .where((q) => q.whereNull('checked_at').orWhere('checked_at', '<', before))
      .orderBy('checked_at', 'asc')
      .limit(limit);
    return rows.map((row: { package: string; versions: string[]; checked_at: Date | null; ok: boolean; error: string | null }) => ({
      package: row.package,
      versions: row.versions,
      checkedAt: row.checked_at,
      ok: row.ok,
      error: row.error,
    }));
  }
}

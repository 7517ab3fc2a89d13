import type { Knex } from 'knex';
import type { ManifestMismatch, TarballInspection } from '../../core/inspection';
import { chunks } from '../batch';

interface InspectionRow {
  package: string;
  version: string;
  source: 'upstream' | 'publish';
  integrity: string;
  manifest: Record<string, unknown>;
  has_binding_gyp: boolean;
  mismatches: ManifestMismatch[];
  inspected_at: Date;
}

function toInspection(row: InspectionRow): TarballInspection {
  return {
    name: row.package,
    version: row.version,
    manifest: row.manifest,
    hasBindingGyp: row.has_binding_gyp,
    mismatches: row.mismatches,
    integrity: row.integrity,
    inspectedAt: row.inspected_at,
  };
}

/**
 * A new inspection is announced on this channel, with `name@version`, in the transaction that
 * stores it: every process then holds it (or reloads the package's inspections) and decides
 * the package again.
 */
export const INSPECTION_CHANNEL = 'gatekeeper_inspections';

export class InspectionRepository {
  constructor(private readonly db: Knex) {}

  /** Every inspection of a package, in one query. */
  async listForPackage(name: string): Promise<TarballInspection[]> {
    return (await this.db<InspectionRow>('tarball_inspections').where({ package: name })).map(toInspection);
  }

  /** Every inspection of these packages, a thousand names per query. */
  async listForPackages(names: readonly string[]): Promise<TarballInspection[]> {
    const out: TarballInspection[] = [];
    for (const part of chunks(names)) out.push(...(await this.db<InspectionRow>('tarball_inspections').whereIn('package', part)).map(toInspection));
    return out;
  }

  /** The packages any inspection is recorded for. */
  async packagesWithInspections(): Promise<string[]> {
    return ((await this.db('tarball_inspections').distinct('package')) as Array<{ package: string }>).map((r) => r.package);
  }

  /**
   * Records inspections and announces each new one (INSPECTION_CHANNEL), in one statement per
   * chunk; the first one of a version stays (a version's bytes never change), and only a new
   * one is announced.
   */
  async saveMany(inspections: ReadonlyArray<{ inspection: TarballInspection; source: 'upstream' | 'publish' }>): Promise<void> {
    // 8 bindings a row: well under PostgreSQL's 65,535 per statement.
    for (const part of chunks(inspections, 500)) {
      const insert = this.db('tarball_inspections')
        .insert(
          part.map(({ inspection, source }) => ({
            package: inspection.name,
            version: inspection.version,
            source,
            integrity: inspection.integrity,
            manifest: JSON.stringify(inspection.manifest),
            has_binding_gyp: inspection.hasBindingGyp,
            mismatches: JSON.stringify(inspection.mismatches),
            inspected_at: inspection.inspectedAt,
          })),
        )
        .onConflict(['package', 'version'])
        .ignore()
        .returning(['package', 'version'])
        .toSQL();
      // One statement, in a transaction of its own: the rows and, for each new one, its
      // announcement (delivered at commit). For upstream copies alone, the commit does not wait
      // for the WAL to reach the disk (set_config's local setting holds until the statement's own
      // commit): a cold install's burst of first fetches waits for one flush less each, and a
      // record lost in a database crash is made again, since a stored upstream copy without one
      // is inspected before it is served (gate.ts). A published tarball's record is durable.
      // No BEGIN and COMMIT around it: a first fetch waits for one round trip, not four.
      const durable = part.some((p) => p.source === 'publish');
      const asynchronous = durable ? '' : "set_config('synchronous_commit', 'off', true), ";
      await this.db.raw(`with saved as (${insert.sql}) select ${asynchronous}pg_notify(?, saved.package || '@' || saved.version) from saved`, [
        ...insert.bindings,
        INSPECTION_CHANNEL,
      ]);
    }
  }
}

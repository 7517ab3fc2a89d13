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

  /** Records an inspection; the first one of a version stays (a version's bytes never change). */
  async save(inspection: TarballInspection, source: 'upstream' | 'publish'): Promise<void> {
    await this.db('tarball_inspections')
      .insert({
        package: inspection.name,
        version: inspection.version,
        source,
        integrity: inspection.integrity,
        manifest: JSON.stringify(inspection.manifest),
        has_binding_gyp: inspection.hasBindingGyp,
        mismatches: JSON.stringify(inspection.mismatches),
        inspected_at: inspection.inspectedAt,
      })
      .onConflict(['package', 'version'])
      .ignore();
  }
}

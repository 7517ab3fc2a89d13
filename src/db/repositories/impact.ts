import type { Knex } from 'knex';
import { chunks } from '../batch';

/** A recorded project's use of one version of a package. */
export interface ProjectUse {
  projectId: number;
  project: string;
  projectVersion: string;
  package: string;
  version: string;
}

export type ImpactState = 'open' | 'resolved' | 'withdrawn' | 'overridden';

export interface ImpactProject {
  project: string;
  projectVersion: string;
  version: string;
  addedAt: string;
  resolvedAt: string | null;
}

export interface ImpactRecord {
  id: number;
  package: string;
  advisoryKey: string;
  advisoryId: string;
  title: string;
  severity: string;
  malware: boolean;
  state: ImpactState;
  createdAt: string;
  updatedAt: string;
  /** The affected versions the listed projects use (unresolved ones). */
  versions: string[];
  projects: ImpactProject[];
}

export interface ImpactEntry {
  package: string;
  key: string;
  id: string;
  title: string;
  severity: string;
  malware: boolean;
  /** Not in force: withdrawn by its source, or overridden by an admin. */
  notInForce?: 'withdrawn' | 'overridden';
}

export interface ImpactChange {
  id: number;
  /** The record was made now. */
  created: boolean;
  /** Project uses added (or in use again) by this change. */
  added: ProjectUse[];
  state: ImpactState;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export class ImpactRepository {
  constructor(private readonly db: Knex) {}

  /** Every recorded project's use of these packages, in one query per chunk. */
  async uses(packages: readonly string[]): Promise<ProjectUse[]> {
    const out: ProjectUse[] = [];
    for (const part of chunks(packages)) {
      const rows = (await this.db('project_packages as m')
        .join('projects as p', 'p.id', 'm.project_id')
        .whereIn('m.name', part)
        .select('m.project_id', 'p.name as project', 'p.version as project_version', 'm.name as package', 'm.version')) as Array<{
        project_id: number;
        project: string;
        project_version: string;
        package: string;
        version: string;
      }>;
      for (const r of rows) out.push({ projectId: r.project_id, project: r.project, projectVersion: r.project_version, package: r.package, version: r.version });
    }
    return out;
  }

  /** The packages of impact records that list this project. */
  async packagesListing(projectId: number): Promise<string[]> {
    const rows = (await this.db('impact_projects as ip').join('impact_records as r', 'r.id', 'ip.impact_id').where('ip.project_id', projectId).distinct('r.package')) as Array<{ package: string }>;
    return rows.map((r) => r.package);
  }

  /** The keys of entries that have a record, per package. */
  async recordedKeys(packages: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(packages)) {
      const rows = (await this.db('impact_records').whereIn('package', part).select('package', 'advisory_key')) as Array<{ package: string; advisory_key: string }>;
      for (const r of rows) out.add(`${r.package} ${r.advisory_key}`);
    }
    return out;
  }

  /**
   * Brings one entry's record up to date with the projects that use an affected version now
   * (`uses`): made when there is none and some project is affected; uses are added once (the
   * primary key makes a repeated import add nothing), uses that are gone are marked resolved,
   * ones in use again reopened. An entry not in force (withdrawn, overridden) only sets the
   * record's state; its projects stay as they were. Call in a transaction.
   * Undefined when there is no record and nothing to record.
   */
  async apply(entry: ImpactEntry, uses: readonly ProjectUse[]): Promise<ImpactChange | undefined> {
    let record = (await this.db('impact_records').where({ package: entry.package, advisory_key: entry.key }).forUpdate().first()) as { id: number; state: ImpactState } | undefined;
    let created = false;
    if (!record) {
      if (uses.length === 0 || entry.notInForce) return undefined;
      const inserted = (await this.db('impact_records')
        .insert({ package: entry.package, advisory_key: entry.key, advisory_id: entry.id, title: entry.title, severity: entry.severity, malware: entry.malware })
        .onConflict(['package', 'advisory_key'])
        .ignore()
        .returning(['id', 'state'])) as Array<{ id: number; state: ImpactState }>;
      if (inserted.length > 0) {
        record = inserted[0];
        created = true;
      } else {
        // Made by a concurrent transaction meanwhile: lock it and go on.
        record = (await this.db('impact_records').where({ package: entry.package, advisory_key: entry.key }).forUpdate().first()) as { id: number; state: ImpactState };
      }
    }
    const id = record.id;
    if (entry.notInForce) {
      // Withdrawn or overridden: the record says so and keeps its projects as they were.
      if (record.state !== entry.notInForce) {
        await this.db('impact_records').where({ id }).update({ state: entry.notInForce, advisory_id: entry.id, title: entry.title, severity: entry.severity, malware: entry.malware, updated_at: this.db.fn.now() });
      }
      return { id, created: false, added: [], state: entry.notInForce };
    }
    const existing = (await this.db('impact_projects').where({ impact_id: id }).select('project_id', 'version', 'resolved_at')) as Array<{ project_id: number; version: string; resolved_at: Date | null }>;
    const key = (projectId: number, version: string) => `${projectId} ${version}`;
    const now = new Map(uses.map((u) => [key(u.projectId, u.version), u]));
    const had = new Map(existing.map((e) => [key(e.project_id, e.version), e]));
    const added: ProjectUse[] = [];
    const fresh = uses.filter((u) => !had.has(key(u.projectId, u.version)));
    for (const part of chunks(fresh)) {
      const rows = (await this.db('impact_projects')
        .insert(part.map((u) => ({ impact_id: id, project_id: u.projectId, project_name: u.project, project_version: u.projectVersion, version: u.version })))
        .onConflict(['impact_id', 'project_id', 'version'])
        .ignore()
        .returning(['project_id', 'version'])) as Array<{ project_id: number; version: string }>;
      for (const r of rows) added.push(now.get(key(r.project_id, r.version)) as ProjectUse);
    }
    const reopened = existing.filter((e) => e.resolved_at !== null && now.has(key(e.project_id, e.version)));
    for (const e of reopened) {
      await this.db('impact_projects').where({ impact_id: id, project_id: e.project_id, version: e.version }).update({ resolved_at: null });
      added.push(now.get(key(e.project_id, e.version)) as ProjectUse);
    }
    const gone = existing.filter((e) => e.resolved_at === null && !now.has(key(e.project_id, e.version)));
    for (const e of gone) await this.db('impact_projects').where({ impact_id: id, project_id: e.project_id, version: e.version }).update({ resolved_at: this.db.fn.now() });
    const open = existing.filter((e) => e.resolved_at === null).length - gone.length + added.length;
    const state: ImpactState = open > 0 ? 'open' : 'resolved';
    if (created || state !== record.state || added.length > 0 || gone.length > 0) {
      await this.db('impact_records')
        .where({ id })
        .update({ state, advisory_id: entry.id, title: entry.title, severity: entry.severity, malware: entry.malware, updated_at: this.db.fn.now() });
    }
    return { id, created, added, state };
  }

  /** Impact records, newest change first, with their projects. */
  async list(filter: { package?: string; state?: ImpactState; limit?: number } = {}): Promise<ImpactRecord[]> {
    const q = this.db('impact_records').orderBy([{ column: 'updated_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(filter.limit ?? 500);
    if (filter.package) q.where('package', filter.package);
    if (filter.state) q.where('state', filter.state);
    const records = (await q) as Array<{
      id: number;
      package: string;
      advisory_key: string;
      advisory_id: string;
      title: string;
      severity: string;
      malware: boolean;
      state: ImpactState;
      created_at: Date;
      updated_at: Date;
    }>;
    const projects = new Map<number, ImpactProject[]>();
    for (const part of chunks(records.map((r) => r.id))) {
      const rows = (await this.db('impact_projects').whereIn('impact_id', part).orderBy(['project_name', 'project_version', 'version'])) as Array<{
        impact_id: number;
        project_name: string;
        project_version: string;
        version: string;
        added_at: Date;
        resolved_at: Date | null;
      }>;
      for (const r of rows) {
        const list = projects.get(r.impact_id) ?? [];
        list.push({ project: r.project_name, projectVersion: r.project_version, version: r.version, addedAt: iso(r.added_at) as string, resolvedAt: iso(r.resolved_at) });
        projects.set(r.impact_id, list);
      }
    }
    return records.map((r) => {
      const listed = projects.get(r.id) ?? [];
      return {
        id: r.id,
        package: r.package,
        advisoryKey: r.advisory_key,
        advisoryId: r.advisory_id,
        title: r.title,
        severity: r.severity,
        malware: r.malware,
        state: r.state,
        createdAt: iso(r.created_at) as string,
        updatedAt: iso(r.updated_at) as string,
        versions: [...new Set(listed.filter((p) => p.resolvedAt === null).map((p) => p.version))],
        projects: listed,
      };
    });
  }
}

import type { Knex } from 'knex';
import type { DependencyEdge, DependencyType } from '../../core/catalogue';
import { chunks } from '../batch';

export type CatalogueSource = 'request' | 'approval' | 'lockfile' | 'publish';

export interface CatalogueVersion {
  name: string;
  version: string;
  license: string | null;
}

/** A package that depends on the target, directly (depth 1) or through others. */
export interface DependentRow {
  name: string;
  version: string;
  depth: number;
  /** Reached only through dev dependencies: it depends on the target, its dependents do not. */
  devOnly: boolean;
  /** The package@version it depends on, one step closer to the target (null at depth 1). */
  via: string | null;
}

/** A recorded project whose lockfile holds the target or one of its dependents. */
export interface DependentProject {
  project: string;
  projectVersion: string;
  /** The lockfile member: the target itself (depth 0) or the dependent nearest to it. */
  member: string;
  depth: number;
  dev: boolean;
}

/** A version that declares a range over the target's name that no recorded resolution pins. */
export interface DeclaredRangeRow {
  name: string;
  version: string;
  range: string;
  type: DependencyType;
}

export interface DependentsResult {
  dependents: DependentRow[];
  /** How many dependents there are in all (more than `dependents` holds when capped). */
  total: number;
  projects: DependentProject[];
  declared: DeclaredRangeRow[];
}

/**
 * The reverse-dependency query: one statement, one round trip. A recursive CTE walks from the
 * target up the edges whose resolved version is known, one level (depth) per iteration, at most
 * `depth` levels; each step reads dependency_edges_by_resolved for every package@version of
 * the level before. Each level's row carries the packages found at that depth and the set of
 * those already walked (a jsonb object, so "seen before?" is a lookup), so every package is
 * walked once, at the depth where it is first reached, however many paths lead to it. A
 * package reached only through dev dependencies is listed but not walked further (its
 * dependents do not install its dev dependencies). The same statement reads the recorded
 * projects holding the target or any dependent, and the unresolved declarations of the
 * target's name (checked against its version by the caller, with semver).
 */
export const DEPENDENTS_SQL = `
with recursive walk(depth, names, versions, expands, vias, seen) as (
    select 1, d.names, d.versions, d.expands, d.vias, d.seen
    from (
      select coalesce(array_agg(package order by package, version), cast('{}' as text[])) as names,
             coalesce(array_agg(version order by package, version), cast('{}' as text[])) as versions,
             coalesce(array_agg(expand order by package, version), cast('{}' as boolean[])) as expands,
             coalesce(array_agg(cast(null as text)), cast('{}' as text[])) as vias,
             coalesce(jsonb_object_agg(package || ' ' || version, true) filter (where expand), cast('{}' as jsonb)) as seen
      from (
        select e.package, e.version, bool_or(e.dep_type <> 'dev') as expand
        from dependency_edges e
        where e.dep_name = :name and (cast(:version as text) is null or e.resolved_version = :version)
        group by e.package, e.version
      ) first_level
    ) d
  union all
    select w.depth + 1, d.names, d.versions, d.expands, d.vias, w.seen || d.seen
    from walk w
    cross join lateral (
      select coalesce(array_agg(package order by package, version), cast('{}' as text[])) as names,
             coalesce(array_agg(version order by package, version), cast('{}' as text[])) as versions,
             coalesce(array_agg(expand order by package, version), cast('{}' as boolean[])) as expands,
             coalesce(array_agg(via order by package, version), cast('{}' as text[])) as vias,
             coalesce(jsonb_object_agg(package || ' ' || version, true) filter (where expand), cast('{}' as jsonb)) as seen
      from (
        -- via: one package@version of the level before that this one depends on
        select e.package, e.version, bool_or(e.dep_type <> 'dev') as expand, min(f.name || '@' || f.version) as via
        from unnest(w.names, w.versions, w.expands) as f(name, version, expand)
        join dependency_edges e on e.dep_name = f.name and e.resolved_version = f.version and e.resolved_version is not null
        where f.expand and not jsonb_exists(w.seen, e.package || ' ' || e.version)
        group by e.package, e.version
      ) next_level
    ) d
    where w.depth < :depth and cardinality(w.names) > 0
),
nodes as (
  select n.name, n.version, min(w.depth) as depth, not bool_or(n.expand) as dev_only, (array_agg(n.via order by w.depth, n.via))[1] as via
  from walk w
  cross join lateral unnest(w.names, w.versions, w.expands, w.vias) as n(name, version, expand, via)
  where not (n.name = :name and (cast(:version as text) is null or n.version = :version))
  group by n.name, n.version
),
shown as (
  select * from nodes order by depth, name, version limit :limit
),
members as (
  select name, version, depth from nodes
  union all
  select m.name, m.version, 0 from project_packages m where m.name = :name and (cast(:version as text) is null or m.version = :version)
),
used_by as (
  select distinct on (p.id) p.name as project, p.version as project_version, m.name || '@' || m.version as member, x.depth, m.dev
  from members x
  join project_packages m on m.name = x.name and m.version = x.version
  join projects p on p.id = m.project_id
  order by p.id, x.depth, m.name, m.version
),
declared as (
  select e.package as name, e.version, e.dep_range as range, e.dep_type as type
  from dependency_edges e
  where cast(:version as text) is not null and e.dep_name = :name and e.resolved_version is null
    and not exists (
      select 1 from dependency_edges r
      where r.package = e.package and r.version = e.version and r.dep_name = e.dep_name and r.resolved_version is not null
    )
  order by e.package, e.version
  limit :declaredScan
)
select
  (select cast(count(*) as int) from nodes) as total,
  coalesce((select json_agg(json_build_object('name', s.name, 'version', s.version, 'depth', s.depth, 'devOnly', s.dev_only, 'via', s.via)
            order by s.depth, s.name, s.version)
     from shown s), cast('[]' as json)) as dependents,
  coalesce((select json_agg(json_build_object('project', project, 'projectVersion', project_version, 'member', member, 'depth', depth, 'dev', dev)
            order by depth, project, project_version) from used_by), cast('[]' as json)) as projects,
  coalesce((select json_agg(json_build_object('name', name, 'version', version, 'range', range, 'type', type)) from declared), cast('[]' as json)) as declared
`;

/** Catalogue versions, their dependency edges, and the catalogue's package names. */
export class CatalogueRepository {
  constructor(private readonly db: Knex) {}

  /**
   * Records versions (a license where one is known) and their edges; what is recorded already
   * stays (a license missing before is filled in). A chunk of rows per statement.
   */
  async record(source: CatalogueSource, versions: readonly CatalogueVersion[], edges: readonly DependencyEdge[]): Promise<{ versions: number; edges: number }> {
    const byKey = new Map<string, CatalogueVersion>();
    for (const v of versions) {
      const seen = byKey.get(`${v.name}@${v.version}`);
      if (!seen || (seen.license === null && v.license !== null)) byKey.set(`${v.name}@${v.version}`, v);
    }
    for (const e of edges) if (!byKey.has(`${e.package}@${e.version}`)) byKey.set(`${e.package}@${e.version}`, { name: e.package, version: e.version, license: null });
    const rows = [...byKey.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
    const names = [...new Set(rows.map((r) => r.name))];
    for (const part of chunks(names)) {
      await this.db('catalogue_packages').insert(part.map((name) => ({ name, first_source: source }))).onConflict('name').ignore();
    }
    for (const part of chunks(rows)) {
      await this.db.raw(
        `insert into catalogue_versions (name, version, license, source) values ${part.map(() => '(?, ?, ?, ?)').join(', ')}
         on conflict (name, version) do update set license = coalesce(catalogue_versions.license, excluded.license)
         where catalogue_versions.license is null and excluded.license is not null`,
        part.flatMap((r) => [r.name, r.version, r.license, source]),
      );
    }
    let inserted = 0;
    const sorted = [...edges].sort((a, b) => (a.package + a.version + a.name < b.package + b.version + b.name ? -1 : 1));
    for (const part of chunks(sorted)) {
      const result = await this.db.raw(
        `insert into dependency_edges (package, version, dep_name, dep_range, dep_type, resolved_version) values ${part.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
         on conflict do nothing`,
        part.flatMap((e) => [e.package, e.version, e.name, e.range, e.type, e.resolved]),
      );
      inserted += (result as { rowCount?: number }).rowCount ?? 0;
    }
    return { versions: rows.length, edges: inserted };
  }

  /** The recorded edges of package@version (its declared dependencies). */
  async edgesOf(name: string, version: string): Promise<Array<{ name: string; range: string; type: DependencyType; resolved: string | null }>> {
    const rows = await this.db('dependency_edges')
      .where({ package: name, version })
      .orderBy(['dep_type', 'dep_name', 'resolved_version'])
      .select('dep_name as name', 'dep_range as range', 'dep_type as type', 'resolved_version as resolved');
    return rows as Array<{ name: string; range: string; type: DependencyType; resolved: string | null }>;
  }

  /** See DEPENDENTS_SQL. `version` undefined: dependents of any version of `name`. */
  /**
   * `declaredScan` bounds the unresolved declarations read: the caller keeps those whose range
   * includes the version (semver, not SQL) and lists at most `limit` of them.
   */
  async dependents(name: string, version: string | undefined, depth: number, limit: number, declaredScan: number): Promise<DependentsResult> {
    const result = await this.db.raw(DEPENDENTS_SQL, { name, version: version ?? null, depth, limit, declaredScan });
    const row = result.rows[0] as { total: number; dependents: DependentRow[]; projects: DependentProject[]; declared: DeclaredRangeRow[] };
    return { total: row.total, dependents: row.dependents, projects: row.projects, declared: row.declared };
  }

  /**
   * One page of the packages the catalogue knows, by name: recorded or tagged ones, approved
   * names (not scopes) and private names published here. Optionally only those whose name
   * contains a text (a LIKE pattern) or that carry a tag.
   */
  async names(filter: { after?: string; like?: string; tagId?: number; limit: number }): Promise<string[]> {
    const known = this.db
      .select('name')
      .from('catalogue_packages')
      .union((u) => u.select('pattern as name').from('approvals').whereRaw(`pattern not like '%*'`))
      .union((u) => u.distinct('name').from('published_versions').whereNot('state', 'reserved'));
    const query = this.db.select('k.name').from(known.as('k')).orderBy('k.name').limit(filter.limit);
    if (filter.after !== undefined) query.where('k.name', '>', filter.after);
    if (filter.like !== undefined) query.whereRaw(`lower(k.name) like ? escape '\\'`, [filter.like]);
    if (filter.tagId !== undefined) query.whereExists(this.db('package_tags as pt').where('pt.tag_id', filter.tagId).whereRaw('pt.package = k.name'));
    return ((await query) as Array<{ name: string }>).map((r) => r.name);
  }
}

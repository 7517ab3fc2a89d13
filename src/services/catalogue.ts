import type { Logger } from 'pino';
import {
  decodeNameCursor,
  encodeNameCursor,
  likePattern,
  recordOfMembers,
  recordOfVersion,
  resolveAmong,
  VersionWithManifest,
} from '../core/catalogue';
import { GatekeeperError, validation } from '../core/errors';
import { describeLicense, parseLicense } from '../core/license';
import { assertPackageName, assertVersion } from '../core/names';
import type { Packument } from '../core/packument';
import { sortVersions } from '../core/versions';
import type { DeclaredRangeRow, DependentProject, DependentRow } from '../db/repositories/catalogue';
import type { TagAssignment } from '../db/repositories/tags';
import type { Store } from '../db/store';
import type { GovernanceService } from './governance';
import type { VersionRow } from './publishing';
import type { TagsService } from './tags';

/** How far `dependents` walks by default, and at most. */
export const DEFAULT_DEPENDENTS_DEPTH = 10;
export const MAX_DEPENDENTS_DEPTH = 25;
/** How many dependents one answer lists by default, and at most (the total is always given). */
export const DEFAULT_DEPENDENTS_LIMIT = 1000;
export const MAX_DEPENDENTS_LIMIT = 5000;
/** Unresolved declarations of the target's name read at most, before their ranges are matched. */
export const DECLARED_SCAN = 50_000;
/** Catalogue pages: each package on a page has its document read and decided. */
export const DEFAULT_CATALOGUE_PAGE = 25;
export const MAX_CATALOGUE_PAGE = 100;
/** Packages per page of the versions view filtered by tag. */
export const DEFAULT_VERSIONS_PAGE = 10;
export const MAX_VERSIONS_PAGE = 50;
/** Package documents read at once while recording a lockfile or listing a page. */
const CONCURRENCY = 8;

export interface CataloguePackage {
  name: string;
  /** The highest version the policy allows today; null when none is (or none is known). */
  newestAllowed: string | null;
  /** That version's license; null without one. */
  license: string | null;
  tags: Array<Pick<TagAssignment, 'slug' | 'name' | 'colour'>>;
  private: boolean;
  /** Why nothing could be said about its versions (the document could not be read). */
  problem?: string;
}

export interface DependentsView {
  name: string;
  version: string | null;
  depth: number;
  total: number;
  truncated: boolean;
  dependents: DependentRow[];
  projects: DependentProject[];
  /** Versions that declare a range including the version, with no recorded resolution (direct only). */
  declared: DeclaredRangeRow[];
}

function boundedInt(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw validation(`${field} must be a whole number from ${min} to ${max}`);
  return n;
}

/** Runs `fn` over `items`, a few at a time, in order of the results. */
async function mapConcurrently<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, concurrency = CONCURRENCY): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/**
 * The catalogue: the versions the gatekeeper decided, requested or recorded, with their
 * declared dependencies (dependency edges), and the queries over them: reverse dependencies
 * ("who depends on express@4.18.1") and the listing of known packages. Edges are recorded
 * where versions are decided off the install path: request creation and approval of a tree
 * (RequestsService), lockfiles recorded as projects, and publishes. Packument and tarball
 * requests record nothing.
 */
export class CatalogueService {
  constructor(
    private readonly store: Store,
    private readonly governance: GovernanceService,
    private readonly tags: TagsService,
    private readonly isPrivate: (name: string) => boolean,
    private readonly logger?: Logger,
  ) {}

  private async packument(name: string): Promise<Packument | undefined> {
    const manifests = this.governance.manifests;
    if (!manifests) throw new GatekeeperError('EPOLICYUNAVAILABLE', 'package metadata cannot be read yet; try again in a moment');
    return manifests.getPackument(name);
  }

  // Recording

  /**
   * Records a lockfile's members and the edges among them. Each member's manifest is its
   * tarball's own package.json where the gatekeeper inspected it (loaded in bulk), else the
   * version's entry in its package document; members whose manifest cannot be read are
   * recorded without edges and counted in `unread`.
   */
  async recordLockfile(members: ReadonlyArray<{ name: string; version: string }>): Promise<{ versions: number; edges: number; unread: number }> {
    const names = [...new Set(members.map((m) => m.name))];
    const inspections = this.governance.inspections;
    if (inspections) await inspections.prepareMany(names);
    const missing = [...new Set(members.filter((m) => !inspections?.known(m.name, m.version)).map((m) => m.name))];
    const documents = new Map<string, Packument | undefined>();
    await mapConcurrently(missing, async (name) => {
      try {
        documents.set(name, await this.packument(name));
      } catch (err) {
        if (!(err instanceof GatekeeperError) && !(err as { status?: unknown })?.status) throw err;
        this.logger?.debug({ err, name }, 'catalogue: a package document could not be read while recording a lockfile');
        documents.set(name, undefined);
      }
    });
    let unread = 0;
    const withManifests: VersionWithManifest[] = members.map((m) => {
      const manifest = inspections?.known(m.name, m.version)?.manifest ?? (documents.get(m.name)?.versions?.[m.version] as Record<string, unknown> | undefined);
      if (!manifest) unread++;
      return { name: m.name, version: m.version, manifest };
    });
    const record = recordOfMembers(withManifests);
    const written = await this.store.repos.catalogue.record('lockfile', record.versions, record.edges);
    return { versions: written.versions, edges: written.edges, unread };
  }

  /**
   * Records a published version and its declared dependencies (unresolved). Called after the
   * publish is stored; a failure here is logged and does not undo the publish.
   */
  async recordPublished(name: string, version: string, manifest: Record<string, unknown>): Promise<void> {
    try {
      const record = recordOfVersion(name, version, manifest);
      await this.store.repos.catalogue.record('publish', record.versions, record.edges);
    } catch (err) {
      this.logger?.warn({ err, name, version }, 'catalogue: a published version could not be recorded');
    }
  }

  // Queries

  /**
   * Who depends on name@version (or on any version of name): directly (depth 1) and through
   * others, up to `depth` steps, across the catalogue's recorded edges and the recorded
   * projects. One database round trip.
   */
  async dependents(specInput: string, query: { depth?: unknown; limit?: unknown }): Promise<DependentsView> {
    const at = specInput.indexOf('@', specInput.startsWith('@') ? 1 : 0);
    const name = assertPackageName(at === -1 ? specInput : specInput.slice(0, at));
    const version = at === -1 ? undefined : assertVersion(specInput.slice(at + 1));
    const depth = boundedInt(query.depth, 'depth', DEFAULT_DEPENDENTS_DEPTH, 1, MAX_DEPENDENTS_DEPTH);
    const limit = boundedInt(query.limit, 'limit', DEFAULT_DEPENDENTS_LIMIT, 1, MAX_DEPENDENTS_LIMIT);
    const found = await this.store.repos.catalogue.dependents(name, version, depth, limit, DECLARED_SCAN);
    const target = version === undefined ? name : `${name}@${version}`;
    return {
      name,
      version: version ?? null,
      depth,
      total: found.total,
      truncated: found.total > found.dependents.length,
      dependents: found.dependents.map((d) => ({ ...d, via: d.depth === 1 ? target : d.via })),
      projects: found.projects,
      // Filtered before it is cut: declarations of other ranges do not crowd out the matching ones.
      declared: version === undefined ? [] : found.declared.filter((d) => resolveAmong(d.range, [version]) === version).slice(0, limit),
    };
  }

  /** A tag query parameter to its id; 404 for an unknown tag. */
  private async tagId(tag: unknown): Promise<number | undefined> {
    if (tag === undefined || tag === null || tag === '') return undefined;
    return (await this.tags.resolve(tag)).id;
  }

  /**
   * Known packages by name, a page at a time: each with its newest allowed version (every
   * version of its document decided with today's policy), that version's license, its tags
   * and whether it is private. `q` matches anywhere in the name; `tag` is a slug or name.
   */
  async list(query: { q?: string; tag?: string; cursor?: string; limit?: unknown }): Promise<{ items: CataloguePackage[]; nextCursor: string | null }> {
    const limit = boundedInt(query.limit, 'limit', DEFAULT_CATALOGUE_PAGE, 1, MAX_CATALOGUE_PAGE);
    const after = decodeNameCursor(query.cursor);
    const like = likePattern(query.q);
    const tagId = await this.tagId(query.tag);
    const names = await this.store.repos.catalogue.names({ after, like, tagId, limit: limit + 1 });
    const page = names.slice(0, limit);
    // Fail closed: without a policy nothing is "allowed"; say so rather than guess.
    this.governance.cache.current();
    const tags = await this.tags.forPackages(page);
    const items = await mapConcurrently(page, async (name): Promise<CataloguePackage> => {
      const item: CataloguePackage = {
        name,
        newestAllowed: null,
        license: null,
        tags: (tags.get(name) ?? []).map(({ slug, name: tagName, colour }) => ({ slug, name: tagName, colour })),
        private: this.isPrivate(name),
      };
      let packument: Packument | undefined;
      try {
        packument = await this.packument(name);
      } catch (err) {
        if (!(err instanceof GatekeeperError) && !(err as { status?: unknown })?.status) throw err;
        item.problem = `its package document could not be read: ${(err as Error).message}`;
        return item;
      }
      if (!packument) {
        item.problem = 'no version of it is known here or upstream';
        return item;
      }
      await this.governance.prepare(packument);
      const newest = sortVersions(Object.keys(packument.versions ?? {}), true).find((v) => this.governance.decide(name, v, packument).allowed);
      if (newest) {
        item.newestAllowed = newest;
        const manifest = packument.versions?.[newest] as { license?: unknown; licenses?: unknown } | undefined;
        item.license = manifest ? describeLicense(parseLicense(manifest)) : null;
      }
      return item;
    });
    return { items, nextCursor: names.length > limit ? encodeNameCursor(page[page.length - 1]) : null };
  }

  /**
   * The versions view filtered by tag: for each package carrying the tag (a page of them, by
   * name), every version known with today's decision, as `gatekeeper versions <name>` shows it.
   */
  async versionsWithTag(
    query: { tag?: string; cursor?: string; limit?: unknown },
    listVersions: (name: string, packument: Packument | undefined) => Promise<{ name: string; versions: VersionRow[]; message?: string }>,
  ): Promise<{ tag: string; items: Array<{ name: string; tags: TagAssignment[]; versions: VersionRow[]; message?: string }>; nextCursor: string | null }> {
    if (query.tag === undefined || query.tag === '') throw validation('give a tag: versions are listed by tag (?tag=slug) or per package (/packages/<name>/versions)');
    const tag = await this.tags.resolve(query.tag);
    const limit = boundedInt(query.limit, 'limit', DEFAULT_VERSIONS_PAGE, 1, MAX_VERSIONS_PAGE);
    const names = await this.store.repos.catalogue.names({ after: decodeNameCursor(query.cursor), tagId: tag.id, limit: limit + 1 });
    const page = names.slice(0, limit);
    const tags = await this.tags.forPackages(page);
    const items = await mapConcurrently(page, async (name) => {
      let packument: Packument | undefined;
      try {
        packument = await this.packument(name);
      } catch (err) {
        if (!(err instanceof GatekeeperError) && !(err as { status?: unknown })?.status) throw err;
        return { name, tags: tags.get(name) ?? [], versions: [], message: `its package document could not be read: ${(err as Error).message}` };
      }
      return { ...(await listVersions(name, packument)), tags: tags.get(name) ?? [] };
    });
    return { tag: tag.slug, items, nextCursor: names.length > limit ? encodeNameCursor(page[page.length - 1]) : null };
  }
}

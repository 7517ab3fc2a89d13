import semver from 'semver';
import { GatekeeperError, validation } from './errors';
import { describeLicense, parseLicense } from './license';
import { isValidPackageName } from './names';
import type { Packument } from './packument';
import { pickVersion } from './resolve';
import { sanitizeText } from './text';
import { isLegacyVersion, isSemverVersion } from './versions';

/**
 * The catalogue's pure parts: which dependencies a version declares, which version each one
 * resolved to where that is known (a request's resolved tree, a lockfile's members), tag
 * names, slugs and colours, and the name cursor of the catalogue listing. No I/O.
 *
 * Package text is hostile: a manifest's dependency names must be valid package names, and
 * ranges are cut and cleaned before they reach SQL.
 */

export const DEPENDENCY_TYPES = ['runtime', 'dev', 'peer', 'optional'] as const;
export type DependencyType = (typeof DEPENDENCY_TYPES)[number];

export interface DeclaredDependency {
  name: string;
  range: string;
  type: DependencyType;
}

/** One declared dependency of package@version, with the version it resolved to where known. */
export interface DependencyEdge extends DeclaredDependency {
  package: string;
  version: string;
  resolved: string | null;
}

/** The longest range stored; longer ones are cut (they are shown, never evaluated, once stored). */
export const MAX_RANGE_LENGTH = 256;
/** The most dependencies read from one manifest: a hostile one may declare a million. */
export const MAX_DECLARED_DEPENDENCIES = 2_000;

function depMap(value: unknown): Array<[string, string]> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  const out: Array<[string, string]> = [];
  for (const [name, range] of Object.entries(value as Record<string, unknown>)) {
    if (typeof range === 'string') out.push([name, range]);
    if (out.length >= MAX_DECLARED_DEPENDENCIES) break;
  }
  return out;
}

/**
 * `npm:real-name@range` (an alias) is the real package at that range; anything else is the
 * key's package at the range as written.
 */
function unalias(key: string, range: string): { name: string; range: string } {
  if (range.startsWith('npm:')) {
    const spec = range.slice(4);
    const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
    return at === -1 ? { name: spec, range: '*' } : { name: spec.slice(0, at), range: spec.slice(at + 1) || '*' };
  }
  return { name: key, range };
}

/**
 * Every dependency a manifest declares: `dependencies` (runtime, except those also listed as
 * optional, as npm publishes them), `optionalDependencies`, `peerDependencies` and
 * `devDependencies`. Aliases name their real package. Entries whose name is not a valid
 * package name are left out; one entry per name, type and range; at most MAX_DECLARED_DEPENDENCIES.
 */
export function declaredDependencies(manifest: Record<string, unknown> | undefined | null): DeclaredDependency[] {
  if (!manifest || typeof manifest !== 'object') return [];
  const optional = new Set(depMap(manifest.optionalDependencies).map(([n]) => n));
  const out: DeclaredDependency[] = [];
  const seen = new Set<string>();
  const add = (key: string, rawRange: string, type: DependencyType) => {
    if (out.length >= MAX_DECLARED_DEPENDENCIES) return;
    const { name, range } = unalias(key, rawRange);
    if (!isValidPackageName(name)) return;
    // Per name, type and range: an alias and the real name (or two aliases of one package) are two dependencies.
    const id = `${type}\u0000${name}\u0000${range}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ name, range: sanitizeText(range.trim() || '*', MAX_RANGE_LENGTH), type });
  };
  for (const [name, range] of depMap(manifest.dependencies)) if (!optional.has(name)) add(name, range, 'runtime');
  for (const [name, range] of depMap(manifest.optionalDependencies)) add(name, range, 'optional');
  for (const [name, range] of depMap(manifest.peerDependencies)) add(name, range, 'peer');
  for (const [name, range] of depMap(manifest.devDependencies)) add(name, range, 'dev');
  return out;
}

/**
 * The version among `candidates` that `range` resolves to: the range itself when it names one
 * exactly (legacy keys too), else the highest that satisfies it; a dist-tag resolves only when
 * there is exactly one candidate. A URL, a path or a protocol spec (`file:`, `git+ssh:`,
 * `owner/repo`) names no registry version: undefined, as when none fits.
 */
export function resolveAmong(range: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  if (candidates.includes(range)) return range;
  if (isLegacyVersion(range) || /[:/\\]/.test(range)) return undefined;
  let valid: string | null = null;
  try {
    valid = semver.validRange(range);
  } catch {
    valid = null;
  }
  if (valid === null) return candidates.length === 1 ? candidates[0] : undefined;
  const best = semver.maxSatisfying(candidates.filter((v) => isSemverVersion(v)), range);
  return best ?? undefined;
}

export interface VersionWithManifest {
  name: string;
  version: string;
  /** Undefined when the manifest could not be read: no edges for this version. */
  manifest?: Record<string, unknown>;
}

/**
 * The edges of a set of versions installed together (a resolved tree, a lockfile's members):
 * each declared dependency that is not a dev dependency resolves to the member version of
 * that name the range selects (`resolve`, default: the highest member version satisfying it);
 * dev dependencies are never installed with their dependent, so they stay unresolved.
 */
export function edgesAmong(members: readonly VersionWithManifest[], resolve?: (name: string, range: string) => string | undefined): DependencyEdge[] {
  const versionsByName = new Map<string, string[]>();
  for (const m of members) {
    const list = versionsByName.get(m.name);
    if (list) list.push(m.version);
    else versionsByName.set(m.name, [m.version]);
  }
  const present = new Set(members.map((m) => `${m.name}@${m.version}`));
  const pick = resolve ?? ((name: string, range: string) => resolveAmong(range, versionsByName.get(name) ?? []));
  const edges: DependencyEdge[] = [];
  for (const member of members) {
    if (!member.manifest) continue;
    for (const dep of declaredDependencies(member.manifest)) {
      let resolved: string | null = null;
      if (dep.type !== 'dev') {
        const chosen = pick(dep.name, dep.range);
        if (chosen !== undefined && present.has(`${dep.name}@${chosen}`)) resolved = chosen;
      }
      edges.push({ package: member.name, version: member.version, ...dep, resolved });
    }
  }
  return edges;
}

/** Unresolved edges of one version (a publish, a version known only by itself). */
export function declaredEdges(name: string, version: string, manifest: Record<string, unknown> | undefined): DependencyEdge[] {
  return declaredDependencies(manifest).map((dep) => ({ package: name, version, ...dep, resolved: null }));
}

// Tags

export const MAX_TAG_NAME = 64;
export const MAX_TAG_DESCRIPTION = 500;
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** A tag's display name: 1 to 64 characters of text, trimmed, inner white space collapsed. */
export function assertTagName(value: unknown): string {
  const text = typeof value === 'string' ? value.trim().replace(/\s+/g, ' ') : '';
  // Characters, not UTF-16 units: an emoji is one.
  if (text === '' || [...text].length > MAX_TAG_NAME) throw validation(`a tag name must be text of 1 to ${MAX_TAG_NAME} characters`);
  return text;
}

/** `Web Frameworks` -> `web-frameworks`; accents dropped, anything else but a-z and 0-9 becomes a dash. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_TAG_NAME)
    .replace(/-+$/, '');
  return slug;
}

/** A slug: lower-case letters and digits in words joined by single dashes, at most 64 characters. */
export function assertSlug(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_TAG_NAME || !SLUG.test(value)) {
    throw validation(`a tag slug is lower-case letters and digits joined by single dashes (like 'http-clients'), at most ${MAX_TAG_NAME} characters`);
  }
  return value;
}

/** `#rrggbb` (or `#rgb`), stored lower-case as `#rrggbb`; null or '' clears it. */
export function assertColour(value: unknown): string | null {
  if (value === null || value === '') return null;
  if (typeof value === 'string') {
    const short = /^#([0-9a-fA-F])([0-9a-fA-F])([0-9a-fA-F])$/.exec(value);
    if (short) return `#${short[1]}${short[1]}${short[2]}${short[2]}${short[3]}${short[3]}`.toLowerCase();
    if (/^#[0-9a-fA-F]{6}$/.test(value)) return value.toLowerCase();
  }
  throw validation("a tag colour is a hex colour like '#3366cc' (or '#36c')");
}

/** A description: null, or text of at most 500 characters. */
export function assertTagDescription(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || value.length > MAX_TAG_DESCRIPTION) throw validation(`a tag description must be text of at most ${MAX_TAG_DESCRIPTION} characters`);
  return value.trim() === '' ? null : value.trim();
}

// The catalogue listing's cursor: the last package name of the previous page, opaque to clients.

export function encodeNameCursor(name: string): string {
  return Buffer.from(`name:${name}`).toString('base64url');
}

export function decodeNameCursor(cursor: unknown): string | undefined {
  if (cursor === undefined || cursor === null || cursor === '') return undefined;
  const invalid = () =>
    new GatekeeperError('EVALIDATION', 'that is not a valid catalogue cursor; pass the nextCursor of the previous page, or no cursor for the first page');
  if (typeof cursor !== 'string' || cursor.length > 400 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith('name:')) throw invalid();
  const name = text.slice(5);
  if (!isValidPackageName(name)) throw invalid();
  return name;
}

/**
 * A search text for the listing (`?q=`): at most 100 characters, matched anywhere in the name
 * without regard to case; returned as a LIKE pattern with `%`, `_` and `\` escaped.
 */
export function likePattern(q: unknown): string | undefined {
  if (q === undefined || q === null || q === '') return undefined;
  if (typeof q !== 'string' || q.length > 100) throw validation('q must be text of at most 100 characters');
  const text = q.trim().toLowerCase();
  if (text === '') return undefined;
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

// What gets recorded

/** A version as the catalogue records it: its license where a manifest says one. */
export interface RecordedVersion {
  name: string;
  version: string;
  license: string | null;
}

export interface CatalogueRecord {
  versions: RecordedVersion[];
  edges: DependencyEdge[];
}

/** The license a manifest declares, as the checks describe it; null without a manifest. */
export function licenseOf(manifest: Record<string, unknown> | undefined): string | null {
  if (!manifest) return null;
  return sanitizeText(describeLicense(parseLicense(manifest as { license?: unknown; licenses?: unknown })), 256);
}

/**
 * A resolved tree (a request's, an approval's): each node's declared dependencies resolve to
 * the version the resolution picked from the same packuments (npm's choice: `latest` when it
 * satisfies, else the highest non-deprecated match; a dist-tag names its version), where
 * that version is part of the tree.
 */
export function recordOfTree(nodes: readonly VersionWithManifest[], packuments: ReadonlyMap<string, Packument | undefined>): CatalogueRecord {
  const pick = (name: string, range: string): string | undefined => {
    const packument = packuments.get(name);
    if (!packument) return undefined;
    const tags = packument['dist-tags'];
    if (tags && Object.hasOwn(tags, range) && typeof tags[range] === 'string') return tags[range];
    try {
      return pickVersion(packument, range);
    } catch {
      return undefined;
    }
  };
  return { versions: nodes.map((n) => ({ name: n.name, version: n.version, license: licenseOf(n.manifest) })), edges: edgesAmong(nodes, pick) };
}

/** A lockfile's members: each dependency resolves to the member version its range selects. */
export function recordOfMembers(members: readonly VersionWithManifest[]): CatalogueRecord {
  return { versions: members.map((m) => ({ name: m.name, version: m.version, license: licenseOf(m.manifest) })), edges: edgesAmong(members) };
}

/** One version on its own (a publish): declared dependencies, none resolved. */
export function recordOfVersion(name: string, version: string, manifest: Record<string, unknown> | undefined): CatalogueRecord {
  return { versions: [{ name, version, license: licenseOf(manifest) }], edges: declaredEdges(name, version, manifest) };
}

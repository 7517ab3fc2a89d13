import { createHash } from 'node:crypto';
import ssri from 'ssri';
import { VERIFIABLE_ALGORITHMS } from './integrity';
import validateName from 'validate-npm-package-name';
import { GatekeeperError } from './errors';
import { assertDistTag, assertPackageName, assertSemverVersion, isScopeWildcard, scopeOf, shown, versionFromTarball } from './names';
import { isNamedVersion, rcompareVersions } from './versions';
import type { Role } from './roles';

/**
 * Private publishing: who may publish which names, and the rules that keep a published
 * name@version meaning the same bytes forever. Pure: no I/O.
 */

export interface PublishRule {
  id: string;
  /** A package name or a scope wildcard such as `@acme/*`. */
  pattern: string;
  principalType: 'role' | 'user';
  /** A role name or a username. */
  principal: string;
  /** An unscoped name that also exists upstream may be published here only with this set. */
  shadowUpstream: boolean;
  createdBy: string;
  createdAt: Date;
  /** Where the rule came from: `config`, `api`, or `claim` (a name claimed by its first publish through a glob rule). */
  source?: string;
}

export interface Publisher {
  username: string;
  role: Role;
}

/**
 * A glob publish rule: `*` (any unscoped name), `acme-*`, `@` + `*` + `/` + `*` (any scoped
 * name), `@acme/ui-*`. Unlike a name or a scope wildcard, a glob does not make names private: it
 * lets its principals claim a name that the upstream does not have, on its first publish
 * (recorded as a rule for that name, so the name is private from then on).
 */
export function isGlobPattern(pattern: string): boolean {
  return pattern.includes('*') && !isScopeWildcard(pattern);
}

/** Glob patterns accepted in publish rules: a name shape with `*` standing for any run of name characters. */
export function isValidGlob(pattern: string): boolean {
  if (!isGlobPattern(pattern) || pattern.length > 214) return false;
  const sample = pattern.replace(/\*/g, 'x');
  return /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(sample) || /^@x\/[a-z0-9._~*-]+$/.test(pattern.replace(/^@\*/, '@x'));
}

function globRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${escaped}$`);
}

export function patternMatches(pattern: string, name: string): boolean {
  if (isScopeWildcard(pattern)) return scopeOf(name) === pattern.slice(0, -2);
  if (isGlobPattern(pattern)) return name.length > 0 && !name.endsWith('/') && globRegex(pattern).test(name);
  return pattern === name;
}

/**
 * A name is private when a name or scope rule covers it (a claimed name has its own rule): it
 * is never fetched from the upstream. Glob rules alone never make a name private.
 */
export function isPrivateName(rules: readonly PublishRule[], name: string): boolean {
  return rules.some((r) => !isGlobPattern(r.pattern) && patternMatches(r.pattern, name));
}

const names = (r: PublishRule, who: Publisher) => (r.principalType === 'role' ? r.principal === who.role : r.principal === who.username);

/**
 * Admins may publish every private name; others need a name or scope rule naming their role or
 * username. A glob rule grants nothing on a private name: it only lets its principals claim a
 * name that is not private yet, and a claimed name has its own rule naming its claimant, so
 * nobody else the glob names may publish, unpublish, tag or deprecate it.
 */
export function mayPublish(rules: readonly PublishRule[], who: Publisher | undefined, name: string): boolean {
  if (!who || !isPrivateName(rules, name)) return false;
  if (who.role === 'admin') return true;
  return rules.some((r) => !isGlobPattern(r.pattern) && patternMatches(r.pattern, name) && names(r, who));
}

/** The users who claimed `name` (its rules of source `claim`; one, unless an admin added more). */
export function claimantsOf(rules: readonly PublishRule[], name: string): string[] {
  return rules.filter((r) => r.source === 'claim' && r.pattern === name && r.principalType === 'user').map((r) => r.principal);
}

/** Whether `who` may claim a name that is not private yet, through a glob rule (the upstream is asked separately). */
export function mayClaim(rules: readonly PublishRule[], who: Publisher | undefined, name: string): boolean {
  if (!who || isPrivateName(rules, name)) return false;
  const globs = rules.filter((r) => isGlobPattern(r.pattern) && patternMatches(r.pattern, name));
  return globs.length > 0 && (who.role === 'admin' || globs.some((r) => names(r, who)));
}

/**
 * Why `who` may not write `name`. With `claim` (a publish), a name a glob rule lets them claim
 * passes too: the caller then claims it. With `upstreamHas` (the caller asked the upstream), an
 * unscoped name the upstream has is told apart: a plain publish rule for it would be refused
 * (EUPSTREAMNAME), so the next step is a scoped name or `--shadow-upstream`.
 */
export function publishRefusal(
  rules: readonly PublishRule[],
  who: Publisher | undefined,
  name: string,
  options: { claim?: boolean; upstreamHas?: boolean } = {},
): GatekeeperError | undefined {
  if (!who) return new GatekeeperError('EUNAUTHENTICATED', `publishing needs a login: run 'npm login' against this registry`);
  if (!isPrivateName(rules, name)) {
    if (options.claim && mayClaim(rules, who, name)) return undefined;
    const globbed = rules.some((r) => isGlobPattern(r.pattern) && patternMatches(r.pattern, name));
    // An unscoped name the upstream has is told first: a publish rule for it would be refused (EUPSTREAMNAME).
    if (options.upstreamHas && !scopeOf(name)) {
      return new GatekeeperError(
        'ENOTPRIVATE',
        `${name} is not a private package of this registry, and the upstream registry has a package of that name, so it cannot be published here ` +
          `(a private ${name} would hide the upstream one from everyone: dependency confusion). Publish it under a scoped name (@<scope>/${name}), ` +
          `or, to replace the upstream package on purpose, an admin can declare it: gatekeeper publish-rule add ${name} --role publisher --shadow-upstream`,
      );
    }
    if (globbed && options.claim) return new GatekeeperError('EFORBIDDEN', `${who.username} (${who.role}) may not publish ${name}; ask an admin for a publish rule`);
    return new GatekeeperError(
      'ENOTPRIVATE',
      `${name} is not a private package of this registry, so it cannot be published here. An admin can declare it: ` +
        `gatekeeper publish-rule add ${scopeOf(name) ? `${scopeOf(name)}/*` : name} --role publisher`,
    );
  }
  if (!mayPublish(rules, who, name)) {
    const claimants = claimantsOf(rules, name);
    if (claimants.length > 0) {
      const by = claimants.join(' and ');
      return new GatekeeperError(
        'EFORBIDDEN',
        `${name} is claimed by ${by} (its first publisher here), so ${who.username} (${who.role}) may not publish, unpublish, tag or deprecate it. ` +
          `Ask ${by} to publish it, or ask an admin for a publish rule: gatekeeper publish-rule add ${name} --user ${who.username}`,
      );
    }
    return new GatekeeperError('EFORBIDDEN', `${who.username} (${who.role}) may not publish ${name}; ask an admin for a publish rule`);
  }
  return undefined;
}

export interface Tarball {
  filename: string;
  data: Buffer;
  integrity: string;
  shasum: string;
}

export interface PublishRequest {
  name: string;
  version: string;
  manifest: Record<string, unknown>;
  tarball: Tarball;
  distTags: Record<string, string>;
}

export function integrityOf(data: Buffer): string {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

export function shasumOf(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

const bad = (message: string) => new GatekeeperError('EBADPUBLISH', message);


const REPUBLISH = 'Publish with npm, which computes it from the tarball it sends';

/**
 * The `dist` a publish declares, checked against the tarball it carries before anything is
 * written: Verdaccio stores `dist` as it is and serves it to every installer. `dist.tarball`
 * must name this tarball (Verdaccio checks the shasum of the tarball it names, after writing
 * this one); `dist.shasum`, when present, must be the tarball's SHA-1 in hex; `dist.integrity`,
 * when present, must be an SRI string every hash of which matches the tarball.
 */
function checkDist(spec: string, distValue: unknown, tarball: Tarball): void {
  // Without one, the version would be stored and served without a tarball to install, and its number spent.
  if (distValue === undefined) throw bad(`the manifest of ${spec} has no dist (the tarball's URL and digests). ${REPUBLISH}`);
  if (!distValue || typeof distValue !== 'object' || Array.isArray(distValue)) throw bad(`the dist of ${spec} is not an object. ${REPUBLISH}`);
  const dist = distValue as { tarball?: unknown; integrity?: unknown; shasum?: unknown; signatures?: unknown; attestations?: unknown };
  // A registry's signatures and attestations are the registry's to add: from a publisher they would be served to every installer as if they were.
  for (const field of ['signatures', 'attestations'] as const) {
    if (dist[field] !== undefined) throw bad(`the dist of ${spec} carries ${field}, which only a registry adds (npm audit signatures reads them as the registry's). Publish without them`);
  }
  if (dist.tarball !== undefined) {
    const named = typeof dist.tarball === 'string' ? dist.tarball.replace(/.*\//, '') : undefined;
    if (named !== tarball.filename) {
      throw bad(`the dist.tarball of ${spec} (${shown(dist.tarball)}) does not name its tarball ${tarball.filename}. ${REPUBLISH}`);
    }
  }
  if (dist.shasum !== undefined) {
    if (typeof dist.shasum !== 'string' || !/^[0-9a-f]{40}$/.test(dist.shasum)) {
      throw bad(`the dist.shasum of ${spec} (${shown(dist.shasum)}) is not a SHA-1 digest in 40 lowercase hex digits. ${REPUBLISH}`);
    }
    if (dist.shasum !== tarball.shasum) throw bad(`the tarball of ${spec} does not match its declared shasum. ${REPUBLISH}`);
  }
  if (dist.integrity !== undefined) checkIntegrity(spec, dist.integrity, tarball.data);
}

/** Every hash of a declared SRI integrity, verified against the bytes; anything unreadable or unverifiable is refused. */
function checkIntegrity(spec: string, integrity: unknown, data: Buffer): void {
  const tokens = typeof integrity === 'string' ? integrity.trim().split(/\s+/).filter((t) => t !== '') : [];
  if (tokens.length === 0) throw bad(`the dist.integrity of ${spec} (${shown(integrity)}) is not an SRI integrity string (such as sha512-<base64>). ${REPUBLISH}`);
  for (const token of tokens) {
    const parsed = ssri.parse(token) as unknown as Record<string, Array<{ algorithm: string; digest: string }>> | null;
    const hashes = parsed ? Object.values(parsed).flat() : [];
    if (hashes.length !== 1) throw bad(`the dist.integrity of ${spec} (${shown(integrity)}) is not an SRI integrity string (such as sha512-<base64>). ${REPUBLISH}`);
    const [{ algorithm, digest }] = hashes;
    if (!VERIFIABLE_ALGORITHMS.includes(algorithm)) {
      throw bad(`the dist.integrity of ${spec} uses ${shown(algorithm)}, which this registry cannot verify (it verifies sha512, sha384, sha256 and sha1). ${REPUBLISH}`);
    }
    if (createHash(algorithm).update(data).digest('base64') !== digest) {
      throw bad(`the tarball of ${spec} does not match its declared integrity (${algorithm}). ${REPUBLISH}`);
    }
  }
}

/**
 * Reads the document `npm publish` PUTs: one version and one base64 tarball. Checks that
 * the tarball belongs to the version and that its digests match what the client declared.
 */
export function parsePublishBody(name: string, body: unknown): PublishRequest {
  assertPackageName(name);
  // What npm itself lets you publish: no capitals, no leading dot or underscore, at most 214 characters.
  if (!validateName(name).validForNewPackages) {
    throw bad(`${shown(name)} cannot be published: ${validateName(name).warnings?.[0] ?? 'npm accepts it only for old packages'}. Publish under a lowercase, URL-safe name`);
  }
  const doc = body as { name?: unknown; versions?: unknown; _attachments?: unknown; 'dist-tags'?: unknown };
  if (!doc || typeof doc !== 'object') throw bad('the publish body is not a JSON object');
  if (doc.name !== undefined && doc.name !== name) throw bad(`the document names ${String(doc.name)}, but the URL names ${name}`);
  const versions = doc.versions as Record<string, Record<string, unknown>> | undefined;
  const attachments = doc._attachments as Record<string, { data?: unknown }> | undefined;
  if (!versions || typeof versions !== 'object' || Object.keys(versions).length !== 1) throw bad('a publish carries exactly one version');
  if (!attachments || typeof attachments !== 'object' || Object.keys(attachments).length !== 1) throw bad('a publish carries exactly one tarball');
  const [version] = Object.keys(versions);
  assertSemverVersion(version);
  const manifest = versions[version];
  if (!manifest || typeof manifest !== 'object' || (manifest.name !== undefined && manifest.name !== name) || (manifest.version !== undefined && manifest.version !== version)) {
    throw bad(`the manifest of ${name}@${version} does not match its name and version`);
  }
  const [key] = Object.keys(attachments);
  const filename = key.split('/').pop() as string;
  if (versionFromTarball(name, filename) !== version) throw bad(`the tarball ${filename} is not the tarball of ${name}@${version}`);
  const encoded = attachments[key]?.data;
  if (typeof encoded !== 'string' || encoded.length === 0) throw bad('the tarball is empty');
  const data = Buffer.from(encoded, 'base64');
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) throw bad(`the tarball of ${name}@${version} is not gzip data`);
  const tarball: Tarball = { filename, data, integrity: integrityOf(data), shasum: shasumOf(data) };
  checkDist(`${name}@${version}`, manifest.dist, tarball);
  const tags = doc['dist-tags'] ?? {};
  if (!tags || typeof tags !== 'object' || Array.isArray(tags)) throw bad(`the dist-tags of the publish of ${name}@${version} are not an object of tag names and versions`);
  for (const [tag, target] of Object.entries(tags)) {
    assertDistTag(tag);
    // npm sends the one tag the new version gets (latest, or --tag): moving another version's tag is `npm dist-tag`'s job.
    if (target !== version) throw bad(`the publish of ${name}@${version} points its dist-tag ${shown(tag)} at ${shown(target)}. A publish may tag only the version it publishes; move other tags with npm dist-tag`);
  }
  return { name, version, manifest, tarball, distTags: tags as Record<string, string> };
}

/**
 * The version a publish document names, when it names exactly one that is a version: what the
 * audit of a refusal of the document records, also when the document is refused before it is read.
 */
export function publishedVersionOf(body: unknown): string | undefined {
  const versions = (body as { versions?: unknown } | null | undefined)?.versions;
  if (!versions || typeof versions !== 'object' || Array.isArray(versions)) return undefined;
  const keys = Object.keys(versions);
  return keys.length === 1 && isNamedVersion(keys[0]) ? keys[0] : undefined;
}

/**
 * A write of package metadata without a tarball: `npm unpublish <name>@<version>` (PUT
 * /<name>/-rev/<rev>, the stored document minus the versions it removes), `npm deprecate` and
 * `npm star` (PUT /<name>, the document with changed `deprecated` or `users`). Such a write can
 * remove versions or change their deprecation, stars and dist-tags; it can never add a
 * version or a tarball (Verdaccio would store what it carries without any of a publish's
 * checks), name a package that is not here, or point a dist-tag at a version that is not
 * kept. Returns the versions it removes.
 */
export function checkMetadataWrite(
  name: string,
  body: unknown,
  stored: { versions?: Record<string, unknown>; 'dist-tags'?: Record<string, unknown> } | undefined,
  kind: 'change' | 'deprecate',
): { removed: string[] } {
  const what = kind === 'change' ? `the change of ${name}` : `the metadata write to ${name}`;
  const doc = body as { name?: unknown; versions?: unknown; _attachments?: unknown; 'dist-tags'?: unknown } | undefined;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad(`${what} is not a JSON object. Use npm unpublish, npm deprecate or npm dist-tag`);
  if (doc.name !== undefined && doc.name !== name) throw bad(`${what} names ${shown(doc.name)}, but the URL names ${name}`);
  if (!stored) throw new GatekeeperError('ENOTFOUND', `there is no package ${name} here to change. Publish it first with npm publish`);
  const attachments = doc._attachments;
  if (attachments !== undefined && attachments !== null && (typeof attachments !== 'object' || Object.keys(attachments).length > 0)) {
    throw bad(`${what} carries tarballs. New versions are published with npm publish, which checks them; a change can only remove versions or change their metadata`);
  }
  const versions = doc.versions;
  if (versions === undefined && kind === 'deprecate') return { removed: [] };
  if (!versions || typeof versions !== 'object' || Array.isArray(versions)) throw bad(`${what} has no versions object. Use npm unpublish or npm deprecate, which send the stored document`);
  const storedVersions = stored.versions ?? {};
  const added = Object.keys(versions).filter((v) => !Object.prototype.hasOwnProperty.call(storedVersions, v));
  if (added.length > 0) {
    throw bad(`${what} carries ${added.length === 1 ? 'a version' : 'versions'} the registry does not have (${added.slice(0, 5).map((v) => shown(v)).join(', ')}). New versions are published with npm publish`);
  }
  // Verdaccio removes a version whose value is null and stores any `deprecated` it is given: each kept version is its manifest, its deprecation a message.
  for (const [version, manifest] of Object.entries(versions as Record<string, unknown>)) {
    if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) {
      throw bad(`${what} gives version ${shown(version)} as ${shown(manifest)}, not its manifest. Leave a version out to unpublish it (npm unpublish <name>@<version>)`);
    }
    const deprecated = (manifest as { deprecated?: unknown }).deprecated;
    if (deprecated !== undefined && typeof deprecated !== 'string') {
      throw bad(`${what} deprecates version ${shown(version)} with ${shown(deprecated)}, not a message. Use npm deprecate <name>@<version> "<message>" ("" to undo)`);
    }
  }
  const kept = new Set(Object.keys(versions));
  const tags = doc['dist-tags'];
  // Verdaccio replaces the stored tags with the document's: without any, every tag but a recomputed latest would go, unaudited.
  if (tags === undefined) throw bad(`${what} carries no dist-tags, so the stored ones would be dropped. Use npm unpublish or npm deprecate, which send the stored document; move tags with npm dist-tag`);
  {
    if (!tags || typeof tags !== 'object' || Array.isArray(tags)) throw bad(`the dist-tags of ${what} are not an object of tag names and versions`);
    const storedTags = stored['dist-tags'] ?? {};
    for (const [tag, target] of Object.entries(tags)) {
      // A tag stored before its name was refused (constructor) is sent back by npm unpublish and deprecate: it may stay.
      if (!Object.prototype.hasOwnProperty.call(storedTags, tag)) assertDistTag(tag);
      if (typeof target !== 'string' || !kept.has(target)) {
        throw bad(`${what} points its dist-tag ${shown(tag)} at ${shown(target)}, which is not a version it keeps. Point tags at kept versions, or let npm unpublish move them`);
      }
    }
  }
  return { removed: Object.keys(storedVersions).filter((v) => !kept.has(v)) };
}

/** What a metadata write (a document written back without a tarball) changes in a stored package, for the audit log. */
export interface MetadataChanges {
  /** Versions whose deprecation message changed ('' when un-deprecated). */
  deprecations: Array<{ version: string; deprecated: string }>;
  /** Dist-tags added (`from` null), moved, or removed (`to` null). */
  distTags: Array<{ tag: string; from: string | null; to: string | null }>;
}

/**
 * The deprecations and dist-tag changes a checked metadata write makes (see checkMetadataWrite).
 * A document without `dist-tags` leaves them alone (npm star sends none).
 */
export function metadataChanges(
  stored: { versions?: Record<string, { deprecated?: unknown } | undefined>; 'dist-tags'?: Record<string, string> } | undefined,
  body: unknown,
): MetadataChanges {
  const doc = (body ?? {}) as { versions?: Record<string, { deprecated?: unknown } | undefined>; 'dist-tags'?: Record<string, unknown> };
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const deprecations = Object.entries(doc.versions ?? {})
    .filter(([version, manifest]) => stored?.versions?.[version] && text(stored.versions[version]?.deprecated) !== text(manifest?.deprecated))
    .map(([version, manifest]) => ({ version, deprecated: text(manifest?.deprecated) }));
  const distTags: MetadataChanges['distTags'] = [];
  const after = doc['dist-tags'];
  if (after && typeof after === 'object' && !Array.isArray(after)) {
    const before = stored?.['dist-tags'] ?? {};
    const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
    for (const [tag, to] of Object.entries(after)) {
      const from = own(before, tag) ? before[tag] : null;
      if (typeof to === 'string' && from !== to) distTags.push({ tag, from, to });
    }
    for (const [tag, from] of Object.entries(before)) if (!own(after, tag)) distTags.push({ tag, from, to: null });
  }
  return { deprecations, distTags };
}

/** What the gate let a metadata write do: the versions it removes, and its dist-tag changes (metadataChanges). */
export interface ApprovedMetadataWrite {
  removed: readonly string[];
  distTags: MetadataChanges['distTags'];
}

/**
 * Applies a checked metadata write to the stored document as it is when the write lands (read
 * under the package's storage lock), which may hold more than the document the write was
 * checked against: a version published meanwhile. Only what the gate let it do is done: the
 * versions it removes go (with their `time`, and their tarballs' link to them); each kept
 * version's `deprecated` becomes the written one (cleared when empty); the dist-tags it adds,
 * moves or removes change, the others stay (a tag a publish moved meanwhile is kept); a tag
 * left naming no version goes; `users` (stars) become the written ones. Verdaccio's own
 * changePackage instead removed every stored version the write did not name and replaced every
 * tag, so a version published between the check and the write was lost, unrecorded.
 */
export function applyMetadataWrite(
  stored: { versions: Record<string, unknown>; 'dist-tags': Record<string, string>; time?: Record<string, string>; users?: unknown; _attachments?: Record<string, { version?: string }> },
  written: { versions?: unknown; users?: unknown },
  approved: ApprovedMetadataWrite,
  now: Date,
): void {
  for (const version of approved.removed) {
    if (!Object.hasOwn(stored.versions, version)) continue;
    delete stored.versions[version];
    if (stored.time) delete stored.time[version];
    for (const file of Object.values(stored._attachments ?? {})) if (file?.version === version) delete file.version;
  }
  const versions = (written.versions && typeof written.versions === 'object' ? written.versions : {}) as Record<string, { deprecated?: unknown }>;
  for (const [version, manifest] of Object.entries(versions)) {
    const kept = stored.versions[version] as { deprecated?: unknown } | undefined;
    if (!kept || !manifest || !Object.hasOwn(manifest, 'deprecated') || manifest.deprecated === kept.deprecated) continue;
    if (manifest.deprecated) kept.deprecated = manifest.deprecated;
    else delete kept.deprecated;
    stored.time = { ...stored.time, modified: now.toISOString() };
  }
  const tags = stored['dist-tags'];
  for (const change of approved.distTags) {
    if (change.to === null) delete tags[change.tag];
    else tags[change.tag] = change.to;
  }
  for (const [tag, version] of Object.entries(tags)) if (!Object.hasOwn(stored.versions, version)) delete tags[tag];
  stored.users = written.users;
}

export interface VersionRecord {
  name: string;
  version: string;
  integrity: string;
  shasum: string;
  publisher: string;
  state: 'reserved' | 'published' | 'unpublished';
  reservedAt: Date;
  publishedAt: Date | null;
  unpublishedAt: Date | null;
  unpublishedBy: string | null;
}

/** How long a reservation may wait for its publish; older, it was left by a publish that died, and is given back (unless its version was stored). */
export const STALE_RESERVATION_MS = 10 * 60_000;

export function versionExists(record: VersionRecord): GatekeeperError {
  const when = (record.publishedAt ?? record.reservedAt).toISOString();
  if (record.state === 'reserved') {
    // Not published yet: a publish of it holds the version. Versions are immutable once stored,
    // but a publish that died without storing it gives it back (see PublishingService.claim).
    return new GatekeeperError(
      'EVERSIONEXISTS',
      `${record.name}@${record.version} is being published (by ${record.publisher}, since ${when}), so it cannot be published again. ` +
        `Publish a new version; or, if that publish failed, try again in ${STALE_RESERVATION_MS / 60_000} minutes: a reservation whose publish died is given back then, unless the version was stored`,
      { publishedAt: when, integrity: record.integrity },
    );
  }
  const state = record.state === 'unpublished' ? ` (unpublished since ${record.unpublishedAt?.toISOString() ?? 'then'})` : '';
  return new GatekeeperError(
    'EVERSIONEXISTS',
    `${record.name}@${record.version} was published on ${when}${state}; versions are immutable, publish a new version`,
    { publishedAt: when, integrity: record.integrity },
  );
}

export interface UnpublishPolicy {
  /** How long after publishing a package's publishers may still unpublish a version; 0: never. */
  publisherWindowMs: number;
}

/**
 * Admins always; the package's publishers (whoever may publish it; the caller checks that)
 * within the window after the version was published, as npm does.
 */
export function unpublishRefusal(policy: UnpublishPolicy, who: Publisher, record: VersionRecord | undefined, now: number): GatekeeperError | undefined {
  if (who.role === 'admin') return undefined;
  const spec = record ? `${record.name}@${record.version}` : 'this version';
  if (!record || record.state !== 'published' || !record.publishedAt) {
    return new GatekeeperError('EFORBIDDEN', `${spec} was not published here; only an admin may remove it`);
  }
  if (policy.publisherWindowMs <= 0) {
    return new GatekeeperError('EUNPUBLISHWINDOW', `${spec} cannot be unpublished by publishers on this registry (the unpublish window is 0). Ask an admin, or deprecate it instead (npm deprecate)`);
  }
  const age = now - record.publishedAt.getTime();
  if (age > policy.publisherWindowMs) {
    const hours = Math.round(policy.publisherWindowMs / 3_600_000);
    return new GatekeeperError(
      'EUNPUBLISHWINDOW',
      `${spec} was published on ${record.publishedAt.toISOString()}; publishers may unpublish only within ${hours} hours. Ask an admin, or deprecate it instead (npm deprecate)`,
    );
  }
  return undefined;
}

/** Newest first: by publish time, then by version (legacy keys such as 1.0.0beta included; see versions.ts). */
export function compareNewestFirst(a: { version: string; publishedAt: string | null }, b: { version: string; publishedAt: string | null }): number {
  const time = (t: string | null) => (t ? Date.parse(t) || 0 : 0);
  const ta = time(a.publishedAt);
  const tb = time(b.publishedAt);
  if (ta !== tb) return tb - ta;
  return rcompareVersions(a.version, b.version);
}

import { GatekeeperError } from './errors';
import { ownMap, Packument } from './packument';
import type { VersionManifest } from './policy';
import { isPrototypeKey, MAX_VERSION_LENGTH } from './versions';

/**
 * Upstream packuments are messy: versions that are null or a string, tarballs that are
 * numbers, `time` entries that are not dates, dist-tags pointing nowhere, keys such as
 * `__proto__`, and legacy version keys strict semver rejects (express has `1.0.0beta`).
 * `normalizePackument` turns whatever JSON an upstream answered into a packument every other
 * part can rely on, and says what it dropped. Pure: no I/O; never throws except EUPSTREAM for
 * a document that cannot be a packument at all.
 *
 * What the result guarantees:
 * - `name` is the requested name; `versions`, `dist-tags` and `time` are objects without a
 *   prototype (reading `versions.constructor` finds nothing), each key an own property;
 * - every version entry is a plain object whose `dist.tarball` is an http(s) URL, whose
 *   `dist.integrity` (when present) is a Subresource Integrity string and `dist.shasum` (when
 *   present) printable characters without spaces, whose `version` (when present) is its key and whose `name` (when
 *   present) is the package's;
 * - version keys are 1 to 256 printable characters without white space; a key strict semver
 *   rejects (`1.0.0beta`) but whose entry is fine stays;
 * - `time` holds only ISO 8601 date-times, for `created`, `modified` and kept versions;
 * - every dist-tag is a string naming a kept version;
 * - no `stagedVersions` or `policyRestrictions` (see NPM_READS).
 * Everything else (readme, maintainers, the manifests' other fields) is passed through as it
 * is; sanitising text is not this module's job.
 */

export interface DroppedVersion {
  /** The version key, shortened and escaped for display. */
  version: string;
  /** Why, for people: "its entry is null, not an object". */
  reason: string;
}

export interface RemovedEntry {
  field: 'time' | 'dist-tags' | 'packument';
  /** The key, shortened and escaped for display. */
  key: string;
  reason: string;
}

export interface NormalizedPackument {
  packument: Packument;
  /** Version entries left out, with the reason. */
  dropped: DroppedVersion[];
  /** `time` entries, dist-tags and top-level fields left out, with the reason. */
  removed: RemovedEntry[];
  /**
   * Versions the upstream unpublished: its `time` still names them (as npm's registry keeps
   * it), its `versions` do not (and never held them broken). A stored copy of one is removed
   * (core/packument-merge.ts).
   */
  unpublished: string[];
}

/** `time` keys that are not versions. */
const TIME_KEYS = new Set(['created', 'modified']);

/** ISO 8601 date-time with a zone, as registries write it: 2011-10-22T04:19:40.000Z. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

const MAX_SHOWN = 80;

/** A key as reports show it: control and non-ASCII characters escaped, at most 80 characters. */
export function displayKey(key: string): string {
  const escaped = key.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > MAX_SHOWN ? `${escaped.slice(0, MAX_SHOWN - 3)}... (${key.length} characters)` : escaped;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An own property, never one found through the prototype chain. */
function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function upstream(name: string, what: string): GatekeeperError {
  return new GatekeeperError('EUPSTREAM', `the upstream registry's answer for ${name} is not a packument: ${what}. Try again later; if it persists, the upstream is broken or is not an npm registry`);
}

/** Why a version key cannot be kept, or undefined when it can. */
function badKey(key: string): string | undefined {
  if (isPrototypeKey(key)) return `'${key}' cannot be a version (it names an object's prototype)`;
  if (key.length === 0) return 'the version key is empty';
  if (key.length > MAX_VERSION_LENGTH) return `the version key is ${key.length} characters long (at most ${MAX_VERSION_LENGTH})`;
  if (!/^[\x21-\x7e]+$/.test(key)) return 'the version key contains white space, control or non-ASCII characters';
  if (/[/\\?#%]/.test(key)) return 'the version key contains a character that cannot be in a URL path segment (/ \\ ? # %)';
  return undefined;
}

/** Why a version entry cannot be kept, or undefined when it can. */
function badEntry(name: string, key: string, entry: unknown): string | undefined {
  if (!isPlainObject(entry)) return `its entry is ${describe(entry)}, not a version manifest object`;
  const version = own(entry, 'version');
  if (version !== undefined && version !== key) {
    return typeof version === 'string' ? `its version field says ${JSON.stringify(displayKey(version))}` : `its version field is ${describe(version)}, not the version`;
  }
  const entryName = own(entry, 'name');
  if (entryName !== undefined && entryName !== name) {
    return typeof entryName === 'string' ? `its name field says ${JSON.stringify(displayKey(entryName))}, not ${name}` : `its name field is ${describe(entryName)}, not the package name`;
  }
  const dist = own(entry, 'dist');
  if (dist === undefined) return 'it has no dist (so no tarball)';
  if (!isPlainObject(dist)) return `its dist is ${describe(dist)}, not an object with a tarball`;
  const tarball = own(dist, 'tarball');
  if (tarball === undefined) return 'it has no dist.tarball';
  if (typeof tarball !== 'string') return `its dist.tarball is ${describe(tarball)}, not a URL`;
  if (!isHttpUrl(tarball)) return 'its dist.tarball is not an http(s) URL';
  const integrity = own(dist, 'integrity');
  if (integrity !== undefined && (typeof integrity !== 'string' || !INTEGRITY.test(integrity))) return 'its dist.integrity is not a Subresource Integrity string';
  const shasum = own(dist, 'shasum');
  if (shasum !== undefined && (typeof shasum !== 'string' || !SHASUM.test(shasum))) return 'its dist.shasum is not a digest (printable characters, no spaces)';
  return undefined;
}

/** Subresource Integrity as npm writes it: `algorithm-base64` hashes (with `?options`), separated by spaces, printable ASCII only. */
const INTEGRITY = /^(?=[\x20-\x7e]{1,4096}$) *[a-z0-9]+-[A-Za-z0-9+/=_-]+(?:\?[\x21-\x7e]*)?(?: +[a-z0-9]+-[A-Za-z0-9+/=_-]+(?:\?[\x21-\x7e]*)?)* *$/;
/** Checked against the bytes as hex SHA-1 when used; here only kept printable. */
const SHASUM = /^[\x21-\x7e]{1,128}$/;

function isHttpUrl(text: string): boolean {
  if (text.length > 4096) return false;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Why a time value cannot be kept, or undefined when it can. */
function badTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return `it is ${describe(value)}, not a date`;
  if (!ISO_DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) return `${JSON.stringify(displayKey(value))} is not an ISO 8601 date-time`;
  return undefined;
}

/**
 * Top-level fields npm itself acts on besides `versions` (npm-pick-manifest): an upstream's are
 * never passed on. Staged versions would install without a decision (`npm install
 * --include-staged`), from wherever their manifests point; policy restrictions are the
 * gatekeeper's own to send (see policyRestrictions in packument.ts).
 */
const NPM_READS: Record<string, string | undefined> = Object.assign(Object.create(null), {
  stagedVersions: 'staged versions are not passed on: they would install without a decision',
  policyRestrictions: "the upstream's policy restrictions are not passed on: the gatekeeper sends its own",
});

/**
 * Checks and normalises what an upstream answered for `requestedName`. Throws
 * GatekeeperError EUPSTREAM (502) when it cannot be a packument: not a plain object, a `name`
 * other than the requested one, `versions` that is not an object. Drops, and reports, the
 * parts that are broken; keeps everything else as it is. Never mutates its input.
 */
export function normalizePackument(doc: unknown, requestedName: string): NormalizedPackument {
  if (!isPlainObject(doc)) throw upstream(requestedName, `it is ${describe(doc)}, not an object`);
  const name = own(doc, 'name');
  if (name !== requestedName) {
    throw upstream(requestedName, name === undefined ? 'it has no name' : typeof name === 'string' ? `it names ${JSON.stringify(displayKey(name))}` : `its name is ${describe(name)}`);
  }
  const rawVersions = own(doc, 'versions');
  if (rawVersions !== undefined && !isPlainObject(rawVersions)) throw upstream(requestedName, `its versions are ${describe(rawVersions)}, not an object`);

  const dropped: DroppedVersion[] = [];
  const removed: RemovedEntry[] = [];
  const versions = ownMap<VersionManifest>();
  for (const key of Object.keys(rawVersions ?? {})) {
    const entry = (rawVersions as Record<string, unknown>)[key];
    const reason = badKey(key) ?? badEntry(requestedName, key, entry);
    if (reason) dropped.push({ version: displayKey(key), reason });
    else versions[key] = entry as VersionManifest;
  }

  const time = ownMap<string>();
  const unpublished: string[] = [];
  const rawTime = own(doc, 'time');
  if (rawTime !== undefined && !isPlainObject(rawTime)) {
    removed.push({ field: 'packument', key: 'time', reason: `time is ${describe(rawTime)}, not an object` });
  } else if (rawTime) {
    for (const key of Object.keys(rawTime)) {
      const value = rawTime[key];
      if (!TIME_KEYS.has(key) && !Object.hasOwn(versions, key)) {
        if (key !== 'unpublished' && !Object.hasOwn(rawVersions ?? {}, key) && badKey(key) === undefined) unpublished.push(key);
        removed.push({ field: 'time', key: displayKey(key), reason: key === 'unpublished' ? 'unpublish records are not passed on' : 'it is not the time of a version here' });
        continue;
      }
      const reason = badTime(value);
      if (reason) removed.push({ field: 'time', key: displayKey(key), reason });
      else time[key] = value as string;
    }
  }

  const distTags = ownMap<string>();
  const rawTags = own(doc, 'dist-tags');
  if (rawTags !== undefined && !isPlainObject(rawTags)) {
    removed.push({ field: 'packument', key: 'dist-tags', reason: `dist-tags is ${describe(rawTags)}, not an object` });
  } else if (rawTags) {
    for (const tag of Object.keys(rawTags)) {
      const target = rawTags[tag];
      let reason: string | undefined;
      if (isPrototypeKey(tag) || tag.length === 0) reason = `'${displayKey(tag)}' cannot be a tag`;
      else if (typeof target !== 'string') reason = `it points at ${describe(target)}, not a version`;
      else if (!Object.hasOwn(versions, target)) reason = `it points at ${JSON.stringify(displayKey(target))}, which is not a version here`;
      if (reason) removed.push({ field: 'dist-tags', key: displayKey(tag), reason });
      else distTags[tag] = target as string;
    }
  }

  const packument: Packument = { name: requestedName };
  for (const key of Object.keys(doc)) {
    if (key === 'name' || key === 'versions' || key === 'time' || key === 'dist-tags') continue;
    if (isPrototypeKey(key)) {
      removed.push({ field: 'packument', key, reason: 'it names an object prototype' });
      continue;
    }
    const reason = NPM_READS[key];
    if (reason) {
      removed.push({ field: 'packument', key, reason });
      continue;
    }
    packument[key] = doc[key];
  }
  packument['dist-tags'] = distTags;
  packument.versions = versions;
  if (rawTime !== undefined && isPlainObject(rawTime)) packument.time = time;
  return { packument, dropped, removed, unpublished };
}

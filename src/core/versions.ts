import semver from 'semver';

/**
 * Version keys as packuments really have them. Most are strict semver (`1.2.3`,
 * `2.0.0-beta.1`), but old packages carry keys strict semver rejects: express has
 * `1.0.0beta`, `1.0.0rc2`, `3.0.0alpha1` and more. Such a *legacy key* is a real version: it
 * stays in packuments, can be approved, banned and explained, and must never make a sort or a
 * range test throw. Pure: no I/O.
 *
 * The rules, used by every path that sorts, compares or ranges over versions:
 *
 * - **Order.** Versions order by their *reading*: a strict version as itself, a legacy key as
 *   its loose semver reading (`1.0.0beta` as `1.0.0-beta`), else as its coerced version (the
 *   first `x.y.z` in it, `1.0` as `1.0.0`). Keys with no reading at all order below every other
 *   version. Equal readings order by plain string comparison (code units), so the order is
 *   total and stable: `1.0.0-beta` < `1.0.0beta` < `1.0.0`.
 * - **Ranges.** A semver range never matches a legacy key. A rule whose range string *is* the
 *   key (`express@1.0.0beta`) matches exactly that key. One exception, so that deny rules fail
 *   closed: a ban or advisory whose range covers every release (`*`, `>=0.0.0`) covers legacy
 *   keys too (see `compileRange`'s `legacy` option).
 */

/** The longest version or range accepted (semver's own limit). */
export const MAX_VERSION_LENGTH = 256;

/** Property names that would reach an object's prototype when used as a key. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isPrototypeKey(key: string): boolean {
  return PROTOTYPE_KEYS.has(key);
}

/** A canonical strict semver version: `semver.valid(v) === v` (`v1.0.0` is not, `1.0.0` is). */
export function isSemverVersion(version: unknown): version is string {
  return typeof version === 'string' && version.length <= MAX_VERSION_LENGTH && semver.valid(version) === version;
}

/**
 * Whether a string can be a version key of a packument at all: 1 to 256 printable ASCII
 * characters without white space, and none of `/ \ ? # %` (a key must fit in a URL path
 * segment and a tarball file name as it is), and not a prototype property name.
 */
export function isVersionKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= MAX_VERSION_LENGTH &&
    /^[\x21-\x7e]+$/.test(key) &&
    !/[/\\?#%]/.test(key) &&
    !isPrototypeKey(key)
  );
}

/**
 * A legacy version: a version key that is neither strict semver nor a semver range, but reads
 * like a version (it starts with a digit): `1.0.0beta`, `2.0.0rc3`, `3.0.0alpha1`. Only these
 * can be named where a version or an exact range is expected (`gatekeeper approve
 * express@1.0.0beta`): `foo@latest` still reads as a mistake, and `foo@1.0` or `foo@v1.2.3`
 * as the ranges they are (a range also matches the key equal to it, see `compileRange`).
 */
export function isLegacyVersion(version: unknown): version is string {
  return isVersionKey(version) && /^\d/.test(version) && !isSemverVersion(version) && semver.validRange(version) === null;
}

/** A version that may be named in a request: strict semver or a legacy version. */
export function isNamedVersion(version: unknown): version is string {
  return isSemverVersion(version) || isLegacyVersion(version);
}

/** What a version is ordered by (see the module comment); null when it has none. */
export function versionReading(version: string): semver.SemVer | null {
  if (typeof version !== 'string' || version.length > MAX_VERSION_LENGTH) return null;
  try {
    return semver.parse(version, { loose: true }) ?? semver.coerce(version);
  } catch {
    return null;
  }
}

function compareReadings(a: string, ra: semver.SemVer | null, b: string, rb: semver.SemVer | null): number {
  if (ra && rb) {
    const c = ra.compare(rb);
    if (c !== 0) return c;
  } else if (ra || rb) {
    return ra ? 1 : -1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order over any version keys, legacy ones included; never throws. */
export function compareVersions(a: string, b: string): number {
  return compareReadings(a, versionReading(a), b, versionReading(b));
}

/** Newest first. */
export function rcompareVersions(a: string, b: string): number {
  return compareVersions(b, a);
}

/** A sorted copy (oldest first; `descending` for newest first), each key read once. */
export function sortVersions(versions: readonly string[], descending = false): string[] {
  const decorated = versions.map((v) => ({ v, r: versionReading(v) }));
  decorated.sort((x, y) => compareReadings(x.v, x.r, y.v, y.r) * (descending ? -1 : 1));
  return decorated.map((d) => d.v);
}

/** The item whose version orders highest, or undefined for an empty list. One pass. */
export function newestBy<T>(items: readonly T[], versionOf: (item: T) => string): T | undefined {
  let best: T | undefined;
  let bestVersion = '';
  let bestReading: semver.SemVer | null = null;
  for (const item of items) {
    const v = versionOf(item);
    const r = versionReading(v);
    if (best === undefined || compareReadings(v, r, bestVersion, bestReading) > 0) {
      best = item;
      bestVersion = v;
      bestReading = r;
    }
  }
  return best;
}

const RANGE_OPTIONS = { includePrerelease: true } as const;

/** Tests versions against one stored range string. */
export interface VersionMatcher {
  readonly range: string;
  test(version: string): boolean;
}

export interface RangeOptions {
  /**
   * How a range treats legacy keys. `exact` (default, for approvals, waivers and exemptions):
   * only a range string equal to the key matches it. `cover-all` (for bans and advisories):
   * also a range that covers every release (`*`, `>=0.0.0`), so "all of it" denies legacy
   * keys too.
   */
  legacy?: 'exact' | 'cover-all';
  /** The longest range string compiled (default MAX_VERSION_LENGTH, what a policy range may be); longer ones throw. */
  maxLength?: number;
}

/** Whether a range admits every release version (`*`, `x`, `>=0.0.0`, `>=0`). */
export function coversEveryRelease(range: string): boolean {
  try {
    return semver.validRange(range) !== null && semver.subset('>=0.0.0', range);
  } catch {
    return false;
  }
}

/**
 * A matcher for a stored range: a semver range (matching strict versions, prereleases
 * included, and the key equal to the range string), or a legacy version matched exactly.
 * Throws when the string is neither: the caller treats a corrupt policy as unavailable.
 */
export function compileRange(range: string, options: RangeOptions = {}): VersionMatcher {
  if (typeof range === 'string' && range.length <= (options.maxLength ?? MAX_VERSION_LENGTH) && semver.validRange(range) !== null) {
    const parsed = new semver.Range(range, RANGE_OPTIONS);
    let legacyToo: boolean | undefined;
    const coversLegacy = () => (legacyToo ??= options.legacy === 'cover-all' && coversEveryRelease(range));
    return {
      range,
      test: (version) => {
        if (version === range) return true;
        // Parsed once: a canonical strict version is tested against the range, anything else is a legacy key.
        const strict = typeof version === 'string' && version.length <= MAX_VERSION_LENGTH ? semver.parse(version) : null;
        return strict !== null && strict.version === version ? parsed.test(strict) : coversLegacy();
      },
    };
  }
  if (isLegacyVersion(range)) return { range, test: (version) => version === range };
  throw new TypeError(`'${String(range)}' is neither a semver range nor a version`);
}

/** One-off form of `compileRange(range, options).test(version)`; false for a range that is neither. */
export function rangeMatches(range: string, version: string, options: RangeOptions = {}): boolean {
  try {
    return compileRange(range, options).test(version);
  } catch {
    return false;
  }
}

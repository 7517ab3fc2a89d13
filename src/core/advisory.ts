import semver from 'semver';
import { GatekeeperError } from './errors';
import { isValidPackageName } from './names';
import { sanitizeText } from './text';
import { compareVersions, compileRange, isSemverVersion, VersionMatcher } from './versions';

/**
 * Security advisories: the npm bulk advisory format (what `npm audit` asks the registry for)
 * and OSV, normalised to one shape. Pure: no I/O.
 */

export const SEVERITIES = ['low', 'moderate', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Advisory {
  /** Unique per source: `ghsa:GHSA-…`, `npm:1234`, `osv:…`. */
  key: string;
  name: string;
  /** The id shown to users: the GHSA id when there is one. */
  id: string;
  title: string;
  url: string | null;
  severity: Severity;
  /** A semver range of the affected versions. */
  vulnerableVersions: string;
  /** Versions the source names as fixes (OSV `fixed` events); may be empty. */
  fixedIn: string[];
  /** Where it came from: the upstream's bulk answers, an OSV import, or an admin's flag (`gatekeeper advisories flag`). */
  source: 'upstream' | 'osv' | 'manual';
  /**
   * Malware, its own verdict whatever the severity (the malware rule, EMALWARE): an OSV entry
   * whose id starts with `MAL-`, one its source marks as malicious, or an admin's flag.
   */
  malware?: boolean;
  /** When the source withdrew it (OSV `withdrawn`); from then on it affects nothing. */
  withdrawnAt?: string | null;
  /** An admin's audited override of this one entry (a false positive); it then affects nothing. */
  overridden?: { by: string; reason: string; at: string } | null;
}

/**
 * Whether an entry still counts: not withdrawn by its source (at or before `now`) and not
 * overridden by an admin.
 */
export function inForce(advisory: Advisory, now: number): boolean {
  if (advisory.overridden) return false;
  if (advisory.withdrawnAt) {
    const at = Date.parse(advisory.withdrawnAt);
    if (!Number.isNaN(at) && at <= now) return false;
  }
  return true;
}

/** CWE-506, "Embedded Malicious Code": how GitHub's malware advisories are marked. */
const MALWARE_CWE = 'CWE-506';

function hasMalwareCwe(value: unknown): boolean {
  return Array.isArray(value) && value.some((c) => typeof c === 'string' && c.toUpperCase() === MALWARE_CWE);
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}

export function severityAtLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}

function ghsaOf(text: string | undefined | null): string | undefined {
  return text ? /GHSA(-[23456789cfghjmpqrvwx]{4}){3}/i.exec(text)?.[0] : undefined;
}

/** An npm advisory id as the bulk endpoint gives it: a number, or an id of the OSV shape. */
function bulkId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return typeof value === 'string' && OSV_ID.test(value) ? value : undefined;
}

/**
 * One entry of the bulk endpoint's answer: `{ "<name>": [ {id, url, title, severity, vulnerable_versions, …} ] }`.
 * The upstream's text is hostile as a feed's is: the title is cleaned and bounded, a URL that
 * is not plain http(s) is dropped, an id that is no number or OSV id is not used (the entry
 * still counts: its range is what decides), and the severity is read as OSV's is.
 */
export function fromBulk(name: string, raw: unknown): Advisory | undefined {
  const a = raw as { id?: unknown; url?: unknown; title?: unknown; severity?: unknown; vulnerable_versions?: unknown; github_advisory_id?: unknown; cwe?: unknown };
  if (!a || typeof a !== 'object') return undefined;
  const given = typeof a.vulnerable_versions === 'string' && a.vulnerable_versions.length <= OSV_RANGE_MAX ? a.vulnerable_versions : undefined;
  // An advisory whose affected versions cannot be read is not dropped: it is taken to affect
  // every version (an admin can override it), and says so.
  const readable = given !== undefined && given.trim() !== '' && semver.validRange(given) !== null;
  const range = readable ? given : '*';
  const url = osvUrl(a.url);
  const ghsa = ghsaOf(typeof a.github_advisory_id === 'string' ? a.github_advisory_id : undefined) ?? ghsaOf(url);
  const malware = hasMalwareCwe(a.cwe);
  const severity = severityOf(a.severity, malware);
  const npmId = bulkId(a.id);
  const id = ghsa ?? `npm-${npmId ?? 'advisory'}`;
  const named = typeof a.title === 'string' ? sanitizeText(a.title, OSV_TITLE_MAX).trim() || id : id;
  const title = readable ? named : `${named} (its affected versions could not be read, so every version is taken as affected)`.slice(0, OSV_TITLE_MAX);
  return {
    key: ghsa ? `ghsa:${ghsa}` : npmId !== undefined ? `npm:${npmId}` : `npm:unnamed:${range}`,
    name,
    id,
    title,
    url,
    severity,
    vulnerableVersions: range,
    fixedIn: [],
    source: 'upstream',
    ...(malware ? { malware } : {}),
  };
}

interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
}

/**
 * A severity as a source writes it (GHSA's database_specific.severity: LOW, MODERATE, HIGH,
 * CRITICAL; npm's bulk answer: low … critical; MEDIUM for moderate). Malware entries (OpenSSF's
 * MAL- ids) have none; they count as critical, though malware is decided by its own rule
 * whatever the severity threshold. Anything else counts as moderate.
 */
function severityOf(value: unknown, malware: boolean): Severity {
  const text = String(value ?? '').toLowerCase();
  if (text === 'medium') return 'moderate';
  return isSeverity(text) ? text : malware ? 'critical' : 'moderate';
}

function osvSeverity(doc: { database_specific?: { severity?: unknown } }, malware: boolean): Severity {
  return severityOf(doc.database_specific?.severity, malware);
}

/**
 * Whether an OSV entry is malware: its id (or an alias) starts with `MAL-` (the OpenSSF
 * malicious-packages dataset), or its source marks it so (`database_specific.malicious`,
 * OpenSSF's `malicious-packages-origins`, or GitHub's CWE-506).
 */
export function osvIsMalware(doc: { id?: unknown; aliases?: unknown; database_specific?: Record<string, unknown> }): boolean {
  const ids = [doc.id, ...(Array.isArray(doc.aliases) ? doc.aliases : [])];
  if (ids.some((id) => typeof id === 'string' && id.toUpperCase().startsWith('MAL-'))) return true;
  const specific = doc.database_specific;
  if (!specific || typeof specific !== 'object') return false;
  return specific.malicious === true || Array.isArray(specific['malicious-packages-origins']) || hasMalwareCwe(specific.cwe_ids);
}

function eventsToRange(events: OsvEvent[]): string | undefined {
  const parts: string[] = [];
  let lower: string | undefined;
  if (!Array.isArray(events)) return undefined;
  for (const event of events) {
    if (!event || typeof event !== 'object') continue;
    if (event.introduced !== undefined) lower = event.introduced === '0' ? '0.0.0-0' : event.introduced;
    else if (event.fixed !== undefined && lower !== undefined) {
      parts.push(`>=${lower} <${event.fixed}`);
      lower = undefined;
    } else if (event.last_affected !== undefined && lower !== undefined) {
      parts.push(`>=${lower} <=${event.last_affected}`);
      lower = undefined;
    }
  }
  if (lower !== undefined) parts.push(`>=${lower}`);
  const range = parts.join(' || ');
  return range && semver.validRange(range) !== null ? range : undefined;
}

/** An OSV timestamp (RFC 3339) as an ISO string, or null when it is missing or not a plausible time. */
function osvTime(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 64) return null;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  const year = new Date(at).getUTCFullYear();
  return year >= 1970 && year <= 9999 ? new Date(at).toISOString() : null;
}

/** An OSV id (GHSA-…, MAL-…, PYSEC-…): printable ASCII without spaces, at most 200 characters. */
const OSV_ID = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}$/;
/** The longest title and affected range kept from an OSV entry (a feed's text is hostile). */
const OSV_TITLE_MAX = 1000;
const OSV_RANGE_MAX = 20_000;

/** An entry's reference URL: http(s), printable, at most 2000 characters; anything else is dropped. */
function osvUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 2000 || !/^https?:\/\/[\x21-\x7e]+$/i.test(value)) return null;
  return value;
}

/**
 * Converts an OSV document (or an array of them) into advisories for npm packages. Throws
 * EVALIDATION when the input is not OSV at all (or an entry's id is not an OSV id). OSV text
 * is hostile (a feed, a synced directory): the title loses NUL and control characters and is
 * bounded, a reference URL that is not plain http(s) is dropped, and affected packages whose
 * name is not a valid npm name, or whose range is not a bounded valid semver range, are
 * skipped, so nothing unvalidated reaches SQL or jsonb.
 */
export function fromOsv(input: unknown): Advisory[] {
  const docs = Array.isArray(input) ? input : [input];
  const out: Advisory[] = [];
  for (const [i, raw] of docs.entries()) {
    const doc = raw as {
      id?: unknown;
      summary?: unknown;
      aliases?: unknown;
      affected?: Array<{ package?: { ecosystem?: string; name?: string }; ranges?: Array<{ type?: string; events?: OsvEvent[] }>; versions?: string[] }>;
      references?: Array<{ type?: string; url?: string }>;
      database_specific?: Record<string, unknown>;
      withdrawn?: unknown;
    };
    if (!doc || typeof doc !== 'object' || typeof doc.id !== 'string' || !Array.isArray(doc.affected)) {
      throw new GatekeeperError('EVALIDATION', `entry ${i} is not an OSV advisory (it needs an id and an affected list)`);
    }
    if (!OSV_ID.test(doc.id)) {
      throw new GatekeeperError('EVALIDATION', `entry ${i}'s id is not an OSV id. Give ids of letters, digits, '.', '_', ':', '+' and '-' (at most 200 characters), like GHSA-xxxx-xxxx-xxxx or MAL-2024-1234`);
    }
    const aliases = Array.isArray(doc.aliases) ? (doc.aliases as unknown[]).filter((a): a is string => typeof a === 'string') : [];
    const malware = osvIsMalware(doc);
    const ghsa = ghsaOf(doc.id) ?? aliases.map(ghsaOf).find(Boolean);
    const withdrawnAt = osvTime(doc.withdrawn);
    // A field of the wrong type (references or ranges that are no list) is read as absent, not as an error.
    const references = Array.isArray(doc.references) ? doc.references : [];
    const url = osvUrl(references.find((r) => r?.type === 'ADVISORY')?.url ?? references[0]?.url);
    const title = typeof doc.summary === 'string' ? sanitizeText(doc.summary, OSV_TITLE_MAX).trim() || doc.id : doc.id;
    for (const affected of doc.affected) {
      if (affected?.package?.ecosystem !== 'npm' || typeof affected.package.name !== 'string' || !isValidPackageName(affected.package.name)) continue;
      const ranges = (Array.isArray(affected.ranges) ? affected.ranges : []).filter((r) => r?.type === 'SEMVER' || r?.type === 'ECOSYSTEM');
      // Only strict semver versions can form a range: one legacy key (1.0.0beta) would make the
      // joined range invalid and drop the whole entry, versions it names rightly included.
      const listed = Array.isArray(affected.versions) ? affected.versions.filter(isSemverVersion) : [];
      const range = ranges.map((r) => eventsToRange(r.events ?? [])).filter(Boolean).join(' || ') || (listed.length ? listed.join(' || ') : undefined);
      if (!range || range.length > OSV_RANGE_MAX || semver.validRange(range) === null) continue;
      const fixedIn = ranges.flatMap((r) => (Array.isArray(r.events) ? r.events : []).map((e) => e?.fixed).filter((v): v is string => typeof v === 'string' && semver.valid(v) !== null));
      out.push({
        key: `osv:${doc.id}`,
        name: affected.package.name,
        id: ghsa ?? doc.id,
        title,
        url,
        severity: osvSeverity(doc, malware),
        vulnerableVersions: range,
        fixedIn,
        source: 'osv',
        ...(malware ? { malware } : {}),
        ...(withdrawnAt ? { withdrawnAt } : {}),
      });
    }
  }
  return out;
}

/**
 * Entries with the same package and key as one (an OSV document naming a package in two
 * `affected` entries, a document imported twice in one array): their ranges joined with ` || `,
 * their fixes united, the rest the last one's. As they are stored, and so as a later import of
 * the same document is compared with what is stored.
 */
export function mergeSameKey(advisories: readonly Advisory[]): Advisory[] {
  const merged = new Map<string, Advisory>();
  for (const a of advisories) {
    const id = `${a.name} ${a.key}`;
    const seen = merged.get(id);
    if (!seen) merged.set(id, a);
    else if (seen.vulnerableVersions !== a.vulnerableVersions || a.fixedIn.some((v) => !seen.fixedIn.includes(v))) {
      merged.set(id, {
        ...a,
        vulnerableVersions: seen.vulnerableVersions === a.vulnerableVersions ? a.vulnerableVersions : `${seen.vulnerableVersions} || ${a.vulnerableVersions}`,
        fixedIn: [...new Set([...seen.fixedIn, ...a.fixedIn])],
      });
    }
  }
  return [...merged.values()];
}

/**
 * Whether an advisory affects a version. Legacy keys (1.0.0beta) are affected only by an
 * advisory whose range covers every release (`*`, `>=0.0.0`), as bans treat them (versions.ts).
 */
export function affects(advisory: Advisory, version: string): boolean {
  let matcher = matchers.get(advisory);
  if (matcher === undefined) {
    try {
      // As long as its source's entries may be, merged (an OSV entry listing every version it affects runs to thousands of characters).
      matcher = compileRange(advisory.vulnerableVersions, { legacy: 'cover-all', maxLength: ADVISORY_RANGE_LIMIT });
    } catch {
      matcher = null;
    }
    matchers.set(advisory, matcher);
  }
  return matcher !== null && matcher.test(version);
}

/** The longest advisory range matched: several OSV_RANGE_MAX ranges of one entry merged with ` || `. */
const ADVISORY_RANGE_LIMIT = 1_000_000;
/** Each advisory's range, compiled once (null: not a range; it affects nothing, as it did). */
const matchers = new WeakMap<Advisory, VersionMatcher | null>();

/**
 * The first version that fixes an advisory, among the versions that exist: the source's own
 * `fixed` versions when given (the lowest above `after`, so a 2.x user is pointed at the 2.x
 * fix), else the lowest unaffected version above the highest affected one. Fixes are always
 * strict semver versions; legacy keys among `versions` (and as `after`) are tolerated.
 */
export function firstPatched(advisory: Advisory, versions: readonly string[], after?: string): string | undefined {
  if (advisory.fixedIn.length > 0) {
    const fixes = advisory.fixedIn.filter((v) => isSemverVersion(v)).sort(semver.compare);
    return (after ? fixes.find((v) => compareVersions(v, after) > 0) : undefined) ?? fixes[0];
  }
  // Deciding every version of a package asks this once per version, with the same list: the
  // answer does not depend on `after`, so it is worked out once per advisory and list.
  let byList = impliedFixes.get(advisory);
  if (!byList) impliedFixes.set(advisory, (byList = new WeakMap()));
  const known = byList.get(versions);
  if (known !== undefined) return known ?? undefined;
  const sorted = versions.filter((v) => isSemverVersion(v)).sort(semver.compare);
  const affected = sorted.filter((v) => affects(advisory, v));
  const highest = affected[affected.length - 1];
  const fix = highest === undefined ? undefined : sorted.find((v) => semver.gt(v, highest) && !affects(advisory, v) && semver.prerelease(v) === null);
  byList.set(versions, fix ?? null);
  return fix;
}

/** firstPatched's answers for advisories without named fixes, per advisory and version list (null: none). */
const impliedFixes = new WeakMap<Advisory, WeakMap<readonly string[], string | null>>();

/**
 * A packument's version keys as one list, the same array for every call with the same
 * `versions` object: rules that look at all of a package's versions (the first fix of an
 * advisory) then work it out once per packument, not once per version.
 */
export function versionKeys(versions: Record<string, unknown>): readonly string[] {
  let keys = versionLists.get(versions);
  if (!keys) versionLists.set(versions, (keys = Object.freeze(Object.keys(versions))));
  return keys;
}

const versionLists = new WeakMap<object, readonly string[]>();

/** The advisories known for a package, and whether the source could be asked. */
export interface PackageAdvisories {
  advisories: Advisory[];
  /** fresh: asked recently; stale: the last answer is old (source down); unchecked: never answered. */
  status: 'fresh' | 'stale' | 'unchecked';
}

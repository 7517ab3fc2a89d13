import type { Decision, VersionManifest } from './policy';
import { isValidPackageName } from './names';
import { compareVersions, isPrototypeKey, isSemverVersion, newestBy, versionReading } from './versions';

/** A packument as served by a registry (full form). */
export interface Packument {
  name: string;
  'dist-tags'?: Record<string, string>;
  versions?: Record<string, VersionManifest>;
  time?: Record<string, string>;
  [key: string]: unknown;
}

export interface HiddenVersion {
  version: string;
  decision: Decision;
}

export interface FilterResult {
  packument: Packument;
  hidden: HiddenVersion[];
  allowed: string[];
  /** The earliest time any of these decisions may change by itself (an expiry), or null. */
  validUntil: number | null;
  /** Versions served although a rule in warn mode (or an unreachable source) has something to say. */
  warned: HiddenVersion[];
}

/**
 * An object without a prototype, for maps keyed by version or tag names: reading
 * `versions['constructor']` or `versions['__proto__']` must find nothing, not Object's.
 */
export function ownMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Repairs dist-tags after versions were removed: a `latest` that points at a removed
 * version moves to the highest remaining non-prerelease version not above it (strict semver
 * versions first; legacy keys such as `2.0` only when no strict version qualifies, and never
 * one that reads as a prerelease, such as `1.0.0beta`); any other tag that points at a
 * removed version is dropped. Never throws, whatever the keys.
 */
export function repairDistTags(distTags: Record<string, string>, remaining: readonly string[]): Record<string, string> {
  const present = new Set(remaining);
  const repaired = ownMap<string>();
  for (const [tag, version] of Object.entries(distTags)) {
    if (isPrototypeKey(tag) || typeof version !== 'string') continue;
    if (present.has(version)) {
      repaired[tag] = version;
    } else if (tag === 'latest') {
      const bound = versionReading(version) ? version : undefined;
      const candidates = remaining.filter((v) => {
        const reading = versionReading(v);
        return reading !== null && reading.prerelease.length === 0 && (bound === undefined || compareVersions(v, bound) <= 0);
      });
      const strict = candidates.filter((v) => isSemverVersion(v));
      const best = newestBy(strict.length > 0 ? strict : candidates, (v) => v);
      if (best) repaired.latest = best;
    }
  }
  return repaired;
}

/**
 * Removes every version the decision function blocks, from `versions` and `time`, and
 * repairs dist-tags. Never mutates its input. `decide` is called once per version.
 */
export function filterPackument(packument: Packument, decide: (version: string, manifest: VersionManifest) => Decision): FilterResult {
  const versions = packument.versions ?? {};
  const kept = ownMap<VersionManifest>();
  const hidden: HiddenVersion[] = [];
  const allowed: string[] = [];
  let validUntil: number | null = null;
  const warned: HiddenVersion[] = [];
  for (const [version, manifest] of Object.entries(versions)) {
    const decision = decide(version, manifest);
    if (decision.validUntil !== null && (validUntil === null || decision.validUntil < validUntil)) validUntil = decision.validUntil;
    if (decision.allowed) {
      kept[version] = manifest;
      allowed.push(version);
      if (decision.warnings.length > 0) warned.push({ version, decision });
    } else {
      hidden.push({ version, decision });
    }
  }
  if (hidden.length === 0) return { packument, hidden, allowed, validUntil, warned };

  const result: Packument = { ...packument, versions: kept };
  if (packument.time) {
    const hiddenSet = new Set(hidden.map((h) => h.version));
    const time = ownMap<string>();
    for (const [key, value] of Object.entries(packument.time)) {
      if (!hiddenSet.has(key) && !isPrototypeKey(key)) time[key] = value;
    }
    result.time = time;
  }
  result['dist-tags'] = repairDistTags(packument['dist-tags'] ?? {}, allowed);
  return { packument: result, hidden, allowed, validUntil, warned };
}

/**
 * The decision to show when no version is allowed: the one for the version the user
 * would have got (the original `latest`), else the highest version (legacy keys ordered as
 * versions.ts says).
 */
export function representativeDecision(packument: Packument, hidden: HiddenVersion[]): Decision | undefined {
  if (hidden.length === 0) return undefined;
  const tags = packument['dist-tags'];
  const latest = tags && Object.hasOwn(tags, 'latest') ? tags.latest : undefined;
  const byLatest = typeof latest === 'string' ? hidden.find((h) => h.version === latest) : undefined;
  if (byLatest) return byLatest.decision;
  return newestBy(hidden, (h) => h.version)?.decision;
}

/** What npm reads from a packument's `policyRestrictions` (see policyRestrictions). */
export interface PolicyRestrictions {
  message: string;
  versions: Record<string, { version: string }>;
}

/** At most this many hidden versions are named, newest first, in the restrictions' message. */
export const RESTRICTED_NAMED = 5;
const RESTRICTIONS_MESSAGE_MAX = 4000;

/**
 * npm's `policyRestrictions` for a packument whose versions were hidden: each hidden version as a
 * bare manifest, and one message naming the newest RESTRICTED_NAMED of them with `describe`'s
 * text (the refusal's reason and next step). npm (npm-pick-manifest) resolves a range to a
 * restricted version only when no other version satisfies it, and then, as for a pinned
 * restricted version, fails with E403 "Could not download <name>@<wanted> due to policy
 * violations:" and the message, where it would say only "No matching version found". Other
 * clients ignore the field. Undefined when nothing is hidden.
 */
export function policyRestrictions(name: string, hidden: HiddenVersion[], describe: (decision: Decision) => string): PolicyRestrictions | undefined {
  if (hidden.length === 0) return undefined;
  const versions = ownMap<{ version: string }>();
  for (const h of hidden) versions[h.version] = { version: h.version };
  const newest = [...hidden].sort((a, b) => compareVersions(b.version, a.version));
  const lines = newest.slice(0, RESTRICTED_NAMED).map((h) => `${h.version}: [${h.decision.code}] ${describe(h.decision)}`);
  const more = hidden.length - lines.length;
  const noun = hidden.length === 1 ? 'version of' : 'versions of';
  const message = [
    `${hidden.length} ${noun} ${name} ${hidden.length === 1 ? 'is' : 'are'} hidden by this registry's policy:`,
    ...lines,
    ...(more > 0 ? [`and ${more} more: run 'gatekeeper explain ${name}@<version>' for any of them`] : []),
  ].join('\n');
  return { message: message.length > RESTRICTIONS_MESSAGE_MAX ? `${message.slice(0, RESTRICTIONS_MESSAGE_MAX - 1)}…` : message, versions };
}

/** A one-line, ASCII-safe summary of hidden versions for the `npm-notice` header. */
export function hiddenNotice(name: string, hidden: HiddenVersion[]): string | undefined {
  if (hidden.length === 0) return undefined;
  const byCode = new Map<string, number>();
  for (const h of hidden) byCode.set(h.decision.code, (byCode.get(h.decision.code) ?? 0) + 1);
  const codes = [...byCode.entries()].map(([code, n]) => `${n} ${code}`).join(', ');
  const newest = newestBy(hidden, (h) => h.version) as HiddenVersion;
  const noun = hidden.length === 1 ? 'version' : 'versions';
  const text =
    `gatekeeper: ${hidden.length} ${noun} of ${name} hidden by policy (${codes}); ` +
    `e.g. ${newest.decision.reason}. Run 'gatekeeper explain ${name}@${newest.version}'`;
  return toHeaderValue(text);
}

/**
 * Warnings for versions that are served anyway: rules in warn mode, an unreachable advisory
 * source. One line, for the `npm-notice` header.
 */
export function warningNotice(name: string, warned: HiddenVersion[]): string | undefined {
  if (warned.length === 0) return undefined;
  const reasons = [...new Set(warned.flatMap((w) => w.decision.warnings.map((m) => m.reason)))];
  const noun = warned.length === 1 ? 'version' : 'versions';
  return toHeaderValue(`gatekeeper: warning for ${warned.length} ${noun} of ${name}: ${reasons.slice(0, 2).join('; ')}${reasons.length > 2 ? ` (+${reasons.length - 2} more)` : ''}`);
}

/**
 * A warning about the advisory source rather than the package (the source is unreachable):
 * an operator problem, reported by /health, the log and at most one notice per install, never
 * in a package's own notice.
 */
export function isSourceWarning(match: { rule: string; ruleId: string | null }): boolean {
  return match.rule === 'advisories' && match.ruleId === 'source';
}

/** A decision's warnings about the version itself (warn-mode rules), without the source's. */
export function versionWarnings(decision: Decision): string[] {
  return decision.warnings.filter((w) => !isSourceWarning(w)).map((w) => w.reason);
}

/**
 * The one notice of a packument response, about what installing the package gets, or
 * undefined when nothing affects it:
 * - the version the upstream's `latest` names is blocked: which version installs instead (or
 *   none), and why, with the command that explains it;
 * - the version about to be installed (the served `latest`) is served with warnings.
 * Versions hidden besides `latest` are counted in the first case only; a blocked pinned
 * version is refused with its reason when it is fetched.
 */
export function installNotice(name: string, original: Packument, result: Pick<FilterResult, 'packument' | 'hidden' | 'warned'>): string | undefined {
  const latestOf = (p: Packument) => {
    const tags = p['dist-tags'];
    const latest = tags && Object.hasOwn(tags, 'latest') ? tags.latest : undefined;
    return typeof latest === 'string' ? latest : undefined;
  };
  const wanted = latestOf(original);
  const served = latestOf(result.packument);
  const parts: string[] = [];
  const blocked = wanted === undefined ? undefined : result.hidden.find((h) => h.version === wanted);
  if (blocked) {
    const others = result.hidden.length - 1;
    parts.push(
      `${name}@${blocked.version} (latest) is blocked [${blocked.decision.code}]: ${blocked.decision.reason}; ` +
        `${served ? `${name}@${served} installs instead` : 'no version is tagged latest'}` +
        `${others > 0 ? ` (${others} other ${others === 1 ? 'version' : 'versions'} hidden)` : ''}. Run 'gatekeeper explain ${name}@${blocked.version}'`,
    );
  }
  const warned = served === undefined ? undefined : result.warned.find((w) => w.version === served);
  const reasons = warned ? [...new Set(versionWarnings(warned.decision))] : [];
  if (warned && reasons.length > 0) {
    parts.push(`warning for ${name}@${served}: ${reasons.slice(0, 2).join('; ')}${reasons.length > 2 ? ` (+${reasons.length - 2} more)` : ''}`);
  }
  return parts.length > 0 ? toHeaderValue(`gatekeeper: ${parts.join(' | ')}`) : undefined;
}

/** The short notice, at most once per install, that the advisory source is unreachable. */
export const SOURCE_NOTICE = 'gatekeeper: the advisory source is unreachable, so advisories may be out of date; the operator sees it in /-/gatekeeper/v1/health';

/** HTTP header values must be Latin-1 without control characters. */
export function toHeaderValue(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
}

/** Fields npm keeps in the abbreviated ("corgi") packument for each version. */
const ABBREVIATED_VERSION_FIELDS = [
  'name',
  'version',
  'deprecated',
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bundleDependencies',
  'bundledDependencies',
  'acceptDependencies',
  'bin',
  'directories',
  'engines',
  'os',
  'cpu',
  'libc',
  'funding',
  'license',
  'dist',
  '_hasShrinkwrap',
  'hasInstallScript',
] as const;

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

export function hasInstallScript(manifest: VersionManifest): boolean {
  if (manifest.hasInstallScript === true) return true;
  const scripts = manifest.scripts;
  return !!scripts && typeof scripts === 'object' && INSTALL_SCRIPTS.some((s) => Object.hasOwn(scripts, s) && typeof (scripts as Record<string, unknown>)[s] === 'string');
}

export function abbreviateVersion(manifest: VersionManifest): VersionManifest {
  const out: VersionManifest = {};
  for (const field of ABBREVIATED_VERSION_FIELDS) {
    if (Object.hasOwn(manifest, field) && manifest[field] !== undefined) out[field] = manifest[field];
  }
  if (hasInstallScript(manifest)) out.hasInstallScript = true;
  return out;
}

/** The abbreviated packument npm asks for with `Accept: application/vnd.npm.install-v1+json`. */
export function abbreviatePackument(packument: Packument): Packument {
  const versions = ownMap<VersionManifest>();
  for (const [version, manifest] of Object.entries(packument.versions ?? {})) {
    if (!isPrototypeKey(version) && manifest && typeof manifest === 'object') versions[version] = abbreviateVersion(manifest);
  }
  const modified = packument.time && Object.hasOwn(packument.time, 'modified') ? packument.time.modified : undefined;
  const out: Packument = { name: packument.name, 'dist-tags': packument['dist-tags'] ?? {}, versions };
  if (modified) out.modified = modified;
  if (packument.policyRestrictions !== undefined) out.policyRestrictions = packument.policyRestrictions;
  return out;
}

/** At most this many names are warmed ahead per packument (a hostile document may list thousands). */
export const WARM_AHEAD_MAX = 64;

/**
 * The registry package a dependency entry installs: its key, or an alias's target
 * (`"x": "npm:y@^1"` installs y); undefined for one that is not from the registry (git, a URL,
 * a file, a GitHub shorthand, a workspace) or a spec that is not a string.
 */
function registryNameOf(key: string, spec: unknown): string | undefined {
  if (typeof spec !== 'string') return undefined;
  if (spec.startsWith('npm:')) {
    const target = spec.slice(4);
    const at = target.indexOf('@', 1);
    return at === -1 ? target : target.slice(0, at);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) || spec.includes('/')) return undefined;
  return key;
}

/**
 * The packages an install of this packument asks for next: the dependency, optional and peer
 * dependency names of the version its `latest` tag names (the version an install most often
 * picks), valid package names only, each once, at most `max`. Nothing without a latest version.
 */
export function dependencyNames(packument: Packument, max = WARM_AHEAD_MAX): string[] {
  const latest = packument['dist-tags']?.latest;
  const versions = packument.versions;
  if (typeof latest !== 'string' || !versions || !Object.hasOwn(versions, latest)) return [];
  const manifest = versions[latest] as Record<string, unknown>;
  const names = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = manifest[field];
    if (!deps || typeof deps !== 'object' || Array.isArray(deps)) continue;
    for (const [key, spec] of Object.entries(deps)) {
      if (names.size >= max) return [...names];
      const name = registryNameOf(key, spec);
      if (name !== undefined && name !== packument.name && isValidPackageName(name)) names.add(name);
    }
  }
  return [...names];
}

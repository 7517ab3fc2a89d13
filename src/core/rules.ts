import semver from 'semver';
import { Advisory, affects, firstPatched, PackageAdvisories, Severity, severityAtLeast } from './advisory';
import { formatDuration } from './duration';
import { RULE_FIELDS, TarballInspection } from './inspection';
import { isLegacyVersion, isSemverVersion } from './versions';
import { hasInstallScript } from './packument';

/**
 * The supply-chain rules: the tarball's own manifest, known advisories, minimum release age
 * (quarantine), install scripts and deprecated versions. Each looks at one version and either finds a reason to
 * block it (a Denial) or not; the evaluator applies the rule's mode (enforce, warn, off).
 * Pure: the clock, the publish time and the advisories are inputs.
 */

export type RuleMode = 'enforce' | 'warn' | 'off';
export const RULE_MODES: readonly RuleMode[] = ['enforce', 'warn', 'off'];

export interface RuleSettings {
  /** The tarball's package.json must agree with the registry's manifest (name, version, install scripts). */
  manifest: { mode: RuleMode };
  license: { mode: RuleMode };
  advisories: { mode: RuleMode; severity: Severity; unavailable: 'warn' | 'block' };
  releaseAge: { mode: RuleMode; minimumMs: number; unknownAge: 'block' | 'allow' };
  scripts: { mode: RuleMode };
  deprecated: { mode: RuleMode };
}

export const DEFAULT_RULES: RuleSettings = {
  manifest: { mode: 'enforce' },
  license: { mode: 'enforce' },
  advisories: { mode: 'enforce', severity: 'critical', unavailable: 'warn' },
  releaseAge: { mode: 'enforce', minimumMs: 0, unknownAge: 'allow' },
  scripts: { mode: 'warn' },
  deprecated: { mode: 'off' },
};

/** Merges stored settings over the defaults (a missing key keeps its default). */
export function ruleSettings(stored: unknown): RuleSettings {
  const s = (stored ?? {}) as Partial<Record<keyof RuleSettings, object>>;
  return {
    manifest: { ...DEFAULT_RULES.manifest, ...(s.manifest ?? {}) },
    license: { ...DEFAULT_RULES.license, ...(s.license ?? {}) },
    advisories: { ...DEFAULT_RULES.advisories, ...(s.advisories ?? {}) },
    releaseAge: { ...DEFAULT_RULES.releaseAge, ...(s.releaseAge ?? {}) },
    scripts: { ...DEFAULT_RULES.scripts, ...(s.scripts ?? {}) },
    deprecated: { ...DEFAULT_RULES.deprecated, ...(s.deprecated ?? {}) },
  } as RuleSettings;
}

export type DenialCode = 'EQUARANTINED' | 'EINSTALLSCRIPTS' | 'EADVISORY' | 'EDEPRECATED' | 'ELICENSE' | 'EMANIFESTMISMATCH';

export interface Denial {
  code: DenialCode;
  ruleId: string;
  reason: string;
  details?: Record<string, unknown>;
}

/** What a rule may say that does not block: shown by explain (and as a notice when it matters). */
export interface Note {
  rule: string;
  ruleId: string | null;
  reason: string;
  /** Show it to the user as an npm-notice. */
  notice?: boolean;
}

export interface VersionContext {
  name: string;
  version: string;
  manifest: Record<string, unknown> | undefined;
  /** The version's publish time from the packument; null: the packument has none; undefined: no packument. */
  publishedAt: string | null | undefined;
  /** Every version of the package (for "fixed in"). */
  versions: readonly string[] | undefined;
  /** Undefined: not looked up (private package, or the rule is off). */
  advisories: PackageAdvisories | undefined;
  now: number;
  /**
   * What reading the version's tarball found, when it was read. Clients act on the tarball's
   * package.json, so the manifest, scripts and license rules use the stricter of the two.
   */
  inspection?: TarballInspection;
}

export function advisoryRule(settings: RuleSettings['advisories'], ctx: VersionContext, notes: Note[]): Denial | undefined {
  const known = ctx.advisories;
  if (!known) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  const relevant = known.advisories.filter((a) => severityAtLeast(a.severity, settings.severity) && affects(a, ctx.version));
  for (const a of known.advisories.filter((x) => !relevant.includes(x) && affects(x, ctx.version))) {
    notes.push({ rule: 'advisories', ruleId: a.id, reason: `${spec}: ${a.id} (${a.severity}) is below the ${settings.severity} threshold` });
  }
  if (relevant.length > 0) {
    const worst = [...relevant].sort((a, b) => (severityAtLeast(a.severity, b.severity) ? -1 : 1))[0];
    const fixed = firstPatched(worst, ctx.versions ?? [], ctx.version);
    const more = relevant.length > 1 ? ` and ${relevant.length - 1} more` : '';
    return {
      code: 'EADVISORY',
      ruleId: `advisory:${worst.id}`,
      reason: `${spec}: ${worst.id} (${worst.severity})${worst.title && worst.title !== worst.id ? ` ${worst.title}` : ''}, ${fixed ? `fixed in ${fixed}` : 'no fixed version yet'}${more}`,
      details: { advisories: relevant.map((a) => ({ id: a.id, severity: a.severity, url: a.url, vulnerableVersions: a.vulnerableVersions })) },
    };
  }
  if (known.status === 'unchecked' && settings.unavailable === 'block') {
    return {
      code: 'EADVISORY',
      ruleId: 'advisory:unchecked',
      reason: `${spec}: its advisories could not be checked (the advisory source is unreachable), and the policy blocks unchecked packages`,
    };
  }
  if (known.status !== 'fresh') {
    notes.push({
      rule: 'advisories',
      ruleId: 'source',
      reason: `advisories for ${ctx.name} could not be checked recently (the advisory source is unreachable); decided with what is known`,
      notice: true,
    });
  }
  return undefined;
}

/** Versions that an advisory names (or implies) as its first fix. */
export function fixVersions(advisories: readonly Advisory[], versions: readonly string[]): Map<string, string> {
  const fixes = new Map<string, string>();
  for (const a of advisories) {
    // Every fix the source names (one per release line), or the implied first fix.
    // Fixes are strict semver versions: a legacy key (1.0.0beta) never skips the age gate as one.
    const named = a.fixedIn.length > 0 ? a.fixedIn.filter((v) => isSemverVersion(v)) : [firstPatched(a, versions)];
    for (const fixed of named) if (fixed) fixes.set(fixed, a.id);
  }
  return fixes;
}

export function releaseAgeRule(settings: RuleSettings['releaseAge'], ctx: VersionContext, exempt: string | undefined, notes: Note[], dependsUntil: (at: number) => void): Denial | undefined {
  if (settings.minimumMs <= 0 || ctx.publishedAt === undefined) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  if (exempt) {
    notes.push({ rule: 'release-age', ruleId: exempt, reason: `${spec} is exempt from the minimum release age` });
    return undefined;
  }
  const fix = ctx.advisories ? fixVersions(ctx.advisories.advisories, ctx.versions ?? []).get(ctx.version) : undefined;
  if (fix) {
    notes.push({ rule: 'release-age', ruleId: `fix:${fix}`, reason: `${spec} fixes ${fix}, so it skips the minimum release age` });
    return undefined;
  }
  const minimum = formatDuration(settings.minimumMs);
  const published = ctx.publishedAt === null ? NaN : Date.parse(ctx.publishedAt);
  if (Number.isNaN(published)) {
    if (settings.unknownAge === 'allow') {
      notes.push({ rule: 'release-age', ruleId: 'unknown', reason: `${spec} has no publish time; unknown ages are allowed` });
      return undefined;
    }
    return { code: 'EQUARANTINED', ruleId: 'release-age:unknown', reason: `${spec} has no publish time, so its age is unknown; new versions install after ${minimum} and unknown ages are blocked` };
  }
  const installableAt = published + settings.minimumMs;
  if (ctx.now >= installableAt) return undefined;
  dependsUntil(installableAt);
  return {
    code: 'EQUARANTINED',
    ruleId: 'release-age',
    reason: `${spec} was published ${formatDuration(Math.max(0, ctx.now - published))} ago; new versions install after ${minimum} (from ${new Date(installableAt).toISOString()})`,
    details: { publishedAt: new Date(published).toISOString(), installableAt: new Date(installableAt).toISOString() },
  };
}

const INSTALL_SCRIPT_NAMES = ['preinstall', 'install', 'postinstall'] as const;
const GYP_SCRIPT = 'install: node-gyp rebuild (binding.gyp)';

/**
 * The install-time scripts a manifest runs: its own, or node-gyp for a binding.gyp (npm adds
 * `install: node-gyp rebuild` when there is one, `gypfile` is not false and neither
 * `install` nor `preinstall` is set; the registry records that as `gypfile: true`).
 */
export function installScripts(manifest: Record<string, unknown> | undefined, hasBindingGyp = false): string[] {
  if (!manifest || typeof manifest !== 'object') return [];
  const scripts = manifest.scripts && typeof manifest.scripts === 'object' ? (manifest.scripts as Record<string, unknown>) : {};
  const script = (name: string) => (Object.hasOwn(scripts, name) && typeof scripts[name] === 'string' ? (scripts[name] as string) : undefined);
  const found: string[] = INSTALL_SCRIPT_NAMES.filter((s) => script(s) !== undefined).map((s) => `${s}: ${script(s)}`);
  const gyp = manifest.gypfile === true || (hasBindingGyp && manifest.gypfile !== false);
  if (gyp && script('install') === undefined && script('preinstall') === undefined) found.push(GYP_SCRIPT);
  if (found.length === 0 && hasInstallScript(manifest)) found.push('an install script (hasInstallScript)');
  return found;
}

/**
 * The install-time scripts of a version, the stricter of the two manifests: the registry's,
 * plus those only the tarball's package.json (or its binding.gyp) declares, marked as such.
 */
export function versionInstallScripts(ctx: Pick<VersionContext, 'manifest' | 'inspection'>): string[] {
  const declared = installScripts(ctx.manifest);
  const inspection = ctx.inspection;
  if (!inspection) return declared;
  const manifest = inspection.manifest && typeof inspection.manifest === 'object' ? inspection.manifest : {};
  const inTarball = installScripts(manifest, inspection.hasBindingGyp === true).filter((s) => !declared.includes(s));
  return [...declared, ...inTarball.map((s) => `${s} (only in the tarball's package.json)`)];
}

export function scriptsRule(ctx: VersionContext, allowedBy: string | undefined, notes: Note[]): Denial | undefined {
  const scripts = versionInstallScripts(ctx);
  if (scripts.length === 0) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  if (allowedBy) {
    notes.push({ rule: 'scripts', ruleId: allowedBy, reason: `${spec} runs ${scripts.join(', ')}; approved for scripts` });
    return undefined;
  }
  return {
    code: 'EINSTALLSCRIPTS',
    ruleId: 'scripts',
    reason: `${spec} runs install scripts (${scripts.join('; ')})`,
    details: { scripts },
  };
}

const FIELD_LABELS: Record<string, string> = { name: 'name', version: 'version', installScripts: 'install scripts' };

/** A value as a message shows it: JSON, on one line, printable ASCII, at most 120 characters. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[^\x20-\x7e]/g, '?');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * The manifest rule: the tarball's own package.json is what npm acts on, so a version whose
 * tarball names another package, another version or other install scripts than the registry's
 * manifest ("manifest confusion") is refused. Applies only when the tarball was inspected.
 */
export function manifestRule(ctx: VersionContext): Denial | undefined {
  const inspection = ctx.inspection;
  if (!inspection || !Array.isArray(inspection.mismatches)) return undefined;
  const mismatches = inspection.mismatches.filter((m) => m && RULE_FIELDS.includes(m.field));
  if (mismatches.length === 0) return undefined;
  const what = mismatches
    .map((m) => `${FIELD_LABELS[m.field] ?? m.field}: the registry says ${shown(m.declared)}, the tarball's package.json says ${shown(m.actual)}`)
    .join('; ');
  return {
    code: 'EMANIFESTMISMATCH',
    ruleId: 'manifest',
    reason: `${ctx.name}@${ctx.version}: its tarball's package.json differs from the registry's manifest (${what})`,
    details: { mismatches: mismatches.map((m) => ({ field: m.field, declared: m.declared, actual: m.actual })), integrity: inspection.integrity },
  };
}

export function deprecatedRule(ctx: VersionContext): Denial | undefined {
  const message = ctx.manifest?.deprecated;
  if (typeof message !== 'string' || message === '') return undefined;
  return { code: 'EDEPRECATED', ruleId: 'deprecated', reason: `${ctx.name}@${ctx.version} is deprecated: ${message}` };
}

/** A range a rule may store: a semver range, or an exact legacy version (1.0.0beta). */
export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null || isLegacyVersion(range);
}

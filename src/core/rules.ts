import semver from 'semver';
import { Advisory, affects, firstPatched, PackageAdvisories, Severity, severityAtLeast } from './advisory';
import { formatDuration } from './duration';
import { hasInstallScript } from './packument';

/**
 * The supply-chain rules: known advisories, minimum release age (quarantine), install
 * scripts and deprecated versions. Each looks at one version and either finds a reason to
 * block it (a Denial) or not; the evaluator applies the rule's mode (enforce, warn, off).
 * Pure: the clock, the publish time and the advisories are inputs.
 */

export type RuleMode = 'enforce' | 'warn' | 'off';
export const RULE_MODES: readonly RuleMode[] = ['enforce', 'warn', 'off'];

export interface RuleSettings {
  license: { mode: RuleMode };
  advisories: { mode: RuleMode; severity: Severity; unavailable: 'warn' | 'block' };
  releaseAge: { mode: RuleMode; minimumMs: number; unknownAge: 'block' | 'allow' };
  scripts: { mode: RuleMode };
  deprecated: { mode: RuleMode };
}

export const DEFAULT_RULES: RuleSettings = {
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
    license: { ...DEFAULT_RULES.license, ...(s.license ?? {}) },
    advisories: { ...DEFAULT_RULES.advisories, ...(s.advisories ?? {}) },
    releaseAge: { ...DEFAULT_RULES.releaseAge, ...(s.releaseAge ?? {}) },
    scripts: { ...DEFAULT_RULES.scripts, ...(s.scripts ?? {}) },
    deprecated: { ...DEFAULT_RULES.deprecated, ...(s.deprecated ?? {}) },
  } as RuleSettings;
}

export type DenialCode = 'EQUARANTINED' | 'EINSTALLSCRIPTS' | 'EADVISORY' | 'EDEPRECATED' | 'ELICENSE';

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
    const named = a.fixedIn.length > 0 ? a.fixedIn : [firstPatched(a, versions)];
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

/** The install-time scripts a version runs: its own, or node-gyp for a binding.gyp. */
export function installScripts(manifest: Record<string, unknown> | undefined): string[] {
  if (!manifest) return [];
  const scripts = (manifest.scripts ?? {}) as Record<string, unknown>;
  const found = ['preinstall', 'install', 'postinstall'].filter((s) => typeof scripts[s] === 'string').map((s) => `${s}: ${String(scripts[s])}`);
  if (found.length === 0 && manifest.gypfile === true) found.push('install: node-gyp rebuild (binding.gyp)');
  if (found.length === 0 && hasInstallScript(manifest)) found.push('an install script (hasInstallScript)');
  return found;
}

export function scriptsRule(ctx: VersionContext, allowedBy: string | undefined, notes: Note[]): Denial | undefined {
  const scripts = installScripts(ctx.manifest);
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

export function deprecatedRule(ctx: VersionContext): Denial | undefined {
  const message = ctx.manifest?.deprecated;
  if (typeof message !== 'string' || message === '') return undefined;
  return { code: 'EDEPRECATED', ruleId: 'deprecated', reason: `${ctx.name}@${ctx.version} is deprecated: ${message}` };
}

export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null;
}

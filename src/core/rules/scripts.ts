import { hasInstallScript } from '../packument';
import type { Approval } from '../policy';
import { quoteText } from '../text';
import { defineRule, Denial, Note, RuleMode, VersionContext } from './types';

const INSTALL_SCRIPT_NAMES = ['preinstall', 'install', 'postinstall'] as const;
const GYP_SCRIPT = 'install: node-gyp rebuild (binding.gyp)';
/** How versionInstallScripts lists what bundled dependencies run (scriptName reads it back). */
const BUNDLED_SCRIPTS = 'whatever its bundled dependencies run';

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
 * The dependencies a manifest bundles (`bundleDependencies`, or `bundledDependencies`; `true`
 * bundles every dependency): they come inside its tarball, and npm runs their install scripts
 * (and node-gyp for their binding.gyp) when it installs the package.
 */
export function bundledDependencies(manifest: Record<string, unknown> | undefined): string[] {
  if (!manifest || typeof manifest !== 'object') return [];
  const names = new Set<string>();
  for (const key of ['bundleDependencies', 'bundledDependencies']) {
    const value = manifest[key];
    if (value === true && manifest.dependencies && typeof manifest.dependencies === 'object') for (const name of Object.keys(manifest.dependencies)) names.add(name);
    if (Array.isArray(value)) for (const name of value) if (typeof name === 'string' && name !== '') names.add(name);
  }
  return [...names].sort();
}

/**
 * The install-time scripts of a version, the stricter of the two manifests: the registry's,
 * plus those only the tarball's package.json (or its binding.gyp) declares, marked as such.
 * Bundled dependencies count as scripts: what they run is inside the tarball, not judged here.
 */
export function versionInstallScripts(ctx: Pick<VersionContext, 'manifest' | 'inspection'>): string[] {
  const declared = installScripts(ctx.manifest);
  const inspection = ctx.inspection;
  const manifest = inspection?.manifest && typeof inspection.manifest === 'object' ? inspection.manifest : undefined;
  const inTarball = inspection ? installScripts(manifest ?? {}, inspection.hasBindingGyp === true).filter((s) => !declared.includes(s)) : [];
  const bundled = [...new Set([...bundledDependencies(ctx.manifest), ...bundledDependencies(manifest)])].sort();
  const scripts = [...declared, ...inTarball.map((s) => `${s} (only in the tarball's package.json)`)];
  if (bundled.length > 0) scripts.push(`${BUNDLED_SCRIPTS} (${bundled.slice(0, 5).join(', ')}${bundled.length > 5 ? ` and ${bundled.length - 5} more` : ''})`);
  return scripts;
}

/** The name of a script `installScripts` lists (`postinstall`), `bundled` for what bundled dependencies run, or `hasInstallScript` for one the manifest only flags. */
function scriptName(listed: string): string {
  if (listed.startsWith(BUNDLED_SCRIPTS)) return 'bundled dependencies';
  return INSTALL_SCRIPT_NAMES.find((name) => listed.startsWith(`${name}: `)) ?? 'hasInstallScript';
}

export function scriptsRule(ctx: VersionContext, allowedBy: string | undefined, notes: Note[]): Denial | undefined {
  const scripts = versionInstallScripts(ctx);
  if (scripts.length === 0) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  if (allowedBy) {
    notes.push({ rule: 'scripts', ruleId: allowedBy, reason: `${spec} runs ${scripts.map((s) => quoteText(s)).join(', ')}; approved for scripts` });
    return undefined;
  }
  return {
    code: 'EINSTALLSCRIPTS',
    ruleId: 'scripts',
    reason: `${spec} runs install scripts (${scripts.map((s) => quoteText(s)).join('; ')})`,
    // The scripts' names first, then how each starts.
    brief: `${spec} runs install scripts (${[...new Set(scripts.map(scriptName))].join(', ')}): ${scripts.map((s) => quoteText(s, 40)).join('; ')}`,
    details: { scripts },
  };
}

/** Install scripts pass with an approval that allows them; the decision lasts as long as it does. */
function scriptsGate(ctx: VersionContext, approvals: readonly Approval[], notes: Note[], dependsUntil: (at: number | null) => void): Denial | undefined {
  const expiry = (a: Approval) => (a.expiresAt ? a.expiresAt.getTime() : Infinity);
  const allowing = approvals.filter((a) => a.allowScripts).sort((a, b) => expiry(b) - expiry(a))[0];
  const denial = scriptsRule(ctx, allowing ? `approval:${allowing.id}` : undefined, notes);
  if (!denial && allowing && versionInstallScripts(ctx).length > 0) {
    const until = expiry(allowing);
    dependsUntil(Number.isFinite(until) ? until : null);
  }
  return denial;
}

export const scripts = defineRule({
  key: 'scripts',
  name: 'scripts',
  code: 'EINSTALLSCRIPTS',
  summary: "a version with install scripts, unless an active approval for it allows scripts; when the tarball was read, the scripts its `package.json` declares (and a `binding.gyp`, which npm runs as `node-gyp rebuild`) count too",
  defaults: { mode: 'warn' as RuleMode },
  settings: [],
  check: ({ ctx, approvals, notes, dependsUntil }) => scriptsGate(ctx, approvals, notes, dependsUntil),
});

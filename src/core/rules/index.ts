import semver from 'semver';
import { validation } from '../errors';
import { isLegacyVersion } from '../versions';
import { advisories } from './advisories';
import { deprecated } from './deprecated';
import { license } from './license';
import { malware } from './malware';
import { manifest } from './manifest';
import { newPublisher } from './new-publisher';
import { provenanceDowngrade } from './provenance';
import { releaseAge } from './release-age';
import { scripts } from './scripts';
import { MODE_SETTING, RuleMode, RuleModule } from './types';

/**
 * The rule table: one module per supply-chain rule (src/core/rules/<rule>.ts), in the order
 * `evaluate` applies them. Everything else about a rule is derived from it: the settings type
 * and defaults, validation of the admin API's changes, explain's extra lines, the CLI's
 * `policy set` names and `policy show` lines, and the rule table in docs/policy.md.
 */
export const RULES = [malware, manifest, advisories, license, releaseAge, scripts, newPublisher, provenanceDowngrade, deprecated] as const;

/** A table: the built-in one, or (in tests) one with more rules. */
export type RuleTable = readonly RuleModule<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any

type Builtin = (typeof RULES)[number];
export type RuleKey = Builtin['key'];
export type RuleSettings = { [R in Builtin as R['key']]: R['defaults'] };

export const DEFAULT_RULES: RuleSettings = Object.fromEntries(RULES.map((r) => [r.key, r.defaults])) as RuleSettings;

/** Merges stored settings over the defaults (a missing key keeps its default; unknown keys are dropped). */
export function ruleSettings(stored: unknown, table: RuleTable = RULES): RuleSettings {
  const s = (stored && typeof stored === 'object' ? stored : {}) as Record<string, unknown>;
  return Object.fromEntries(
    table.map((r) => {
      const own = Object.hasOwn(s, r.key) ? s[r.key] : undefined;
      return [r.key, { ...r.defaults, ...(own && typeof own === 'object' ? own : {}) }];
    }),
  ) as RuleSettings;
}

/** The settings as the admin API shows them (`releaseAge.minimum` in words besides `minimumMs`). */
export function ruleViews(settings: RuleSettings, table: RuleTable = RULES): Record<string, Record<string, unknown>> {
  const all = settings as unknown as Record<string, { mode: RuleMode }>;
  return Object.fromEntries(table.map((r) => [r.key, r.view ? r.view(all[r.key]) : { ...all[r.key] }]));
}

/** The keys the admin API's `PATCH /policy` takes: the mode and one per rule. */
export function policySettingKeys(table: RuleTable = RULES): string[] {
  return ['mode', ...table.map((r) => r.key)];
}

/** Validates one rule's settings change from the admin API; returns what to store. Throws EVALIDATION. */
export function validRuleChange(key: string, change: Record<string, unknown>, table: RuleTable = RULES): Record<string, unknown> {
  const rule = table.find((r) => r.key === key);
  if (!rule) throw validation(`unknown rule '${key}'; see ${table.map((r) => r.key).join(', ')}`);
  const settings = [MODE_SETTING, ...rule.settings];
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(change)) {
    const setting = settings.find((s) => s.api === name);
    if (!setting) throw validation(`${key} has no setting '${name}'; it has ${settings.map((s) => s.api).join(', ')}`);
    const [stored, parsed] = setting.parse(value, key);
    out[stored] = parsed;
  }
  return out;
}

/**
 * The names `gatekeeper policy set <name> <value>` takes, each with the admin API body it
 * sends: `mode`; per rule `<rule>` (its primary setting, the mode unless it says otherwise),
 * `<rule>.mode` and `<rule>.<setting>`.
 */
export function cliSettings(table: RuleTable = RULES): Record<string, (value: string) => Record<string, unknown>> {
  const out: Record<string, (value: string) => Record<string, unknown>> = { mode: (v) => ({ mode: v }) };
  for (const rule of table) {
    const settings = [MODE_SETTING, ...rule.settings];
    const primary = settings.find((s) => s.api === (rule.primary ?? 'mode')) ?? MODE_SETTING;
    out[rule.name] = (v) => ({ [rule.key]: { [primary.api]: v } });
    for (const s of settings) out[`${rule.name}.${s.cli}`] = (v) => ({ [rule.key]: { [s.api]: v } });
  }
  return out;
}

/** `gatekeeper policy show`'s line per rule, from the admin API's view; a rule the server does not report is left out. */
export function showRules(views: Record<string, Record<string, unknown> | undefined>, table: RuleTable = RULES): string[] {
  const lines: string[] = [];
  for (const rule of table) {
    const view = views[rule.key];
    if (!view || typeof view !== 'object') continue;
    const more = rule.show ? ` ${rule.show(view)}` : '';
    lines.push(`${rule.name}: ${String(view.mode)}${more}`);
  }
  return lines;
}

/** The admin API's `PATCH /policy` body fields, one per rule, with what each takes (for the route table and OpenAPI). */
export function policyBodyFields(table: RuleTable = RULES): Array<{ name: string; description: string }> {
  return table.map((r) => ({ name: r.key, description: `{${[MODE_SETTING, ...r.settings].map((s) => `${s.api}: ${s.values}`).join('; ')}}: ${r.summary}` }));
}

/** Extra lines explain prints under a match of `ruleName`. */
export function explainLines(ruleName: string, details: Record<string, unknown> | undefined, table: RuleTable = RULES): string[] {
  const rule = table.find((r) => r.name === ruleName);
  if (!rule?.explain || !details || typeof details !== 'object') return [];
  return rule.explain(details);
}

/** The rules that take per-package exemptions, by name. */
export function exemptableRules(table: RuleTable = RULES): string[] {
  return table.filter((r) => r.exemptable).map((r) => r.name);
}

/** The rule that denies with `code`, if one does. */
export function ruleForCode(code: string, table: RuleTable = RULES): RuleModule<string, any> | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  return table.find((r) => r.code === code);
}

/** The rule table docs/policy.md shows (a unit test checks the docs hold exactly this). */
export function ruleTableMarkdown(table: RuleTable = RULES): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = ['| # | rule | denies with | default mode | other settings (`gatekeeper policy set <rule>.<setting>`) | what it denies |', '| --- | --- | --- | --- | --- | --- |'];
  table.forEach((rule, i) => {
    const defaults: Record<string, unknown> = rule.view ? rule.view(rule.defaults) : rule.defaults;
    const settings = rule.settings.map((s) => `\`${rule.name}.${s.cli}\`: ${s.values} (default \`${String(defaults[s.api])}\`)`);
    lines.push(`| ${i + 1} | ${rule.name} | \`${rule.code}\` | \`${rule.defaults.mode}\` | ${cell(settings.join('; ') || 'none')} | ${cell(rule.summary)} |`);
  });
  return lines.join('\n');
}

/** A range a rule may store: a semver range, or an exact legacy version (1.0.0beta). */
export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null || isLegacyVersion(range);
}

export * from './types';
export { advisoryRule } from './advisories';
export type { AdvisorySettings } from './advisories';
export { deprecatedRule } from './deprecated';
export { licenseRule } from './license';
export { manifestRule } from './manifest';
export { newPublisherRule, publisherOf } from './new-publisher';
export { hasAttestations, provenanceRule } from './provenance';
export type { PackumentView } from './history';
export { malwareRule } from './malware';
export { exemptionFor, fixVersions, releaseAgeRule } from './release-age';
export type { ReleaseAgeSettings } from './release-age';
export { installScripts, scriptsRule, versionInstallScripts } from './scripts';

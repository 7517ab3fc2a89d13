import type { PackageAdvisories } from '../advisory';
import { validation } from '../errors';
import type { TarballInspection } from '../inspection';
import type { PackumentView } from './history';
import type { Approval, CompiledPolicy, EvaluationInput, RuleMatch } from '../policy';

/**
 * What every rule module (src/core/rules/<rule>.ts) gives the table in ./index.ts, and what
 * its check is given. Pure: the clock, the publish time and the advisories are inputs.
 */

export type RuleMode = 'enforce' | 'warn' | 'off';
export const RULE_MODES: readonly RuleMode[] = ['enforce', 'warn', 'off'];

export type DenialCode = 'EMALWARE' | 'ENEWPUBLISHER' | 'EPROVENANCEDOWNGRADE' | 'EQUARANTINED' | 'EINSTALLSCRIPTS' | 'EADVISORY' | 'EDEPRECATED' | 'ELICENSE' | 'EMANIFESTMISMATCH';

export interface Denial {
  code: DenialCode;
  ruleId: string;
  reason: string;
  /**
   * The reason in brief, for a status text too short for the reason (pnpm and yarn 4 print only
   * that): what is wrong, its start naming the package@version and what matters most (which
   * script differs, when the version installs), without long quoted values. Defaults to the reason.
   */
  brief?: string;
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
  /** The package's versions and publish times, for rules that compare a version with earlier ones. */
  packument?: PackumentView;
}

/** Everything a rule's check may look at while one version is evaluated. */
export interface RuleRun<S> {
  settings: S;
  ctx: VersionContext;
  input: EvaluationInput;
  policy: CompiledPolicy;
  /** The active approvals that cover the version. */
  approvals: readonly Approval[];
  /** Said without blocking; explain shows them (notes marked `notice` reach the user). */
  notes: Note[];
  /** Explain's list, for a rule that records what let a version through (a waiver). */
  matches: RuleMatch[];
  /** The decision depends on a grant that expires at `at`. */
  dependsUntil: (at: number | null) => void;
}

export type Audience = 'developer' | 'admin';

/** One setting of a rule besides its mode, as the admin API, the CLI and the docs name it. */
export interface RuleSetting {
  /** Its name in the admin API body and in `gatekeeper policy show --json` (`unknownAge`). */
  api: string;
  /** Its name after the rule's in `gatekeeper policy set <rule>.<cli>` (`unknown`). */
  cli: string;
  /** Its values, for the docs and usage (`allow or block`). */
  values: string;
  /** Validates a value given to the admin API; returns the key and value to store, or throws `validation(...)`. */
  parse(value: unknown, key: string): [string, unknown];
}

export interface RuleModule<K extends string = string, S extends { mode: RuleMode } = { mode: RuleMode }> {
  /** The rule's key in the stored settings and the admin API (`releaseAge`). */
  key: K;
  /** Its name in explain, the CLI and the docs (`release-age`). */
  name: string;
  /** The code it denies with. */
  code: DenialCode;
  /** One line for the docs' rule table: what it denies. */
  summary: string;
  defaults: S;
  /** Its settings besides `mode`. */
  settings: readonly RuleSetting[];
  /** Takes per-package exemptions (`gatekeeper policy exempt <name> <package>`). */
  exemptable?: boolean;
  /** What `gatekeeper policy set <name> <value>` sets: `mode` unless said otherwise. */
  primary?: string;
  /** The stored settings as the admin API shows them (e.g. a duration in words); default: as stored. */
  view?(settings: S): Record<string, unknown>;
  /** What `gatekeeper policy show` says after the mode, from the API's view (`(severity >= critical; …)`). */
  show?(view: Record<string, unknown>): string;
  /** Finds a reason to block the version, or none. */
  check(run: RuleRun<S>): Denial | undefined;
  /** Extra lines explain prints under one of the rule's matches. */
  explain?(details: Record<string, unknown>): string[];
  /** The next step a refusal by this rule names, when policy.ts's nextStep has none of its own. */
  nextStep?(spec: string, audience: Audience): string;
}

export function defineRule<K extends string, S extends { mode: RuleMode }>(rule: RuleModule<K, S>): RuleModule<K, S> {
  return rule;
}

/** The setting every rule has. */
export const MODE_SETTING: RuleSetting = {
  api: 'mode',
  cli: 'mode',
  values: RULE_MODES.join(', '),
  parse(value, key) {
    if (!RULE_MODES.includes(value as RuleMode)) throw validation(`${key}.mode must be one of ${RULE_MODES.join(', ')}`);
    return ['mode', value];
  },
};

/** A setting whose value is one of a few words. */
export function oneOf(api: string, cli: string, words: readonly string[]): RuleSetting {
  const quoted = words.map((w) => `'${w}'`);
  const list = words.length === 2 ? `${quoted[0]} or ${quoted[1]}` : words.join(', ');
  return {
    api,
    cli,
    values: words.join(' or '),
    parse(value, key) {
      if (!words.includes(value as string)) throw validation(`${key}.${api} must be ${words.length === 2 ? list : `one of ${list}`}`);
      return [api, value];
    },
  };
}

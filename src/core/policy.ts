import { scopeOf } from './names';
import type { TarballInspection } from './inspection';
import { compileRange, VersionMatcher } from './versions';
import type { PublishRule } from './publish';
import { compileLicensePolicy, CompiledLicensePolicy, LicensePolicy } from './license';
import type { PackageAdvisories } from './advisory';
import { DenialCode, Note, PackumentView, ruleForCode, RuleMode, RULES, ruleSettings, RuleSettings, RuleTable, VersionContext } from './rules';
import { thenSentence } from './text';

/**
 * Policy evaluation: (name, version, manifest, policy snapshot, now) -> decision.
 * Pure: no I/O, no clock of its own. `evaluate` applies the rules in a fixed order and the
 * first that denies decides: bans; then the supply-chain and license rules, each in
 * enforce, warn or off, in the order of its `gates` list; then the mode (an approval in
 * allowlist mode, nothing in open mode). docs/policy.md describes the same order.
 */

export type PolicyMode = 'allowlist' | 'open';
export const POLICY_MODES: readonly PolicyMode[] = ['allowlist', 'open'];

export interface Approval {
  id: string;
  /** A package name or a scope wildcard such as `@acme/*`. */
  pattern: string;
  range: string;
  reason: string;
  approvedBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  /** Also approved to run install scripts. */
  allowScripts?: boolean;
}

export interface Ban {
  id: string;
  name: string;
  range: string;
  reason: string;
  advisoryUrl: string | null;
  bannedBy: string;
  createdAt: Date;
}

/** Lets a package range through despite its license. */
export interface Waiver {
  id: string;
  name: string;
  range: string;
  reason: string;
  approvedBy: string;
  createdAt: Date;
  expiresAt: Date | null;
}

/** Lets a package range skip one rule (so far: the minimum release age). */
export interface Exemption {
  id: string;
  /** A rule that takes exemptions (release-age, new-publisher, provenance-downgrade). */
  rule: string;
  /** A name or @scope/*. */
  pattern: string;
  range: string;
  reason: string;
  createdBy: string;
  createdAt: Date;
}

export interface PolicySnapshot {
  /** Bumped on every policy change; part of every cache key. */
  generation: number;
  mode: PolicyMode;
  approvals: Approval[];
  bans: Ban[];
  /** Who may publish which private names; a name any rule covers is never proxied. */
  publishRules: PublishRule[];
  /** The license rule applies when its allowlist is not empty. */
  license?: LicensePolicy;
  waivers?: Waiver[];
  /** Modes and settings of the supply-chain rules; defaults apply to what is missing. */
  rules?: unknown;
  exemptions?: Exemption[];
}

export type DecisionCode =
  | 'ALLOWED'
  | 'ENOTAPPROVED'
  | 'EBANNED'
  | DenialCode;

export interface RuleMatch {
  rule: string;
  ruleId: string | null;
  effect: 'deny' | 'allow' | 'info' | 'warn';
  code?: DecisionCode;
  reason: string;
  /** Rule-specific facts for explain (the license rule: raw field, expression, failed ids). */
  details?: Record<string, unknown>;
}

export interface Decision {
  name: string;
  version: string;
  allowed: boolean;
  code: DecisionCode;
  /** `<rule>:<id>` of the rule that decided, e.g. `ban:12`, `approval:3`, `mode:allowlist`. */
  ruleId: string;
  reason: string;
  /**
   * The reason in brief, when the rule that decided gives one: what is wrong without long quoted
   * values, for a status text that cannot hold the reason (see `statusText` in errors.ts).
   */
  brief?: string;
  /** Every rule that matched, for `gatekeeper explain`. */
  matches: RuleMatch[];
  /** What users should be told although it does not block (warn-mode rules, an unreachable advisory source). */
  warnings: RuleMatch[];
  /** The decision may change at this time without a policy change (an expiry). */
  validUntil: number | null;
}

/** The minimum a rule needs from a version's manifest; everything else is passed through. */
export type VersionManifest = Record<string, unknown>;

/*
 * Ranges are compiled by versions.ts: a semver range matches strict versions (prereleases
 * included) and never a legacy key such as 1.0.0beta; a rule whose range is exactly such a key
 * matches that key alone. Bans (deny rules) whose range covers every release cover legacy
 * keys too, so `gatekeeper ban express` bans all of express.
 */
interface CompiledApproval extends Approval {
  matcher: VersionMatcher;
}
interface CompiledBan extends Ban {
  matcher: VersionMatcher;
}
interface CompiledWaiver extends Waiver {
  matcher: VersionMatcher;
}
interface CompiledExemption extends Exemption {
  matcher: VersionMatcher;
}

/** A snapshot indexed by package name and scope, with ranges parsed once. */
export interface CompiledPolicy {
  generation: number;
  mode: PolicyMode;
  bansByName: Map<string, CompiledBan[]>;
  approvalsByName: Map<string, CompiledApproval[]>;
  approvalsByScope: Map<string, CompiledApproval[]>;
  publishRules: PublishRule[];
  /** Undefined while the license allowlist is empty (rule off). */
  license: CompiledLicensePolicy | undefined;
  waiversByName: Map<string, CompiledWaiver[]>;
  rules: RuleSettings;
  exemptions: CompiledExemption[];
  /** The rule table it was compiled with, in evaluation order (src/core/rules). */
  table: RuleTable;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The matchers of a compiled policy, by how they were compiled: what compilePolicy may reuse. */
function matchersOf(policy: CompiledPolicy | undefined): Map<string, VersionMatcher> {
  const known = new Map<string, VersionMatcher>();
  if (!policy) return known;
  const add = (legacy: string, entries: Iterable<{ matcher: VersionMatcher }>) => {
    for (const e of entries) known.set(`${legacy}\0${e.matcher.range}`, e.matcher);
  };
  for (const list of policy.approvalsByName.values()) add('exact', list);
  for (const list of policy.approvalsByScope.values()) add('exact', list);
  for (const list of policy.waiversByName.values()) add('exact', list);
  add('exact', policy.exemptions);
  for (const list of policy.bansByName.values()) add('cover-all', list);
  return known;
}

/**
 * Throws if a stored range is neither a semver range nor a version: the caller must treat that
 * as policy unavailable. `previous` (the policy this one replaces) lends its matchers: ranges
 * are parsed once, not again on every reload (a bulk import reloads once per change).
 */
export function compilePolicy(snapshot: PolicySnapshot, table: RuleTable = RULES, previous?: CompiledPolicy): CompiledPolicy {
  const known = matchersOf(previous);
  const matcher = (range: string, legacy: 'exact' | 'cover-all' = 'exact'): VersionMatcher => {
    const key = `${legacy}\0${range}`;
    let found = known.get(key);
    if (!found) {
      found = compileRange(range, { legacy });
      known.set(key, found);
    }
    return found;
  };
  const compiled: CompiledPolicy = {
    generation: snapshot.generation,
    mode: snapshot.mode,
    bansByName: new Map(),
    approvalsByName: new Map(),
    approvalsByScope: new Map(),
    publishRules: snapshot.publishRules ?? [],
    license: snapshot.license && snapshot.license.allow.length > 0 ? compileLicensePolicy(snapshot.license) : undefined,
    waiversByName: new Map(),
    rules: ruleSettings(snapshot.rules, table),
    exemptions: (snapshot.exemptions ?? []).map((e) => ({ ...e, matcher: matcher(e.range) })),
    table,
  };
  for (const waiver of snapshot.waivers ?? []) {
    push(compiled.waiversByName, waiver.name, { ...waiver, matcher: matcher(waiver.range) });
  }
  if (!POLICY_MODES.includes(snapshot.mode)) throw new Error(`unknown policy mode '${String(snapshot.mode)}'`);
  for (const ban of snapshot.bans) {
    push(compiled.bansByName, ban.name, { ...ban, matcher: matcher(ban.range, 'cover-all') });
  }
  for (const approval of snapshot.approvals) {
    const entry = { ...approval, matcher: matcher(approval.range) };
    if (approval.pattern.endsWith('/*')) push(compiled.approvalsByScope, approval.pattern.slice(0, -2), entry);
    else push(compiled.approvalsByName, approval.pattern, entry);
  }
  return compiled;
}

export interface EvaluationInput {
  name: string;
  version: string;
  manifest: VersionManifest | undefined;
  now: number;
  /** From the packument: the version's publish time (null: none recorded; undefined: no packument). */
  publishedAt?: string | null;
  /** Every version of the package, for "fixed in". */
  versions?: readonly string[];
  /** The package's known advisories; undefined when not looked up. */
  advisories?: PackageAdvisories;
  /**
   * What reading the version's tarball found, when it was read. The manifest rule compares it
   * with the registry's manifest; the install-scripts and license rules use the stricter of the two.
   */
  inspection?: TarballInspection;
  /** The package's versions and publish times (the new-publisher and provenance rules compare with earlier versions). */
  packument?: PackumentView;
}

export function describeBan(ban: Ban): string {
  return ban.advisoryUrl ? `${ban.reason} (${ban.advisoryUrl})` : ban.reason;
}

function activeApprovals(policy: CompiledPolicy, input: EvaluationInput): CompiledApproval[] {
  const byName = policy.approvalsByName.get(input.name) ?? [];
  const scope = scopeOf(input.name);
  const byScope = scope ? (policy.approvalsByScope.get(scope) ?? []) : [];
  return [...byName, ...byScope].filter(
    (a) => (a.expiresAt === null || a.expiresAt.getTime() > input.now) && a.matcher.test(input.version),
  );
}

export function evaluate(policy: CompiledPolicy, input: EvaluationInput): Decision {
  const { name, version } = input;
  const spec = `${name}@${version}`;
  const matches: RuleMatch[] = [];
  const warnings: RuleMatch[] = [];
  let validUntil: number | null = null;
  /** The decision depends on a grant that expires at `at`. */
  const dependsUntil = (at: number | null) => {
    if (at !== null && (validUntil === null || at < validUntil)) validUntil = at;
  };

  const bans = (policy.bansByName.get(name) ?? []).filter((b) => b.matcher.test(version));
  for (const ban of bans) {
    matches.push({ rule: 'ban', ruleId: ban.id, effect: 'deny', code: 'EBANNED', reason: `${spec} is banned: ${describeBan(ban)}` });
  }

  const approvals = activeApprovals(policy, input);
  for (const approval of approvals) {
    const expiry = approval.expiresAt ? `, expires ${approval.expiresAt.toISOString()}` : '';
    matches.push({
      rule: 'approval',
      ruleId: approval.id,
      effect: 'allow',
      reason: `approved as ${approval.pattern}@${approval.range} by ${approval.approvedBy}: ${approval.reason}${expiry}`,
    });
  }

  const decide = (allowed: boolean, code: DecisionCode, ruleId: string, reason: string, brief?: string): Decision => ({
    name,
    version,
    allowed,
    code,
    ruleId,
    reason,
    ...(brief !== undefined ? { brief } : {}),
    matches,
    warnings,
    validUntil,
  });

  if (bans.length > 0) {
    const ban = bans[0];
    return decide(false, 'EBANNED', `ban:${ban.id}`, `${spec} is banned: ${describeBan(ban)}`);
  }

  const ctx: VersionContext = {
    name,
    version,
    manifest: input.manifest,
    publishedAt: input.publishedAt,
    versions: input.versions,
    advisories: input.advisories,
    now: input.now,
    inspection: input.inspection,
    packument: input.packument,
  };
  const notes: Note[] = [];
  const settings = policy.rules as unknown as Record<string, { mode: RuleMode }>;
  for (const rule of policy.table) {
    const mode: RuleMode = settings[rule.key]?.mode ?? rule.defaults.mode;
    if (mode === 'off') continue;
    const denial = rule.check({ settings: settings[rule.key] ?? rule.defaults, ctx, input, policy, approvals, notes, matches, dependsUntil });
    if (!denial) continue;
    const match: RuleMatch = { rule: rule.name, ruleId: denial.ruleId, effect: mode === 'enforce' ? 'deny' : 'warn', code: denial.code, reason: denial.reason, details: denial.details };
    matches.push(match);
    if (mode === 'enforce') {
      collectNotes(notes, matches, warnings);
      return decide(false, denial.code, denial.ruleId, denial.reason, denial.brief);
    }
    warnings.push({ ...match, reason: `${denial.reason} [${denial.code}; the ${rule.name} rule is in warn mode, so it is not enforced]` });
  }
  collectNotes(notes, matches, warnings);

  if (policy.mode === 'allowlist') {
    if (approvals.length === 0) {
      matches.push({
        rule: 'mode',
        ruleId: 'allowlist',
        effect: 'deny',
        code: 'ENOTAPPROVED',
        reason: 'the policy is in allowlist mode and no active approval covers this version',
      });
      return decide(false, 'ENOTAPPROVED', 'mode:allowlist', `${spec} is not approved: the policy is in allowlist mode and no active approval covers this version`);
    }
    // The decision lasts as long as the longest-lived approval that grants it.
    const expiries = approvals.map((a) => (a.expiresAt ? a.expiresAt.getTime() : Infinity));
    const longest = Math.max(...expiries);
    dependsUntil(Number.isFinite(longest) ? longest : null);
    const approval = approvals[expiries.indexOf(longest)];
    return decide(true, 'ALLOWED', `approval:${approval.id}`, `${spec} is approved (${approval.pattern}@${approval.range})`);
  }

  matches.push({ rule: 'mode', ruleId: 'open', effect: 'allow', reason: 'the policy is in open mode' });
  return decide(true, 'ALLOWED', 'mode:open', `${spec} is allowed: the policy is in open mode and no rule blocks it`);
}

function collectNotes(notes: Note[], matches: RuleMatch[], warnings: RuleMatch[]): void {
  for (const note of notes.splice(0)) {
    const match: RuleMatch = { rule: note.rule, ruleId: note.ruleId, effect: 'info', reason: note.reason };
    matches.push(match);
    if (note.notice) warnings.push(match);
  }
}

/**
 * Who a refusal's next step is written for: an admin is told how to approve; everyone else
 * (developers, publishers, readers, anonymous callers) how to ask for it.
 */
export type Audience = 'developer' | 'admin';

export function audienceOf(role: string | undefined): Audience {
  return role === 'admin' ? 'admin' : 'developer';
}

/** The next step a user is told to take for a blocked version; by default, a developer's. */
export function nextStep(decision: Pick<Decision, 'name' | 'version' | 'code'> & { ruleId?: string }, audience: Audience = 'developer'): string {
  const spec = `${decision.name}@${decision.version}`;
  const admin = audience === 'admin';
  const ask = (extra = '') => `gatekeeper request ${spec}${extra} --reason '<why you need it>'`;
  switch (decision.code) {
    case 'ENOTAPPROVED':
      return admin
        ? `Approve it with 'gatekeeper approve ${spec}' (or approve its open request: gatekeeper requests); run 'gatekeeper explain ${spec}' for details`
        : `Ask for it: ${ask()}; run 'gatekeeper explain ${spec}' for details`;
    case 'ELICENSE':
      return admin ? `Run 'gatekeeper explain ${spec}'; a waiver lets it through (gatekeeper license waive ${spec} --reason R)` : `Run 'gatekeeper explain ${spec}' or ask for a waiver: ${ask()}`;
    case 'EINSTALLSCRIPTS':
      return admin
        ? `Allow its scripts: gatekeeper approve ${decision.name} --allow-scripts; run 'gatekeeper explain ${spec}' for details`
        : `Ask for its scripts to be allowed: ${ask()}; run 'gatekeeper explain ${spec}' for details`;
    case 'EQUARANTINED':
      return admin
        ? `Use an older version, wait, or exempt it (gatekeeper policy exempt release-age ${decision.name}); run 'gatekeeper explain ${spec}'`
        : `Use an older version, wait, or ask for an exemption: ${ask()}; run 'gatekeeper explain ${spec}'`;
    case 'EADVISORY':
      // No advisory is known here: another version is unchecked alike, so it is the source to wait for.
      if (decision.ruleId === 'advisory:unchecked') {
        return admin
          ? `Try again once the advisory source answers (its state is under advisories in /-/gatekeeper/v1/health); to serve unchecked packages meanwhile: gatekeeper policy set advisories.unavailable warn`
          : `Try again later, once the advisory source answers; if it stays down, tell an admin (they can let unchecked packages through)`;
      }
      return `Use a fixed version; run 'gatekeeper explain ${spec}' for the advisories`;
    case 'EMANIFESTMISMATCH':
      // Why it matters (npm acts on the tarball's package.json) ends the manifest rule's reason: this is the step alone.
      return (
        `Use another version or ask the package's maintainer to publish a consistent one; ` +
        (admin ? `if you accept the difference, set the rule to warn (gatekeeper policy set manifest warn)` : `an admin who accepts the difference can set the rule to warn`) +
        `; run 'gatekeeper explain ${spec}' for details`
      );
    default: {
      // A rule from the table (src/core/rules) may name its own next step.
      const rule = ruleForCode(decision.code);
      return rule?.nextStep ? rule.nextStep(spec, audience) : `Run 'gatekeeper explain ${spec}'`;
    }
  }
}

/**
 * The web console's page for name@version under a registry's public URL (the registry knows
 * it per request): where a refusal's message sends a developer to see why and request it.
 */
export function consolePackageUrl(publicUrl: string, name: string, version: string): string {
  const base = publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
  return `${base}-/gatekeeper/ui/packages/${encodeURIComponent(name).replace(/^%40/, '@')}?version=${encodeURIComponent(version)}`;
}

/** A blocked version's refusal in parts: what happened, the next step, and the console's page. */
export interface BlockParts {
  reason: string;
  /**
   * What happened, most complete first, for a status text too short for the reason: the
   * reason, the rule's brief form of it, and the brief without the package@version it starts
   * with (most next steps name it, twice), e.g. `this version is installable after …`.
   */
  what: string[];
  next: string;
  /** `; or open <page> to see why and request it`, or '' without the registry's public URL. */
  link: string;
}

export function blockParts(decision: Decision, publicUrl?: string, audience: Audience = 'developer'): BlockParts {
  const link = publicUrl ? `; or open ${consolePackageUrl(publicUrl, decision.name, decision.version)} to see why and request it` : '';
  const brief = decision.brief ?? decision.reason;
  const spec = `${decision.name}@${decision.version}`;
  const next = nextStep(decision, audience);
  // Without the package@version only when the next step names it.
  const rest = brief.startsWith(spec) && next.includes(spec) ? brief.slice(spec.length) : undefined;
  const bare = rest?.startsWith(': ') ? rest.slice(2) : rest?.startsWith(' ') ? `this version${rest}` : undefined;
  const what = [...new Set([decision.reason, brief, ...(bare ? [bare] : [])])];
  return { reason: decision.reason, what, next, link };
}

/**
 * `[CODE] reason. next step` -- the text npm prints for a blocked version. With the registry's
 * public URL, the next step names the console's page for the version too.
 */
export function blockMessage(decision: Decision, publicUrl?: string, audience: Audience = 'developer'): string {
  const { reason, next, link } = blockParts(decision, publicUrl, audience);
  return `${thenSentence(reason, next)}${link}`;
}

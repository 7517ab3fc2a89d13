import { versionKeys } from '../core/advisory';
import { GatekeeperError, validation } from '../core/errors';
import { LATEST_DATE } from '../core/dates';
import { parseExpiry } from '../core/duration';
import { exemptableRules, policySettingKeys, RuleSettings, ruleSettings, ruleViews, validRuleChange } from '../core/rules';
import { assertPackageName, assertPackagePattern, assertRange, assertVersion, isScopeWildcard } from '../core/names';
import { describeLicense, parseLicense } from '../core/license';
import { filterPackument, FilterResult, Packument } from '../core/packument';
import { Approval, Ban, blockMessage, Decision, EvaluationInput, Exemption, POLICY_MODES, PolicyMode } from '../core/policy';
import type { AdvisoryService } from './advisories';
import type { InspectionService } from './inspections';
import { clampLimit, decodeCursor, INT4_MAX, Page, parseRowId } from '../db/pagination';
import type { Repositories, Store } from '../db/store';
import { Actor, auditEntry, AuditWriter } from './audit';
import type { PolicyCache } from './policy-cache';
import { changePolicy, NO_CHANGE } from './policy-change';
import { liveApprovalOf } from './approvals';

/** Where the service reads a version's manifest from (the registry storage, the upstream). */
export interface ManifestSource {
  getPackument(name: string): Promise<Packument | undefined>;
}

export interface Explanation {
  decision: Decision;
  policy: { mode: PolicyMode; generation: number };
  known: boolean;
  message: string;
  /** The upstream's entry for this version was broken and dropped before anything used it: why. */
  dropped?: string;
}

export interface EntryCheck {
  name: string;
  version: string;
  /** False when neither storage nor the upstream knows this version. */
  known: boolean;
  license: string;
  /** The license rule blocks this version (waived violations are not violations). */
  licenseViolation: boolean;
  waived: boolean;
  allowed: boolean;
  code: string;
  ruleId: string;
  reason: string;
}

/**
 * The most entries one request may carry (lockfile checks, license reports, batch requests,
 * projects): more is a 413 EPAYLOADTOOLARGE, as is a body beyond the admin API's 1 MB
 * (ADMIN_BODY_LIMIT in src/admin/router.ts). Bounds the work of one request; statements are
 * chunked (src/db/batch.ts) so none nears PostgreSQL's 65,535 parameters.
 */
export const MAX_BATCH_ENTRIES = 5_000;

/** Throws 400 unless `input` is a list, 413 when it has more than MAX_BATCH_ENTRIES entries. */
export function assertBatch(input: unknown, field: string, shape: string): unknown[] {
  if (!Array.isArray(input)) throw validation(`${field} must be a list of ${shape}`);
  if (input.length > MAX_BATCH_ENTRIES) {
    throw new GatekeeperError(
      'EPAYLOADTOOLARGE',
      `${field} has ${input.length} entries; at most ${MAX_BATCH_ENTRIES} are accepted at once. Split the list into parts of at most ${MAX_BATCH_ENTRIES} and send each`,
    );
  }
  return input;
}

/** The fields of a lockfile entry (`gatekeeper check` sends them as the lockfile parser reads them). */
export const LOCKFILE_ENTRY_FIELDS = ['name', 'version', 'integrity', 'resolved', 'dev', 'optional'] as const;

/**
 * Entry `i` of a batch, checked like a body: an object with a name and a version, and no field
 * but `fields` (a misspelt or unsupported field, such as a `range`, is refused, not ignored).
 * Returns the valid name and version; the caller reads the other fields.
 */
export function batchEntry(value: unknown, i: number, field: string, fields: readonly string[]): { name: string; version: string; entry: Record<string, unknown> } {
  const where = `${field}[${i}]`;
  const shape = `{${fields.join(', ')}}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatekeeperError('EVALIDATION', `${where} must be an object ${shape}, e.g. {"name": "lodash", "version": "4.17.21"}`, { field: where });
  }
  const entry = value as Record<string, unknown>;
  const unknown = Object.keys(entry).filter((k) => !fields.includes(k));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((k) => (k.length > 40 ? `${k.slice(0, 37)}...` : k).replace(/[^\x20-\x7e]/g, '?')).join(', ');
    throw new GatekeeperError('EVALIDATION', `${where} does not take ${unknown.length === 1 ? 'the field' : 'the fields'} ${named}. An entry takes ${fields.join(', ')}, with an exact version (not a range)`, {
      field: where,
      fields: unknown.slice(0, 20),
    });
  }
  // A lockfile's own fields, where an entry carries them: of the types a lockfile gives them.
  for (const [key, max] of [['integrity', 1024], ['resolved', 4096]] as const) {
    const value = entry[key];
    if (value !== undefined && value !== null && (typeof value !== 'string' || value.length > max)) {
      throw new GatekeeperError('EVALIDATION', `${where}.${key} must be text of at most ${max} characters, as the lockfile has it`, { field: `${where}.${key}` });
    }
  }
  for (const key of ['dev', 'optional']) {
    const value = entry[key];
    if (value !== undefined && value !== null && typeof value !== 'boolean') {
      throw new GatekeeperError('EVALIDATION', `${where}.${key} must be true or false, as the lockfile has it`, { field: `${where}.${key}` });
    }
  }
  for (const key of ['name', 'version']) {
    if (entry[key] === undefined || entry[key] === null) {
      throw new GatekeeperError('EVALIDATION', `${where} has no ${key}. Give each entry a name and an exact version, e.g. {"name": "lodash", "version": "4.17.21"}`, { field: `${where}.${key}` });
    }
  }
  try {
    return { name: assertPackageName(entry.name), version: assertVersion(entry.version), entry };
  } catch (err) {
    throw new GatekeeperError((err as GatekeeperError).code ?? 'EVALIDATION', `${where}: ${(err as Error).message}`);
  }
}


/** `parseExpiry`, bounded: an expiry beyond the year 9999 (`--expires 999999w`) is a 400; PostgreSQL and every client can store and show the rest. */
export function boundedExpiry(input: { expiresAt?: unknown; expiresIn?: unknown }, now: number): Date | null {
  if (input.expiresAt != null && input.expiresIn != null) throw validation('give expiresIn or expiresAt, not both');
  const expiresAt = parseExpiry(input, now);
  if (expiresAt !== null && !(expiresAt.getTime() <= LATEST_DATE)) {
    throw validation('an expiry must lie before the year 10000; give a shorter duration or an earlier date');
  }
  return expiresAt;
}

/** A flag given as something other than true or false is a mistake, not false. */
export function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null || typeof value === 'boolean') return value ?? undefined;
  throw validation(`${field} must be true or false`);
}

export interface ListQuery {
  name?: string;
  cursor?: string;
  limit?: unknown;
}

const EMPTY_VERSIONS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * Policy decisions and policy administration. Every change is audited in the same
 * transaction, bumps the policy generation (announced to other processes through
 * NOTIFY) and reloads this process's cache before it returns.
 */
export class GovernanceService {
  manifests: ManifestSource | undefined;
  advisories: AdvisoryService | undefined;
  inspections: InspectionService | undefined;
  /** Versions dropped from a package's upstream document (broken entries), for explain. */
  upstreamDropped: ((name: string) => ReadonlyArray<{ version: string; reason: string }>) | undefined;
  /** Told of every refused install that is served (the metrics count them by code and rule). */
  onBlocked: ((code: string, ruleId: string | null, via: 'packument' | 'tarball' | 'version') => void) | undefined;

  constructor(
    private readonly store: Store,
    readonly cache: PolicyCache,
    private readonly auditWriter: AuditWriter,
    private readonly now: () => number = Date.now,
  ) {}

  // Decisions (hot path: no database round trip while the cache is valid)

  /**
   * Loads what deciding this package needs besides the policy (its advisories and tarball
   * inspections), and waits for a policy change another process announced meanwhile
   * (PolicyCache.settled): deciding follows it synchronously.
   */
  async prepare(packument: Packument): Promise<void> {
    await Promise.all([this.advisories?.prepare(packument.name, Object.keys(packument.versions ?? {})), this.inspections?.prepare(packument.name)]);
    if (this.cache.stale) await this.cache.settled();
  }

  private input(packument: Packument | undefined, name: string, version: string): Omit<EvaluationInput, 'now'> {
    return {
      name,
      version,
      manifest: packument?.versions?.[version],
      publishedAt: packument ? (packument.time?.[version] ?? null) : undefined,
      versions: packument ? versionKeys(packument.versions ?? EMPTY_VERSIONS) : undefined,
      advisories: this.advisories?.known(name),
      inspection: this.inspections?.known(name, version),
      packument: packument?.versions ? { versions: packument.versions as Record<string, Record<string, unknown>>, time: packument.time } : undefined,
    };
  }

  /** Filters a whole packument with one policy snapshot (call prepare first). Throws EPOLICYUNAVAILABLE. */
  filterPackument(packument: Packument): FilterResult {
    const policy = this.cache.current();
    return filterPackument(packument, (version) => this.cache.decide(policy, this.input(packument, packument.name, version)));
  }

  /**
   * Decides one version. With the package's packument from our storage the decision is
   * cached; from elsewhere (the upstream directly) or without a packument it is not.
   */
  decide(name: string, version: string, packument: Packument | undefined, fromStorage = true): Decision {
    const policy = this.cache.current();
    const cacheable = fromStorage && packument?.versions?.[version] !== undefined;
    return this.cache.decide(policy, this.input(packument, name, version), cacheable);
  }

  /** Records a refused install (packument or tarball) in the audit log, batched. */
  recordBlocked(actor: Actor, decision: Decision, via: 'packument' | 'tarball' | 'version'): void {
    this.onBlocked?.(decision.code, decision.ruleId, via);
    this.auditWriter.record(
      auditEntry(actor, 'install.blocked', {
        package: decision.name,
        version: decision.version,
        ruleId: decision.ruleId,
        details: { code: decision.code, reason: decision.reason, via },
      }),
    );
    this.blockedInstalls?.count(decision.name, decision.code);
  }

  /**
   * Records a tarball refused for what the upstream served rather than for the policy: a
   * tarball URL outside the upstream's origin, or bytes that do not match the integrity.
   */
  recordTarballRefused(actor: Actor, name: string, version: string, err: GatekeeperError, url: string): void {
    this.onBlocked?.(err.code, 'upstream', 'tarball');
    this.auditWriter.record(
      auditEntry(actor, 'install.blocked', {
        package: name,
        version,
        ruleId: 'upstream',
        details: { code: err.code, reason: err.message, via: 'tarball', url },
      }),
    );
    this.blockedInstalls?.count(name, err.code);
  }

  /** Refused installs counted in memory for the install.blocked webhook event (no I/O on the deny path). */
  blockedInstalls: { count(name: string, code: string): void } | undefined;

  private readonly warnedAlready = new Set<string>();

  /**
   * Records what warn-mode rules said about versions that were served anyway: once per
   * version, rule and policy generation (a packument is fetched far more often than that).
   */
  recordWarned(actor: Actor, decisions: Decision[], via: 'packument' | 'tarball'): void {
    const generation = this.cache.generation ?? 0;
    for (const decision of decisions) {
      for (const warning of decision.warnings) {
        if (warning.effect !== 'warn') continue;
        const key = `${generation}:${decision.name}@${decision.version}:${warning.ruleId}`;
        if (this.warnedAlready.has(key)) continue;
        if (this.warnedAlready.size > 50_000) this.warnedAlready.clear();
        this.warnedAlready.add(key);
        this.auditWriter.record(
          auditEntry(actor, 'install.warned', {
            package: decision.name,
            version: decision.version,
            ruleId: warning.ruleId,
            details: { code: warning.code, reason: warning.reason, via },
          }),
        );
      }
    }
  }

  async explain(nameInput: string, versionInput: string): Promise<Explanation> {
    const name = assertPackageName(nameInput);
    const version = assertVersion(versionInput);
    const packument = this.manifests ? await this.manifests.getPackument(name) : undefined;
    if (packument) await this.prepare(packument);
    const manifest = packument?.versions?.[version];
    const policy = this.cache.current();
    const decision = this.decide(name, version, packument);
    const message = decision.allowed ? decision.reason : `[${decision.code}] ${blockMessage(decision)}`;
    const explanation: Explanation = { decision, policy: { mode: policy.mode, generation: policy.generation }, known: manifest !== undefined, message };
    const dropped = manifest === undefined ? this.upstreamDropped?.(name).find((d) => d.version === version) : undefined;
    if (dropped) explanation.dropped = dropped.reason;
    return explanation;
  }

  /**
   * Decides every name@version of a dependency tree with one policy snapshot. Each package's
   * packument is read once (from storage, which syncs the upstream), a few at a time.
   */
  async checkEntries(input: unknown, concurrency = 8): Promise<EntryCheck[]> {
    const entries = assertBatch(input, 'entries', '{name, version}').map((e, i) => {
      const { name, version } = batchEntry(e, i, 'entries', LOCKFILE_ENTRY_FIELDS);
      return { name, version };
    });
    const manifests = this.manifests;
    if (!manifests) throw new GatekeeperError('EPOLICYUNAVAILABLE', 'package metadata cannot be read yet. Try again once the registry has started');
    const names = [...new Set(entries.map((e) => e.name))];
    const packuments = new Map<string, Packument | undefined>();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, names.length) }, async () => {
        while (next < names.length) {
          const name = names[next++];
          packuments.set(name, await manifests.getPackument(name));
        }
      }),
    );
    // All advisories in a few bulk requests rather than one per package; inspections likewise.
    await Promise.all([
      this.advisories?.prepareMany(
        [...packuments.values()].filter((p): p is Packument => p !== undefined).map((p) => ({ name: p.name, versions: Object.keys(p.versions ?? {}) })),
      ),
      this.inspections?.prepareMany(names),
    ]);
    if (this.cache.stale) await this.cache.settled();
    return entries.map(({ name, version }) => {
      const manifest = packuments.get(name)?.versions?.[version];
      const decision: Decision = this.decide(name, version, packuments.get(name));
      const licenseMatch = decision.matches.find((m) => m.rule === 'license' && m.effect === 'deny');
      const waived = decision.matches.some((m) => m.rule === 'waiver');
      return {
        name,
        version,
        known: manifest !== undefined,
        license: manifest ? describeLicense(parseLicense(manifest as { license?: unknown; licenses?: unknown })) : 'unknown version',
        licenseViolation: licenseMatch !== undefined && !waived,
        waived,
        allowed: decision.allowed,
        code: decision.code,
        ruleId: decision.ruleId,
        reason: decision.reason,
      };
    });
  }

  // Administration

  private change<T>(actor: Actor, what: string, fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return changePolicy(this.store, this.cache, actor, what, fn);
  }

  async getPolicy(): Promise<PolicyView> {
    const state = await this.store.repos.policy.mode();
    const rules = ruleSettings(await this.store.repos.policy.rules());
    return { ...state, rules: ruleViews(rules) as PolicyView['rules'] };
  }

  /**
   * Changes the mode and any rule settings given (`{mode, <rule key>: {mode, <setting>: …}}`,
   * the rules and their settings as the rule table in src/core/rules has them); what is not
   * given stays as it is.
   */
  async updatePolicy(actor: Actor, body: Record<string, unknown>): Promise<PolicyView> {
    const allowed = policySettingKeys();
    const unknownKeys = Object.keys(body).filter((k) => !allowed.includes(k));
    if (unknownKeys.length > 0) throw validation(`unknown policy setting(s): ${unknownKeys.join(', ')}; see ${allowed.join(', ')}`);
    if (Object.keys(body).length === 0) throw validation(`the change names no setting. Give at least one of ${allowed.join(', ')}`);
    if (body.mode !== undefined && (typeof body.mode !== 'string' || !POLICY_MODES.includes(body.mode as PolicyMode))) {
      throw validation(`mode must be one of ${POLICY_MODES.join(', ')}`);
    }
    const changes: Array<[string, Record<string, unknown>]> = [];
    for (const rule of allowed.slice(1)) {
      const change = body[rule];
      if (change === undefined) continue;
      if (!change || typeof change !== 'object' || Array.isArray(change)) throw validation(`${rule} must be an object of settings`);
      changes.push([rule, validRuleChange(rule, change as Record<string, unknown>)]);
    }
    // Merged into the settings read under the policy's lock (changePolicy): a concurrent change is kept, not overwritten.
    await this.change(actor, 'the policy', async (repos) => {
      const before = await repos.policy.mode();
      const stored = ((await repos.policy.rules()) ?? {}) as Record<string, Record<string, unknown>>;
      const next: Record<string, Record<string, unknown>> = JSON.parse(JSON.stringify(stored));
      for (const [rule, change] of changes) next[rule] = { ...(next[rule] ?? {}), ...change };
      // A change to what is already set changes nothing: no new generation, nothing to audit.
      // Only the rules whose stored settings differ count (next keeps stored's key order).
      const modeChanges = body.mode !== undefined && body.mode !== before.mode;
      const ruleChanges = changes.map(([rule]) => rule).filter((rule) => JSON.stringify(next[rule]) !== JSON.stringify(stored[rule]));
      if (!modeChanges && ruleChanges.length === 0) return NO_CHANGE;
      if (modeChanges) {
        await repos.policy.setMode(body.mode as PolicyMode);
        await repos.audit.save(auditEntry(actor, 'policy.mode', { details: { from: before.mode, to: body.mode } }));
      }
      if (ruleChanges.length > 0) {
        await repos.policy.setRules(next);
        await repos.audit.save(auditEntry(actor, 'policy.rules', { details: { from: pick(stored, ruleChanges), to: pick(next, ruleChanges) } }));
      }
      return undefined;
    });
    return this.getPolicy();
  }

  async setMode(actor: Actor, mode: unknown): Promise<PolicyView> {
    return this.updatePolicy(actor, { mode });
  }

  listExemptions(): Promise<Exemption[]> {
    return this.store.repos.policy.listExemptions();
  }

  async exempt(actor: Actor, input: { rule?: unknown; name?: unknown; range?: unknown; reason?: unknown }): Promise<Exemption> {
    const rules = exemptableRules();
    if (typeof input.rule !== 'string' || !rules.includes(input.rule)) throw validation(`rule must be one of ${rules.join(', ')} (the rules with exemptions)`);
    const rule = input.rule;
    const pattern = assertPackagePattern(input.name);
    const range = assertRange(input.range);
    const reason = optionalText(input.reason, 'reason');
    if (!reason) throw validation('an exemption needs a reason');
    return this.change(actor, `an exemption for ${pattern}@${range}`, async (repos) => {
      const exemption = await repos.policy.saveExemption({ rule, pattern, range, reason, createdBy: actor.username });
      await repos.audit.save(auditEntry(actor, 'exemption.create', { package: pattern, ruleId: `exemption:${exemption.id}`, details: { rule, range, exemptionReason: reason } }));
      return exemption;
    });
  }

  async unexempt(actor: Actor, id: unknown): Promise<Exemption> {
    const exemptionId = parseId(id);
    return this.change(actor, 'the exemption', async (repos) => {
      const removed = await repos.policy.removeExemption(exemptionId);
      if (!removed) throw new GatekeeperError('ENOTFOUND', `there is no exemption ${exemptionId}. 'gatekeeper policy exemptions' lists them`);
      await repos.audit.save(auditEntry(actor, 'exemption.delete', { package: removed.pattern, ruleId: `exemption:${exemptionId}`, details: { rule: removed.rule, range: removed.range, exemptionReason: removed.reason } }));
      return removed;
    });
  }

  async approve(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown; expiresAt?: unknown; expiresIn?: unknown; allowScripts?: unknown }): Promise<Approval> {
    optionalBoolean(input.allowScripts, 'allowScripts');
    const pattern = assertPackagePattern(input.name);
    const range = assertRange(input.range);
    if (isScopeWildcard(pattern) && range !== '*') throw validation('a scope wildcard approval covers every version; leave the range out');
    const reason = optionalText(input.reason, 'reason') ?? 'approved';
    const expiresAt = boundedExpiry(input, this.now());
    try {
      return await this.change(actor, `an approval for ${pattern}@${range}`, async (repos) => {
        const allowScripts = input.allowScripts === true;
        // An expired approval of the same spec approves nothing: this one takes its place.
        await liveApprovalOf(repos, actor, pattern, range, this.now());
        const approval = await repos.policy.saveApproval({ pattern, range, reason, approvedBy: actor.username, expiresAt, allowScripts });
        await repos.audit.save(
          auditEntry(actor, 'approval.create', {
            package: pattern,
            ruleId: `approval:${approval.id}`,
            details: { range, approvalReason: reason, expiresAt: expiresAt?.toISOString() ?? null, allowScripts: input.allowScripts === true },
          }),
        );
        return approval;
      });
    } catch (err) {
      if (err instanceof GatekeeperError && err.code === 'ECONFLICT') {
        const existing = await this.store.repos.policy.findApprovalBySpec(pattern, range);
        throw new GatekeeperError('ECONFLICT', `${pattern}@${range} is already approved (approval ${existing?.id ?? '?'}); remove it first to change it`, {
          id: existing?.id,
        });
      }
      throw err;
    }
  }

  async unapprove(actor: Actor, ref: { id?: unknown; name?: unknown; range?: unknown }): Promise<Approval> {
    return this.change(actor, 'the approval', async (repos) => {
      const target = ref.id !== undefined ? await repos.policy.findApproval(parseId(ref.id)) : await repos.policy.findApprovalBySpec(assertPackagePattern(ref.name), assertRange(ref.range));
      if (!target) throw new GatekeeperError('ENOTFOUND', `there is no such approval; list them with 'gatekeeper approvals'`);
      await repos.policy.removeApproval(Number(target.id));
      await repos.audit.save(
        auditEntry(actor, 'approval.delete', { package: target.pattern, ruleId: `approval:${target.id}`, details: { range: target.range, approvalReason: target.reason } }),
      );
      return target;
    });
  }

  async ban(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown; advisoryUrl?: unknown }): Promise<Ban> {
    const name = assertPackageName(input.name);
    const range = assertRange(input.range);
    const reason = optionalText(input.reason, 'reason');
    if (!reason) throw validation('a ban needs a reason; it is shown to everyone whose install it blocks');
    const advisoryUrl = optionalText(input.advisoryUrl, 'advisoryUrl') ?? null;
    if (advisoryUrl && !/^https?:\/\//.test(advisoryUrl)) throw validation('advisoryUrl must be an http(s) URL');
    try {
      return await this.change(actor, `a ban on ${name}@${range}`, async (repos) => {
        const ban = await repos.policy.saveBan({ name, range, reason, advisoryUrl, bannedBy: actor.username });
        await repos.audit.save(auditEntry(actor, 'ban.create', { package: name, ruleId: `ban:${ban.id}`, details: { range, banReason: reason, advisoryUrl } }));
        return ban;
      });
    } catch (err) {
      if (err instanceof GatekeeperError && err.code === 'ECONFLICT') {
        const existing = await this.store.repos.policy.findBanBySpec(name, range);
        throw new GatekeeperError('ECONFLICT', `${name}@${range} is already banned (ban ${existing?.id ?? '?'}). Change or remove that ban instead`, { id: existing?.id });
      }
      throw err;
    }
  }

  async unban(actor: Actor, ref: { id?: unknown; name?: unknown; range?: unknown }): Promise<Ban> {
    return this.change(actor, 'the ban', async (repos) => {
      const target = ref.id !== undefined ? await repos.policy.findBan(parseId(ref.id)) : await repos.policy.findBanBySpec(assertPackageName(ref.name), assertRange(ref.range));
      if (!target) throw new GatekeeperError('ENOTFOUND', `there is no such ban; list them with 'gatekeeper bans'`);
      await repos.policy.removeBan(Number(target.id));
      await repos.audit.save(auditEntry(actor, 'ban.delete', { package: target.name, ruleId: `ban:${target.id}`, details: { range: target.range, banReason: target.reason } }));
      return target;
    });
  }

  listApprovals(query: ListQuery): Promise<Page<Approval>> {
    return this.store.repos.policy.listApprovals({ name: query.name, after: decodeCursor(query.cursor), limit: clampLimit(query.limit) });
  }

  listBans(query: ListQuery): Promise<Page<Ban>> {
    return this.store.repos.policy.listBans({ name: query.name, after: decodeCursor(query.cursor), limit: clampLimit(query.limit) });
  }
}

export interface PolicyView {
  mode: PolicyMode;
  generation: number;
  updatedAt: Date;
  updatedBy: string | null;
  rules: RuleSettings & { releaseAge: RuleSettings['releaseAge'] & { minimum: string } };
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, obj[k] ?? null]));
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 2000) throw validation(`${field} must be text of at most 2000 characters`);
  return value.trim();
}

/** The id of a row of an `integer` column (every admin :id): 1 to 2,147,483,647, else a 400. */
export function parseId(value: unknown): number {
  return parseRowId(value, INT4_MAX);
}


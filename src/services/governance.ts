import { GatekeeperError, validation } from '../core/errors';
import { parseExpiry } from '../core/duration';
import { assertPackageName, assertPackagePattern, assertRange, assertVersion, isScopeWildcard } from '../core/names';
import { describeLicense, parseLicense } from '../core/license';
import { filterPackument, FilterResult, Packument } from '../core/packument';
import { Approval, Ban, blockMessage, Decision, POLICY_MODES, PolicyMode, VersionManifest } from '../core/policy';
import { clampLimit, decodeCursor, Page } from '../db/pagination';
import type { Repositories, Store } from '../db/store';
import { Actor, auditEntry, AuditWriter } from './audit';
import type { PolicyCache } from './policy-cache';
import { changePolicy } from './policy-change';

/** Where the service reads a version's manifest from (the registry storage, the upstream). */
export interface ManifestSource {
  getPackument(name: string): Promise<Packument | undefined>;
}

export interface Explanation {
  decision: Decision;
  policy: { mode: PolicyMode; generation: number };
  known: boolean;
  message: string;
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

export const MAX_ENTRIES = 20_000;

export interface ListQuery {
  name?: string;
  cursor?: string;
  limit?: unknown;
}

/**
 * Policy decisions and policy administration. Every change is audited in the same
 * transaction, bumps the policy generation (announced to other processes through
 * NOTIFY) and reloads this process's cache before it returns.
 */
export class GovernanceService {
  manifests: ManifestSource | undefined;

  constructor(
    private readonly store: Store,
    readonly cache: PolicyCache,
    private readonly auditWriter: AuditWriter,
    private readonly now: () => number = Date.now,
  ) {}

  // Decisions (hot path: no database round trip while the cache is valid)

  /** Filters a whole packument with one policy snapshot. Throws EPOLICYUNAVAILABLE. */
  filterPackument(packument: Packument): FilterResult {
    const policy = this.cache.current();
    return filterPackument(packument, (version, manifest) => this.cache.decide(policy, packument.name, version, manifest));
  }

  decide(name: string, version: string, manifest: VersionManifest | undefined): Decision {
    return this.cache.decide(this.cache.current(), name, version, manifest);
  }

  /** Records a refused install (packument or tarball) in the audit log, batched. */
  recordBlocked(actor: Actor, decision: Decision, via: 'packument' | 'tarball' | 'version'): void {
    this.auditWriter.record(
      auditEntry(actor, 'install.blocked', {
        package: decision.name,
        version: decision.version,
        ruleId: decision.ruleId,
        details: { code: decision.code, reason: decision.reason, via },
      }),
    );
  }

  async explain(nameInput: string, versionInput: string): Promise<Explanation> {
    const name = assertPackageName(nameInput);
    const version = assertVersion(versionInput);
    const packument = this.manifests ? await this.manifests.getPackument(name) : undefined;
    const manifest = packument?.versions?.[version];
    const policy = this.cache.current();
    const decision = this.cache.decide(policy, name, version, manifest);
    const message = decision.allowed ? decision.reason : `[${decision.code}] ${blockMessage(decision)}`;
    return { decision, policy: { mode: policy.mode, generation: policy.generation }, known: manifest !== undefined, message };
  }

  /**
   * Decides every name@version of a dependency tree with one policy snapshot. Each package's
   * packument is read once (from storage, which syncs the upstream), a few at a time.
   */
  async checkEntries(input: unknown, concurrency = 8): Promise<EntryCheck[]> {
    if (!Array.isArray(input)) throw validation('entries must be a list of {name, version}');
    if (input.length > MAX_ENTRIES) throw validation(`at most ${MAX_ENTRIES} entries can be checked at once`);
    const entries = input.map((e, i) => {
      const entry = e as { name?: unknown; version?: unknown };
      try {
        return { name: assertPackageName(entry?.name), version: assertVersion(entry?.version) };
      } catch (err) {
        throw new GatekeeperError((err as GatekeeperError).code ?? 'EVALIDATION', `entries[${i}]: ${(err as Error).message}`);
      }
    });
    const manifests = this.manifests;
    if (!manifests) throw new GatekeeperError('EPOLICYUNAVAILABLE', 'package metadata cannot be read yet');
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
    return entries.map(({ name, version }) => {
      const manifest = packuments.get(name)?.versions?.[version];
      const decision: Decision = this.decide(name, version, manifest);
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

  async getPolicy(): Promise<{ mode: PolicyMode; generation: number; updatedAt: Date; updatedBy: string | null }> {
    return this.store.repos.policy.mode();
  }

  async setMode(actor: Actor, mode: unknown): Promise<{ mode: PolicyMode; generation: number }> {
    if (typeof mode !== 'string' || !POLICY_MODES.includes(mode as PolicyMode)) {
      throw validation(`mode must be one of ${POLICY_MODES.join(', ')}`);
    }
    const previous = await this.store.repos.policy.mode();
    await this.change(actor, 'the policy mode', async (repos) => {
      await repos.policy.setMode(mode as PolicyMode);
      await repos.audit.save(auditEntry(actor, 'policy.mode', { details: { from: previous.mode, to: mode } }));
    });
    const current = await this.store.repos.policy.mode();
    return { mode: current.mode, generation: current.generation };
  }

  async approve(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown; expiresAt?: unknown; expiresIn?: unknown }): Promise<Approval> {
    const pattern = assertPackagePattern(input.name);
    const range = assertRange(input.range);
    if (isScopeWildcard(pattern) && range !== '*') throw validation('a scope wildcard approval covers every version; leave the range out');
    const reason = optionalText(input.reason, 'reason') ?? 'approved';
    const expiresAt = parseExpiry(input, this.now());
    try {
      return await this.change(actor, `an approval for ${pattern}@${range}`, async (repos) => {
        const approval = await repos.policy.saveApproval({ pattern, range, reason, approvedBy: actor.username, expiresAt });
        await repos.audit.save(
          auditEntry(actor, 'approval.create', {
            package: pattern,
            ruleId: `approval:${approval.id}`,
            details: { range, reason, expiresAt: expiresAt?.toISOString() ?? null },
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
        auditEntry(actor, 'approval.delete', { package: target.pattern, ruleId: `approval:${target.id}`, details: { range: target.range, reason: target.reason } }),
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
        await repos.audit.save(auditEntry(actor, 'ban.create', { package: name, ruleId: `ban:${ban.id}`, details: { range, reason, advisoryUrl } }));
        return ban;
      });
    } catch (err) {
      if (err instanceof GatekeeperError && err.code === 'ECONFLICT') {
        const existing = await this.store.repos.policy.findBanBySpec(name, range);
        throw new GatekeeperError('ECONFLICT', `${name}@${range} is already banned (ban ${existing?.id ?? '?'})`, { id: existing?.id });
      }
      throw err;
    }
  }

  async unban(actor: Actor, ref: { id?: unknown; name?: unknown; range?: unknown }): Promise<Ban> {
    return this.change(actor, 'the ban', async (repos) => {
      const target = ref.id !== undefined ? await repos.policy.findBan(parseId(ref.id)) : await repos.policy.findBanBySpec(assertPackageName(ref.name), assertRange(ref.range));
      if (!target) throw new GatekeeperError('ENOTFOUND', `there is no such ban; list them with 'gatekeeper bans'`);
      await repos.policy.removeBan(Number(target.id));
      await repos.audit.save(auditEntry(actor, 'ban.delete', { package: target.name, ruleId: `ban:${target.id}`, details: { range: target.range, reason: target.reason } }));
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

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 2000) throw validation(`${field} must be text of at most 2000 characters`);
  return value.trim();
}

export function parseId(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n <= 0) throw validation(`'${String(value)}' is not a valid id`);
  return n;
}


import { GatekeeperError, validation } from '../core/errors';
import { LicensePolicy, licensePolicyEntryError } from '../core/license';
import { assertPackageName, assertRange } from '../core/names';
import type { Waiver } from '../core/policy';
import { clampLimit, decodeCursor, Page } from '../db/pagination';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import type { EntryCheck, GovernanceService, ListQuery } from './governance';
import { boundedExpiry, parseId } from './governance';
import type { PolicyCache } from './policy-cache';
import { changePolicy, NO_CHANGE } from './policy-change';

export interface LicensePolicyView {
  allow: string[];
  deny: string[];
  unknown: 'block' | 'allow';
  /** The rule is on while the allowlist is not empty. */
  enabled: boolean;
}


function listOfIds(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw validation(`${field} must be a list of SPDX license ids`);
  const ids = value.map((v) => (typeof v === 'string' ? v.trim() : v));
  for (const id of ids) {
    const problem = licensePolicyEntryError(id);
    if (problem) throw new GatekeeperError('EVALIDATION', `${field}: ${problem}`);
  }
  return [...new Set(ids as string[])];
}

/** The license policy, waivers, and license/decision checks of whole dependency trees. */
export class LicenseService {
  constructor(
    private readonly store: Store,
    private readonly cache: PolicyCache,
    private readonly governance: GovernanceService,
    private readonly now: () => number = Date.now,
  ) {}

  async getPolicy(): Promise<LicensePolicyView> {
    const policy = await this.store.repos.policy.licensePolicy();
    return { ...policy, enabled: policy.allow.length > 0 };
  }

  /** Replaces the fields given; the others stay as they are. */
  async setPolicy(actor: Actor, input: { allow?: unknown; deny?: unknown; unknown?: unknown }): Promise<LicensePolicyView> {
    const unknownKeys = Object.keys(input).filter((k) => !['allow', 'deny', 'unknown'].includes(k));
    if (unknownKeys.length > 0) throw validation(`unknown license policy field(s): ${unknownKeys.join(', ')}`);
    if (Object.keys(input).length === 0) throw validation('the change names nothing to change. Give at least one of allow, deny, unknown');
    const allow = input.allow === undefined ? undefined : listOfIds(input.allow, 'allow');
    const deny = input.deny === undefined ? undefined : listOfIds(input.deny, 'deny');
    if (input.unknown !== undefined && input.unknown !== 'block' && input.unknown !== 'allow') throw validation("unknown must be 'block' or 'allow'");
    // The fields not given are read under the policy's lock (changePolicy): a concurrent change to them is kept, not overwritten.
    let inForce: Required<LicensePolicy> | undefined;
    await changePolicy(this.store, this.cache, actor, 'the license policy', async (repos) => {
      const before = await repos.policy.licensePolicy();
      const next: Required<LicensePolicy> = { allow: allow ?? before.allow, deny: deny ?? before.deny, unknown: (input.unknown as LicensePolicy['unknown'] | undefined) ?? before.unknown };
      // A change to what is already set changes nothing: no new generation, nothing to audit (as PATCH /policy).
      // The lists are sets: another order or a repeat is the same list (the order sent is kept when it is a change).
      const same = (a: readonly string[], b: readonly string[]) => new Set(a).size === new Set(b).size && a.every((x) => b.includes(x));
      const unchanged = same(next.allow, before.allow) && same(next.deny, before.deny) && next.unknown === before.unknown;
      // Answered with what is in force: for no change, the stored lists in their stored order.
      inForce = unchanged ? before : next;
      if (unchanged) return NO_CHANGE;
      await repos.policy.setLicensePolicy(next);
      await repos.audit.save(auditEntry(actor, 'license.policy', { details: { from: before, to: next } }));
      return undefined;
    });
    const policy = inForce as Required<LicensePolicy>;
    return { ...policy, enabled: policy.allow.length > 0 };
  }

  async waive(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown; expiresAt?: unknown; expiresIn?: unknown }): Promise<Waiver> {
    const name = assertPackageName(input.name);
    const range = assertRange(input.range);
    if (typeof input.reason !== 'string' || input.reason.trim() === '' || input.reason.length > 2000) {
      throw validation('a waiver needs a reason (at most 2000 characters)');
    }
    const reason = input.reason.trim();
    const expiresAt = boundedExpiry(input, this.now());
    return changePolicy(this.store, this.cache, actor, `a waiver for ${name}@${range}`, async (repos) => {
      const existing = await repos.policy.findWaiverForUpdate(name, range);
      if (existing) {
        throw new GatekeeperError('ECONFLICT', `${name}@${range} has a live waiver already (waiver ${existing.id}). Remove it with 'gatekeeper license unwaive ${existing.id}' to replace it`, { id: existing.id });
      }
      const waiver = await repos.policy.saveWaiver({ name, range, reason, approvedBy: actor.username, expiresAt });
      await repos.audit.save(
        auditEntry(actor, 'license.waiver.create', { package: name, ruleId: `waiver:${waiver.id}`, details: { range, waiverReason: reason, expiresAt: expiresAt?.toISOString() ?? null } }),
      );
      return waiver;
    });
  }

  async unwaive(actor: Actor, idInput: unknown): Promise<Waiver> {
    const id = parseId(idInput);
    return changePolicy(this.store, this.cache, actor, 'the waiver', async (repos) => {
      const waiver = await repos.policy.removeWaiver(id);
      if (!waiver) throw new GatekeeperError('ENOTFOUND', `there is no waiver ${id}; list them with 'gatekeeper license waivers'`);
      await repos.audit.save(auditEntry(actor, 'license.waiver.delete', { package: waiver.name, ruleId: `waiver:${id}`, details: { range: waiver.range, waiverReason: waiver.reason } }));
      return waiver;
    });
  }

  listWaivers(query: ListQuery): Promise<Page<Waiver>> {
    return this.store.repos.policy.listWaivers({ name: query.name, after: decodeCursor(query.cursor), limit: clampLimit(query.limit) });
  }

}

export interface LicenseGroup {
  license: string;
  /** Some package in the group violates the license policy (waived ones do not). */
  violation: boolean;
  packages: Array<{ spec: string; violation: boolean; waived: boolean }>;
}

/** Groups checked entries by license: violations first, then by license name. */
export function groupByLicense(checks: EntryCheck[]): LicenseGroup[] {
  const groups = new Map<string, LicenseGroup>();
  for (const c of checks) {
    const group = groups.get(c.license) ?? { license: c.license, violation: false, packages: [] };
    group.packages.push({ spec: `${c.name}@${c.version}`, violation: c.licenseViolation, waived: c.waived });
    group.violation = group.violation || c.licenseViolation;
    groups.set(c.license, group);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, packages: g.packages.sort((a, b) => a.spec.localeCompare(b.spec)) }))
    .sort((a, b) => Number(b.violation) - Number(a.violation) || a.license.localeCompare(b.license));
}

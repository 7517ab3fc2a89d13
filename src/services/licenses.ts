import { GatekeeperError, validation } from '../core/errors';
import { parseExpiry } from '../core/duration';
import { describeLicense, licensePolicyEntryError, parseLicense } from '../core/license';
import { assertPackageName, assertRange, assertVersion } from '../core/names';
import type { Packument } from '../core/packument';
import type { Decision, Waiver } from '../core/policy';
import { clampLimit, decodeCursor, Page } from '../db/pagination';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import type { GovernanceService, ListQuery } from './governance';
import { parseId } from './governance';
import type { PolicyCache } from './policy-cache';
import { changePolicy } from './policy-change';

export interface LicensePolicyView {
  allow: string[];
  deny: string[];
  unknown: 'block' | 'allow';
  /** The rule is on while the allowlist is not empty. */
  enabled: boolean;
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
    const before = await this.store.repos.policy.licensePolicy();
    const next = {
      allow: input.allow === undefined ? before.allow : listOfIds(input.allow, 'allow'),
      deny: input.deny === undefined ? before.deny : listOfIds(input.deny, 'deny'),
      unknown: before.unknown,
    };
    if (input.unknown !== undefined) {
      if (input.unknown !== 'block' && input.unknown !== 'allow') throw validation("unknown must be 'block' or 'allow'");
      next.unknown = input.unknown;
    }
    await changePolicy(this.store, this.cache, actor, 'the license policy', async (repos) => {
      await repos.policy.setLicensePolicy(next);
      await repos.audit.save(auditEntry(actor, 'license.policy', { details: { from: before, to: next } }));
    });
    return { ...next, enabled: next.allow.length > 0 };
  }

  async waive(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown; expiresAt?: unknown; expiresIn?: unknown }): Promise<Waiver> {
    const name = assertPackageName(input.name);
    const range = assertRange(input.range);
    if (typeof input.reason !== 'string' || input.reason.trim() === '' || input.reason.length > 2000) {
      throw validation('a waiver needs a reason (at most 2000 characters)');
    }
    const reason = input.reason.trim();
    const expiresAt = parseExpiry(input, this.now());
    return changePolicy(this.store, this.cache, actor, `a waiver for ${name}@${range}`, async (repos) => {
      const waiver = await repos.policy.saveWaiver({ name, range, reason, approvedBy: actor.username, expiresAt });
      await repos.audit.save(
        auditEntry(actor, 'license.waiver.create', { package: name, ruleId: `waiver:${waiver.id}`, details: { range, reason, expiresAt: expiresAt?.toISOString() ?? null } }),
      );
      return waiver;
    });
  }

  async unwaive(actor: Actor, idInput: unknown): Promise<Waiver> {
    const id = parseId(idInput);
    return changePolicy(this.store, this.cache, actor, 'the waiver', async (repos) => {
      const waiver = await repos.policy.removeWaiver(id);
      if (!waiver) throw new GatekeeperError('ENOTFOUND', `there is no waiver ${id}; list them with 'gatekeeper license waivers'`);
      await repos.audit.save(auditEntry(actor, 'license.waiver.delete', { package: waiver.name, ruleId: `waiver:${id}`, details: { range: waiver.range, reason: waiver.reason } }));
      return waiver;
    });
  }

  listWaivers(query: ListQuery): Promise<Page<Waiver>> {
    return this.store.repos.policy.listWaivers({ name: query.name, after: decodeCursor(query.cursor), limit: clampLimit(query.limit) });
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
    const manifests = this.governance.manifests;
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
      const decision: Decision = this.governance.decide(name, version, manifest);
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

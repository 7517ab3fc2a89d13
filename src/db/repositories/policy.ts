import type { Knex } from 'knex';
import type { LicensePolicy } from '../../core/license';
import type { Approval, Ban, Exemption, PolicyMode, PolicySnapshot, Waiver } from '../../core/policy';
import { Page, toPage } from '../pagination';
import { PublishRuleRow, toPublishRule } from './publishing';

/** PostgreSQL channel on which every policy change is announced with its new generation. */
export const POLICY_CHANNEL = 'gatekeeper_policy';

interface ApprovalRow {
  id: number;
  pattern: string;
  range: string;
  reason: string;
  approved_by: string;
  created_at: Date | string;
  expires_at: Date | string | null;
  allow_scripts?: boolean;
}

interface BanRow {
  id: number;
  name: string;
  range: string;
  reason: string;
  advisory_url: string | null;
  banned_by: string;
  created_at: Date | string;
}

interface WaiverRow {
  id: number;
  name: string;
  range: string;
  reason: string;
  approved_by: string;
  created_at: Date | string;
  expires_at: Date | string | null;
}

const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function toApproval(row: ApprovalRow): Approval {
  return {
    id: String(row.id),
    pattern: row.pattern,
    range: row.range,
    reason: row.reason,
    approvedBy: row.approved_by,
    createdAt: date(row.created_at),
    expiresAt: row.expires_at === null ? null : date(row.expires_at),
    allowScripts: row.allow_scripts === true,
  };
}

interface ExemptionRow {
  id: number;
  rule: string;
  pattern: string;
  range: string;
  reason: string;
  created_by: string;
  created_at: Date | string;
}

function toExemption(row: ExemptionRow): Exemption {
  return { id: String(row.id), rule: row.rule, pattern: row.pattern, range: row.range, reason: row.reason, createdBy: row.created_by, createdAt: date(row.created_at) };
}

function toBan(row: BanRow): Ban {
  return {
    id: String(row.id),
    name: row.name,
    range: row.range,
    reason: row.reason,
    advisoryUrl: row.advisory_url,
    bannedBy: row.banned_by,
    createdAt: date(row.created_at),
  };
}

function toWaiver(row: WaiverRow): Waiver {
  return {
    id: String(row.id),
    name: row.name,
    range: row.range,
    reason: row.reason,
    approvedBy: row.approved_by,
    createdAt: date(row.created_at),
    expiresAt: row.expires_at === null ? null : date(row.expires_at),
  };
}

export interface ListFilter {
  name?: string;
  after?: number;
  limit: number;
}

export class PolicyRepository {
  constructor(private readonly db: Knex) {}

  /** One page of a rule table, oldest first, optionally for one name. */
  private async page<Row extends { id: number }, T>(table: string, nameColumn: string, filter: ListFilter, map: (row: Row) => T): Promise<Page<T>> {
    const query = this.db(table).orderBy('id').limit(filter.limit + 1);
    if (filter.name) query.where(nameColumn, filter.name);
    if (filter.after !== undefined) query.where('id', '>', filter.after);
    const page = toPage((await query) as Row[], filter.limit);
    return { items: page.items.map(map), nextCursor: page.nextCursor };
  }

  /** The whole policy in one round trip, however many versions are later decided with it. */
  async loadSnapshot(): Promise<PolicySnapshot> {
    const result = await this.db.raw(`
      select s.mode, s.generation, s.license_allow, s.license_deny, s.license_unknown, s.rules,
        coalesce((select json_agg(e order by e.id) from rule_exemptions e), '[]'::json) as exemptions,
        coalesce((select json_agg(w order by w.id) from license_waivers w), '[]'::json) as waivers,
        coalesce((select json_agg(a order by a.id) from approvals a), '[]'::json) as approvals,
        coalesce((select json_agg(b order by b.id) from bans b), '[]'::json) as bans,
        coalesce((select json_agg(r order by r.id) from publish_rules r), '[]'::json) as publish_rules
      from policy_state s where s.id = 1`);
    const row = result.rows[0] as
      | {
          mode: PolicyMode;
          generation: string;
          approvals: ApprovalRow[];
          bans: BanRow[];
          publish_rules: PublishRuleRow[];
          license_allow: string[];
          license_deny: string[];
          license_unknown: 'block' | 'allow';
          waivers: WaiverRow[];
          rules: unknown;
          exemptions: ExemptionRow[];
        }
      | undefined;
    if (!row) throw new Error('the policy_state row is missing; run the migrations');
    return {
      generation: Number(row.generation),
      mode: row.mode,
      approvals: row.approvals.map(toApproval),
      bans: row.bans.map(toBan),
      publishRules: row.publish_rules.map(toPublishRule),
      license: { allow: row.license_allow, deny: row.license_deny, unknown: row.license_unknown },
      waivers: row.waivers.map(toWaiver),
      rules: row.rules,
      exemptions: row.exemptions.map(toExemption),
    };
  }

  async generation(): Promise<number> {
    const row = await this.db('policy_state').where({ id: 1 }).first('generation');
    return Number(row.generation);
  }

  /**
   * Locks the policy's state row until the transaction ends: policy changes take it first, so
   * one that reads the settings to merge its own into them reads those of every change before.
   */
  async lockState(): Promise<void> {
    await this.db('policy_state').where({ id: 1 }).forUpdate().first('id');
  }

  /** Bumps the generation and announces it; NOTIFY is delivered when the transaction commits. */
  async bumpGeneration(by: string): Promise<number> {
    const [row] = await this.db('policy_state')
      .where({ id: 1 })
      .update({ generation: this.db.raw('generation + 1'), updated_at: this.db.fn.now(), updated_by: by })
      .returning('generation');
    const generation = Number(row.generation);
    await this.db.raw('select pg_notify(?, ?)', [POLICY_CHANNEL, String(generation)]);
    return generation;
  }

  async setMode(mode: PolicyMode): Promise<void> {
    await this.db('policy_state').where({ id: 1 }).update({ mode });
  }

  async mode(): Promise<{ mode: PolicyMode; generation: number; updatedAt: Date; updatedBy: string | null }> {
    const row = await this.db('policy_state').where({ id: 1 }).first();
    return { mode: row.mode, generation: Number(row.generation), updatedAt: row.updated_at, updatedBy: row.updated_by };
  }

  // Rule settings and exemptions

  async rules(): Promise<unknown> {
    const row = await this.db('policy_state').where({ id: 1 }).first('rules');
    return row.rules;
  }

  async setRules(rules: unknown): Promise<void> {
    await this.db('policy_state').where({ id: 1 }).update({ rules: JSON.stringify(rules) });
  }

  async saveExemption(e: { rule: string; pattern: string; range: string; reason: string; createdBy: string }): Promise<Exemption> {
    const [row] = await this.db<ExemptionRow>('rule_exemptions')
      .insert({ rule: e.rule, pattern: e.pattern, range: e.range, reason: e.reason, created_by: e.createdBy })
      .returning('*');
    return toExemption(row);
  }

  async removeExemption(id: number): Promise<Exemption | undefined> {
    const [row] = await this.db<ExemptionRow>('rule_exemptions').where({ id }).del().returning('*');
    return row ? toExemption(row) : undefined;
  }

  async listExemptions(): Promise<Exemption[]> {
    return (await this.db<ExemptionRow>('rule_exemptions').orderBy('id')).map(toExemption);
  }

  // License policy and waivers

  async licensePolicy(): Promise<Required<LicensePolicy>> {
    const row = await this.db('policy_state').where({ id: 1 }).first('license_allow', 'license_deny', 'license_unknown');
    return { allow: row.license_allow, deny: row.license_deny, unknown: row.license_unknown };
  }

  async setLicensePolicy(policy: Required<LicensePolicy>): Promise<void> {
    await this.db('policy_state')
      .where({ id: 1 })
      .update({ license_allow: JSON.stringify(policy.allow), license_deny: JSON.stringify(policy.deny), license_unknown: policy.unknown });
  }

  /**
   * The live (unexpired) waiver of exactly this name and range, if one exists. Inside a transaction, concurrent
   * callers for the same name and range wait for each other until it ends (an advisory lock:
   * the table has no unique index, and existing duplicates are kept), so check-then-save makes one.
   */
  async findWaiverForUpdate(name: string, range: string): Promise<Waiver | undefined> {
    await this.db.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`gatekeeper.waiver:${name}@${range}`]);
    const row = await this.db<WaiverRow>('license_waivers')
      .where({ name, range })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', this.db.fn.now()))
      .orderBy('id')
      .first();
    return row ? toWaiver(row) : undefined;
  }

  async saveWaiver(w: { name: string; range: string; reason: string; approvedBy: string; expiresAt: Date | null }): Promise<Waiver> {
    const [row] = await this.db<WaiverRow>('license_waivers')
      .insert({ name: w.name, range: w.range, reason: w.reason, approved_by: w.approvedBy, expires_at: w.expiresAt })
      .returning('*');
    return toWaiver(row);
  }

  async removeWaiver(id: number): Promise<Waiver | undefined> {
    const [row] = await this.db<WaiverRow>('license_waivers').where({ id }).del().returning('*');
    return row ? toWaiver(row) : undefined;
  }

  listWaivers(filter: ListFilter): Promise<Page<Waiver>> {
    return this.page<WaiverRow, Waiver>('license_waivers', 'name', filter, toWaiver);
  }

  // Approvals

  async saveApproval(a: { pattern: string; range: string; reason: string; approvedBy: string; expiresAt: Date | null; allowScripts?: boolean }): Promise<Approval> {
    const [row] = await this.db<ApprovalRow>('approvals')
      .insert({ pattern: a.pattern, range: a.range, reason: a.reason, approved_by: a.approvedBy, expires_at: a.expiresAt, allow_scripts: a.allowScripts ?? false })
      .returning('*');
    return toApproval(row);
  }

  async findApproval(id: number): Promise<Approval | undefined> {
    const row = await this.db<ApprovalRow>('approvals').where({ id }).first();
    return row ? toApproval(row) : undefined;
  }

  async findApprovalBySpec(pattern: string, range: string): Promise<Approval | undefined> {
    const row = await this.db<ApprovalRow>('approvals').where({ pattern, range }).first();
    return row ? toApproval(row) : undefined;
  }

  async removeApproval(id: number): Promise<Approval | undefined> {
    const [row] = await this.db<ApprovalRow>('approvals').where({ id }).del().returning('*');
    return row ? toApproval(row) : undefined;
  }

  listApprovals(filter: ListFilter): Promise<Page<Approval>> {
    return this.page<ApprovalRow, Approval>('approvals', 'pattern', filter, toApproval);
  }

  // Bans

  async saveBan(b: { name: string; range: string; reason: string; advisoryUrl: string | null; bannedBy: string }): Promise<Ban> {
    const [row] = await this.db<BanRow>('bans')
      .insert({ name: b.name, range: b.range, reason: b.reason, advisory_url: b.advisoryUrl, banned_by: b.bannedBy })
      .returning('*');
    return toBan(row);
  }

  async findBan(id: number): Promise<Ban | undefined> {
    const row = await this.db<BanRow>('bans').where({ id }).first();
    return row ? toBan(row) : undefined;
  }

  async findBanBySpec(name: string, range: string): Promise<Ban | undefined> {
    const row = await this.db<BanRow>('bans').where({ name, range }).first();
    return row ? toBan(row) : undefined;
  }

  async removeBan(id: number): Promise<Ban | undefined> {
    const [row] = await this.db<BanRow>('bans').where({ id }).del().returning('*');
    return row ? toBan(row) : undefined;
  }

  listBans(filter: ListFilter): Promise<Page<Ban>> {
    return this.page<BanRow, Ban>('bans', 'name', filter, toBan);
  }
}

import type { Knex } from 'knex';
import { Page, toPage } from '../pagination';

export interface AuditEntry {
  actor: string;
  actorIp?: string | null;
  action: string;
  package?: string | null;
  version?: string | null;
  ruleId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'details'>> {
  id: number;
  at: Date;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  package?: string;
  actor?: string;
  action?: string;
  since?: Date;
  until?: Date;
  /** Newest first: entries with an id below this. */
  before?: number;
  limit: number;
}

interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  actor_ip: string | null;
  action: string;
  package: string | null;
  version: string | null;
  rule_id: string | null;
  details: Record<string, unknown>;
}

export class AuditRepository {
  constructor(private readonly db: Knex) {}

  async save(entry: AuditEntry): Promise<void> {
    await this.saveMany([entry]);
  }

  async saveMany(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db('audit_log').insert(
      entries.map((e) => ({
        actor: e.actor,
        actor_ip: e.actorIp ?? null,
        action: e.action,
        package: e.package ?? null,
        version: e.version ?? null,
        rule_id: e.ruleId ?? null,
        details: JSON.stringify(e.details ?? {}),
      })),
    );
  }

  async list(filter: AuditFilter): Promise<Page<AuditRecord>> {
    const query = this.db<AuditRow>('audit_log').orderBy('id', 'desc').limit(filter.limit + 1);
    if (filter.package) query.where('package', filter.package);
    if (filter.actor) query.where('actor', filter.actor);
    if (filter.action) query.where('action', filter.action);
    if (filter.since) query.where('at', '>=', filter.since);
    if (filter.until) query.where('at', '<', filter.until);
    if (filter.before !== undefined) query.where('id', '<', filter.before);
    const rows = await query;
    return toPage(
      rows.map((r) => ({
        id: Number(r.id),
        at: r.at,
        actor: r.actor,
        actorIp: r.actor_ip,
        action: r.action,
        package: r.package,
        version: r.version,
        ruleId: r.rule_id,
        details: r.details,
      })),
      filter.limit,
    );
  }
}

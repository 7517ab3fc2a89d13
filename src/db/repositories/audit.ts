import type { Knex } from 'knex';
import type { AuditAction } from '../../core/audit-actions';
import { JsonLimits, sanitizeJson, sanitizeText } from '../../core/text';
import { Page, toPage } from '../pagination';
import { chunks } from '../batch';

export interface AuditEntry {
  actor: string;
  actorIp?: string | null;
  action: AuditAction;
  package?: string | null;
  version?: string | null;
  ruleId?: string | null;
  details?: Record<string, unknown>;
}

/** A stored entry. Its action is a string: rows written by older versions may name others. */
export interface AuditRecord extends Required<Omit<AuditEntry, 'details' | 'action'>> {
  id: number;
  at: Date;
  action: string;
  details: Record<string, unknown>;
}

/** How much of an entry is kept: package text quoted in details is hostile and unbounded. */
export const AUDIT_TEXT_LIMIT = 512;
export const AUDIT_DETAILS_LIMITS: JsonLimits = { maxStringLength: 4000, maxDepth: 8, maxArrayLength: 200, maxTotalLength: 32_000 };

const text = (s: string | null | undefined): string | null => (s === null || s === undefined ? null : sanitizeText(String(s), AUDIT_TEXT_LIMIT));

/**
 * The entry as it can be stored: every string (details too, keys included) without NUL,
 * lone surrogates and control characters, with bounded lengths. jsonb cannot hold `\u0000`
 * or a lone surrogate, and `text` cannot hold NUL: one such string from a package's
 * scripts or deprecation message would make the whole INSERT fail.
 */
export function sanitizeAuditEntry(entry: AuditEntry): AuditEntry {
  const details = sanitizeJson(entry.details ?? {}, AUDIT_DETAILS_LIMITS);
  return {
    actor: text(entry.actor) ?? '',
    actorIp: text(entry.actorIp),
    action: entry.action,
    package: text(entry.package),
    version: text(entry.version),
    ruleId: text(entry.ruleId),
    details: details !== null && typeof details === 'object' && !Array.isArray(details) ? details : { value: details },
  };
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
    // Every audit insert passes here (the batched writer and in-transaction saves alike), in
    // slices: an import of 10,000 entries would pass PostgreSQL's 65,535 parameters in one statement.
    for (const part of chunks(entries)) {
      await this.db('audit_log').insert(
        part.map(sanitizeAuditEntry).map((e) => ({
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

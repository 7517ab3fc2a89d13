import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { PublishRule, VersionRecord } from '../../core/publish';

export interface PublishRuleRow {
  id: number;
  pattern: string;
  principal_type: 'role' | 'user';
  principal: string;
  shadow_upstream: boolean;
  source: string;
  created_by: string;
  created_at: Date | string;
}

interface VersionRow {
  name: string;
  version: string;
  integrity: string;
  shasum: string;
  publisher: string;
  state: VersionRecord['state'];
  reserved_at: Date;
  published_at: Date | null;
  unpublished_at: Date | null;
  unpublished_by: string | null;
}

export function toPublishRule(row: PublishRuleRow): PublishRule {
  return {
    id: String(row.id),
    pattern: row.pattern,
    principalType: row.principal_type,
    principal: row.principal,
    shadowUpstream: row.shadow_upstream,
    createdBy: row.created_by,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
    source: row.source,
  };
}

function toRecord(row: VersionRow): VersionRecord {
  return {
    name: row.name,
    version: row.version,
    integrity: row.integrity,
    shasum: row.shasum,
    publisher: row.publisher,
    state: row.state,
    reservedAt: row.reserved_at,
    publishedAt: row.published_at,
    unpublishedAt: row.unpublished_at,
    unpublishedBy: row.unpublished_by,
  };
}

type NewRule = { pattern: string; principalType: 'role' | 'user'; principal: string; shadowUpstream: boolean; createdBy: string; source?: string };

function ruleRow(rule: NewRule) {
  return {
    pattern: rule.pattern,
    principal_type: rule.principalType,
    principal: rule.principal,
    shadow_upstream: rule.shadowUpstream,
    created_by: rule.createdBy,
    source: rule.source ?? 'api',
  };
}

/** The first int4 key of a name's claim lock: "gkcl" (the storage lock's is "gkst"). */
const CLAIM_LOCK_NAMESPACE = 0x676b636c;

export class PublishingRepository {
  constructor(private readonly db: Knex) {}

  // Rules

  async saveRule(rule: NewRule): Promise<PublishRule> {
    const [row] = await this.db<PublishRuleRow>('publish_rules').insert(ruleRow(rule)).returning('*');
    return toPublishRule(row);
  }

  /**
   * Serialises claims of one name until the surrounding transaction ends (COMMIT or ROLLBACK
   * releases it, so does a dead connection): a transaction-level advisory lock on two int4
   * keys, the namespace "gkcl" and 32 bits of SHA-256 of the name. Only inside a transaction.
   */
  async lockName(name: string): Promise<void> {
    const key = createHash('sha256').update(name, 'utf8').digest().readInt32BE(0);
    await this.db.raw('select pg_advisory_xact_lock(?::int4, ?::int4)', [CLAIM_LOCK_NAMESPACE, key]);
  }

  /** Inserts the rule unless an identical one exists; returns whether it was added. */
  async saveRuleIfMissing(rule: NewRule): Promise<boolean> {
    const rows = await this.db('publish_rules')
      .insert(ruleRow(rule))
      .onConflict(['pattern', 'principal_type', 'principal'])
      .ignore()
      .returning('id');
    return rows.length > 0;
  }

  async findRule(id: number): Promise<PublishRule | undefined> {
    const row = await this.db<PublishRuleRow>('publish_rules').where({ id }).first();
    return row ? toPublishRule(row) : undefined;
  }

  async removeRule(id: number): Promise<PublishRule | undefined> {
    const [row] = await this.db<PublishRuleRow>('publish_rules').where({ id }).del().returning('*');
    return row ? toPublishRule(row) : undefined;
  }

  async listRules(): Promise<PublishRule[]> {
    return (await this.db<PublishRuleRow>('publish_rules').orderBy('id')).map(toPublishRule);
  }

  // Versions

  /**
   * Claims name@version and returns its reservation; throws the database's unique violation
   * (23505) if it was ever claimed. The time is kept to the millisecond, as a Date holds it, so
   * the reservation can be named by it (lockReservation's `reservedAt`).
   */
  async reserve(record: { name: string; version: string; integrity: string; shasum: string; publisher: string }): Promise<VersionRecord> {
    const [row] = await this.db('published_versions')
      .insert({ ...record, state: 'reserved', reserved_at: this.db.raw("date_trunc('milliseconds', now())") })
      .returning('*');
    return toRecord(row as VersionRow);
  }

  /**
   * Locks name@version's reservation until the surrounding transaction ends (`select … for
   * update`): while it is held, no other publish can free the reservation and reserve the version
   * again. Only the reservation made at `reservedAt`, or only one older than `olderThan`;
   * undefined when there is none (any more). Only inside a transaction.
   */
  async lockReservation(name: string, version: string, which: { reservedAt: Date } | { olderThan: Date }): Promise<VersionRecord | undefined> {
    const query = this.db<VersionRow>('published_versions').where({ name, version, state: 'reserved' });
    if ('reservedAt' in which) query.where('reserved_at', which.reservedAt);
    else query.where('reserved_at', '<', which.olderThan);
    const row = await query.forUpdate().first();
    return row ? toRecord(row) : undefined;
  }

  async find(name: string, version: string): Promise<VersionRecord | undefined> {
    const row = await this.db<VersionRow>('published_versions').where({ name, version }).first();
    return row ? toRecord(row) : undefined;
  }

  async confirm(name: string, version: string): Promise<void> {
    await this.db('published_versions').where({ name, version, state: 'reserved' }).update({ state: 'published', published_at: this.db.fn.now() });
  }

  /**
   * Records a reservation as published with what storage holds (its publish stored the version
   * but never confirmed it: the process died, or the answer was an error); returns the record,
   * undefined when the version is no longer reserved.
   */
  async reconcile(name: string, version: string, stored: { integrity: string; shasum: string; publishedAt?: Date }): Promise<VersionRecord | undefined> {
    const [row] = await this.db<VersionRow>('published_versions')
      .where({ name, version, state: 'reserved' })
      .update({ state: 'published', integrity: stored.integrity, shasum: stored.shasum, published_at: stored.publishedAt ?? this.db.fn.now() })
      .returning('*');
    return row ? toRecord(row as VersionRow) : undefined;
  }

  /** Frees a reservation whose publish failed; a published record is never removed. */
  async release(name: string, version: string): Promise<boolean> {
    const count = await this.db('published_versions').where({ name, version, state: 'reserved' }).del();
    return Number(count) > 0;
  }

  /** Reservations older than the given age (their publish died with its process), oldest first. */
  async listStale(olderThan: Date, limit: number): Promise<VersionRecord[]> {
    return (await this.db<VersionRow>('published_versions').where({ state: 'reserved' }).where('reserved_at', '<', olderThan).orderBy('reserved_at').limit(limit)).map(toRecord);
  }

  async markUnpublished(name: string, versions: string[], by: string): Promise<void> {
    if (versions.length === 0) return;
    await this.db('published_versions')
      // A reservation of a stored version (its publish died before confirming it) is unpublished too:
      // left reserved, it would go stale and be reclaimed for other bytes.
      .where({ name })
      .whereIn('state', ['published', 'reserved'])
      .whereIn('version', versions)
      .update({ state: 'unpublished', unpublished_at: this.db.fn.now(), unpublished_by: by });
  }

  async list(name: string): Promise<VersionRecord[]> {
    return (await this.db<VersionRow>('published_versions').where({ name }).orderBy('reserved_at', 'desc')).map(toRecord);
  }
}

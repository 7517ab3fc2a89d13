import type { Knex } from 'knex';
import { chunks } from '../batch';

/** A recent rejection of one name@range. */
export interface Rejection {
  id: number;
  /** Who filed the rejected request. */
  requester: string;
  name: string;
  range: string;
  reason: string;
  comment: string | null;
  decidedBy: string | null;
  decidedAt: Date;
}

/** What the request limit and the rejection cooldown read from package_requests. */
export class RequestLimitRepository {
  constructor(private readonly db: Knex) {}

  /**
   * Serialises the filings of one requester until the transaction ends, so that two
   * concurrent requests (or gatekeepers) cannot both take the last slot of the hour.
   */
  async lockRequester(requester: string): Promise<void> {
    await this.db.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`gatekeeper.request-limit:${requester}`]);
  }

  /**
   * The requester's own filings within the window, oldest first, by the database's clock (and
   * that clock's now): a request filed by the user is one filing, a lockfile batch is one
   * filing, and auto-queued dependency requests (with a source request) are none.
   */
  async filings(requester: string, windowMs: number): Promise<{ at: Date[]; now: Date }> {
    const result = await this.db.raw(
      `with f as (
         select min(created_at) as at
         from package_requests
         where requester = ? and source_request_id is null and created_at > now() - (? * interval '1 millisecond')
         group by coalesce(cast(batch_id as text), cast(id as text))
       )
       select now() as now, coalesce((select json_agg(at order by at) from f), cast('[]' as json)) as at`,
      [requester, windowMs],
    );
    const row = result.rows[0] as { now: Date; at: string[] };
    return { now: new Date(row.now), at: row.at.map((a) => new Date(a)) };
  }

  /** The rejections of these name@range pairs decided within the cooldown, newest first, keyed `name@range`. */
  async recentRejections(specs: ReadonlyArray<{ name: string; range: string }>, cooldownMs: number): Promise<Map<string, Rejection[]>> {
    const out = new Map<string, Rejection[]>();
    if (cooldownMs <= 0) return out;
    for (const part of chunks(specs, 500)) {
      const rows = (await this.db('package_requests')
        .where({ status: 'rejected' })
        .whereIn(['name', 'range'], part.map((s) => [s.name, s.range]))
        .whereRaw(`decided_at > now() - (? * interval '1 millisecond')`, [cooldownMs])
        .orderBy('decided_at', 'desc')
        .select('id', 'requester', 'name', 'range', 'reason', 'comment', 'decided_by', 'decided_at')) as Array<{
        id: number;
        requester: string;
        name: string;
        range: string;
        reason: string;
        comment: string | null;
        decided_by: string | null;
        decided_at: Date;
      }>;
      for (const r of rows) {
        const key = `${r.name}@${r.range}`;
        const list = out.get(key) ?? [];
        list.push({ id: r.id, requester: r.requester, name: r.name, range: r.range, reason: r.reason, comment: r.comment, decidedBy: r.decided_by, decidedAt: r.decided_at });
        out.set(key, list);
      }
    }
    return out;
  }

  /** Links a refiled request to the rejected one it follows, and a batch's rows to their batch. */
  async annotate(id: number, fields: { previousRequestId?: number | null; batchId?: string | null }): Promise<void> {
    const change: Record<string, unknown> = {};
    if (fields.previousRequestId !== undefined) change.previous_request_id = fields.previousRequestId;
    if (fields.batchId !== undefined) change.batch_id = fields.batchId;
    if (Object.keys(change).length > 0) await this.db('package_requests').where({ id }).update(change);
  }

  async annotateMany(ids: readonly number[], fields: { batchId: string }): Promise<void> {
    for (const part of chunks(ids)) await this.db('package_requests').whereIn('id', part).update({ batch_id: fields.batchId });
  }

  /** The rejected request a request follows, if any. */
  async previousOf(id: number): Promise<Rejection | undefined> {
    const row = await this.db('package_requests as r')
      .join('package_requests as p', 'p.id', 'r.previous_request_id')
      .where('r.id', id)
      .first('p.id', 'p.requester', 'p.name', 'p.range', 'p.reason', 'p.comment', 'p.decided_by', 'p.decided_at');
    return row
      ? { id: row.id, requester: row.requester, name: row.name, range: row.range, reason: row.reason, comment: row.comment, decidedBy: row.decided_by, decidedAt: row.decided_at }
      : undefined;
  }

  /** previous_request_id of many requests, for list views. */
  async previousIds(ids: readonly number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const part of chunks(ids)) {
      const rows = (await this.db('package_requests').whereIn('id', part).whereNotNull('previous_request_id').select('id', 'previous_request_id')) as Array<{ id: number; previous_request_id: number }>;
      for (const r of rows) out.set(r.id, r.previous_request_id);
    }
    return out;
  }
}

import type { Knex } from 'knex';

export interface Webhook {
  id: number;
  url: string;
  events: string[];
  createdBy: string;
  createdAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  /** The receiver's HTTP status, when it answered. */
  status: number | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  webhookId: number;
  eventId: string;
  event: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  log: DeliveryAttempt[];
}

/** A delivery claimed by a worker: what it sends and where. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  event: string;
  body: string;
  attempts: number;
  url: string;
  secret: string;
}

interface WebhookRow {
  id: number;
  url: string;
  events: string[];
  secret: string;
  created_by: string;
  created_at: Date;
}

const toWebhook = (r: WebhookRow): Webhook => ({ id: r.id, url: r.url, events: r.events, createdBy: r.created_by, createdAt: new Date(r.created_at).toISOString() });
const iso = (d: Date | null): string | null => (d === null ? null : new Date(d).toISOString());

export class WebhookRepository {
  constructor(private readonly db: Knex) {}

  async create(w: { url: string; events: string[]; secret: string; createdBy: string }): Promise<Webhook> {
    const [row] = (await this.db('webhooks').insert({ url: w.url, events: JSON.stringify(w.events), secret: w.secret, created_by: w.createdBy }).returning('*')) as WebhookRow[];
    return toWebhook(row);
  }

  async list(): Promise<Webhook[]> {
    return ((await this.db('webhooks').orderBy('id')) as WebhookRow[]).map(toWebhook);
  }

  async find(id: number): Promise<Webhook | undefined> {
    const row = (await this.db('webhooks').where({ id }).first()) as WebhookRow | undefined;
    return row ? toWebhook(row) : undefined;
  }

  async remove(id: number): Promise<Webhook | undefined> {
    const [row] = (await this.db('webhooks').where({ id }).del().returning('*')) as WebhookRow[];
    return row ? toWebhook(row) : undefined;
  }

  /**
   * For each event, one delivery per endpoint that wants it, all in one statement: the same
   * body for each endpoint (its `id` is the event's), in the events' order. Returns how many
   * were queued.
   */
  async enqueue(events: ReadonlyArray<{ eventId: string; event: string; body: string }>): Promise<number> {
    if (events.length === 0) return 0;
    const result = await this.db.raw(
      `insert into webhook_deliveries (webhook_id, event_id, event, body)
       select w.id, e.event_id, e.event, e.body
         from unnest(?::text[], ?::text[], ?::text[]) with ordinality as e(event_id, event, body, n)
         join webhooks w on w.events @> jsonb_build_array(e.event)
        order by e.n, w.id`,
      [events.map((e) => e.eventId), events.map((e) => e.event), events.map((e) => e.body)],
    );
    return (result as { rowCount?: number }).rowCount ?? 0;
  }

  /**
   * Claims up to `limit` due deliveries: rows locked by another worker are skipped (FOR UPDATE
   * SKIP LOCKED), and each claimed row counts the attempt and is not due again for `leaseMs`
   * (a worker that dies mid-delivery leaves it to be retried then), so N instances send each once.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const result = await this.db.raw(
      `update webhook_deliveries d
          set attempts = d.attempts + 1, next_attempt_at = now() + (? * interval '1 millisecond')
         from webhooks w
        where w.id = d.webhook_id
          and d.id in (select id from webhook_deliveries
                        where status = 'pending' and next_attempt_at <= now()
                        order by next_attempt_at, id
                        limit ? for update skip locked)
       returning d.id, d.event_id, d.event, d.body, d.attempts, w.url, w.secret`,
      [leaseMs, limit],
    );
    return (result.rows as Array<{ id: string | number; event_id: string; event: string; body: string; attempts: number; url: string; secret: string }>).map((r) => ({
      id: String(r.id),
      eventId: r.event_id,
      event: r.event,
      body: r.body,
      attempts: r.attempts,
      url: r.url,
      secret: r.secret,
    }));
  }

  /** Records one attempt's outcome: delivered, failed for good, or due again after `retryInMs`. */
  async finish(id: string, outcome: { status: DeliveryStatus; httpStatus: number | null; error: string | null; retryInMs?: number; attempt: number }): Promise<void> {
    const entry: DeliveryAttempt = { attempt: outcome.attempt, at: new Date().toISOString(), status: outcome.httpStatus, error: outcome.error };
    await this.db('webhook_deliveries')
      .where({ id })
      .update({
        status: outcome.status,
        last_status: outcome.httpStatus,
        last_error: outcome.error,
        log: this.db.raw('log || ?::jsonb', [JSON.stringify([entry])]),
        ...(outcome.status === 'delivered' ? { delivered_at: this.db.fn.now() } : {}),
        ...(outcome.status === 'pending' ? { next_attempt_at: this.db.raw("now() + (? * interval '1 millisecond')", [outcome.retryInMs ?? 0]) } : {}),
      });
  }

  /** Drops up to `limit` finished deliveries (delivered or failed) older than `ageMs`; returns how many. */
  async prune(ageMs: number, limit: number): Promise<number> {
    const result = await this.db.raw(
      `delete from webhook_deliveries where id in (
         select id from webhook_deliveries
          where status in ('delivered', 'failed') and created_at < now() - (? * interval '1 millisecond')
          order by id limit ?)`,
      [ageMs, limit],
    );
    return (result as { rowCount?: number }).rowCount ?? 0;
  }

  /** A webhook's deliveries, newest first. */
  async deliveries(webhookId: number, limit: number): Promise<Delivery[]> {
    const rows = (await this.db('webhook_deliveries').where({ webhook_id: webhookId }).orderBy('id', 'desc').limit(limit)) as Array<{
      id: string | number;
      webhook_id: number;
      event_id: string;
      event: string;
      status: DeliveryStatus;
      attempts: number;
      next_attempt_at: Date | null;
      last_status: number | null;
      last_error: string | null;
      created_at: Date;
      delivered_at: Date | null;
      log: DeliveryAttempt[];
    }>;
    return rows.map((r) => ({
      id: String(r.id),
      webhookId: r.webhook_id,
      eventId: r.event_id,
      event: r.event,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at) : null,
      lastStatus: r.last_status,
      lastError: r.last_error,
      createdAt: new Date(r.created_at).toISOString(),
      deliveredAt: iso(r.delivered_at),
      log: r.log,
    }));
  }
}

import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GatekeeperError, validation } from '../core/errors';
import { redactQuery, sanitizeText } from '../core/text';
import { assertWebhookEvents, assertWebhookUrl, backoffMs, signature, WebhookEvent } from '../core/webhooks';
import type { ClaimedDelivery, Delivery, Webhook } from '../db/repositories/webhooks';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import type { PeriodicJob } from './periodic';

/** Where services send events: fire and forget, never throws, never waits for the database. */
export interface EventSink {
  emit(event: WebhookEvent, data: Record<string, unknown>): void;
  /** Many events of one kind at once (a flush of counters), queued in a few statements rather than one each. */
  emitMany?(event: WebhookEvent, items: ReadonlyArray<Record<string, unknown>>): void;
}

export const NO_EVENTS: EventSink = { emit: () => undefined, emitMany: () => undefined };

/** Events queued per statement: a flush of thousands of install.blocked events takes one pool connection at a time. */
const ENQUEUE_CHUNK = 500;

export interface WebhookOptions {
  /** Deadline of one delivery (connect, answer). */
  timeoutMs: number;
  /** Attempts before a delivery is marked failed. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often the worker looks for due deliveries. */
  pollMs: number;
  /** Deliveries claimed per run. */
  batch?: number;
}

export interface WebhookHealth {
  /** False while events cannot be queued (the database fails); deliveries that fail at the receiver are not this instance's health. */
  ok: boolean;
  /** Events that could not be queued since start (dropped, logged). */
  enqueueFailures: number;
  lastEnqueueError: string | null;
  /** Deliveries this instance sent, and attempts the receiver refused or did not answer. */
  delivered: number;
  failedAttempts: number;
  lastDeliveryError: string | null;
}

/** How long finished deliveries (delivered, failed) stay in the delivery log. */
export const DELIVERY_LOG_DAYS = 30;

/** The retention job: hourly, 1,000 rows a statement, at most 1,000 statements a run. */
const PRUNE_INTERVAL_MS = 3_600_000;
const PRUNE_BATCH = 1000;
const PRUNE_ROUNDS = 1000;

/** At most this much of a receiver's error text is kept. */
const ERROR_TEXT = 300;

/**
 * Webhooks: admins register endpoints and the events they want; events are queued as rows of
 * webhook_deliveries (one per endpoint) and sent by a worker that claims due rows with FOR
 * UPDATE SKIP LOCKED, signs each body (HMAC-SHA256 with the endpoint's secret), retries with
 * exponential backoff and marks a delivery failed after maxAttempts. Queuing is a
 * fire-and-forget insert: it never blocks or fails the request that caused the event.
 */
export class WebhookService implements EventSink {
  private enqueueFailures = 0;
  private lastEnqueueError: string | null = null;
  private delivered = 0;
  private failedAttempts = 0;
  private lastDeliveryError: string | null = null;
  /** Inserts in flight (tests and shutdown wait for them). */
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    readonly options: WebhookOptions,
  ) {}

  async add(actor: Actor, input: { url?: unknown; events?: unknown }): Promise<Webhook & { secret: string }> {
    const url = assertWebhookUrl(input.url);
    const events = assertWebhookEvents(input.events);
    const secret = `whsec_${randomBytes(32).toString('hex')}`;
    const hook = await this.store.transaction(async (repos) => {
      const created = await repos.webhooks.create({ url, events, secret, createdBy: actor.username });
      await repos.audit.save(auditEntry(actor, 'webhook.create', { details: { id: created.id, url: redactQuery(url), events } }));
      return created;
    });
    return { ...hook, secret };
  }

  list(): Promise<Webhook[]> {
    return this.store.repos.webhooks.list();
  }

  async remove(actor: Actor, idInput: unknown): Promise<Webhook> {
    const id = webhookId(idInput);
    return this.store.transaction(async (repos) => {
      const removed = await repos.webhooks.remove(id);
      if (!removed) throw new GatekeeperError('ENOTFOUND', `there is no webhook ${id}. See them with 'gatekeeper webhook list'`);
      await repos.audit.save(auditEntry(actor, 'webhook.delete', { details: { id, url: redactQuery(removed.url), events: removed.events } }));
      return removed;
    });
  }

  async deliveries(idInput: unknown, limitInput?: unknown): Promise<{ webhook: Webhook; items: Delivery[] }> {
    const id = webhookId(idInput);
    const limit =
      limitInput === undefined || limitInput === '' ? 100 : typeof limitInput === 'number' ? limitInput : typeof limitInput === 'string' && /^\d{1,4}$/.test(limitInput) ? Number(limitInput) : NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw validation('limit must be a whole number from 1 to 1000');
    const webhook = await this.store.repos.webhooks.find(id);
    if (!webhook) throw new GatekeeperError('ENOTFOUND', `there is no webhook ${id}. See them with 'gatekeeper webhook list'`);
    return { webhook, items: await this.store.repos.webhooks.deliveries(id, limit) };
  }

  /**
   * Queues an event for every endpoint that wants it: one INSERT … SELECT, started and not
   * awaited. A failure is logged and counted (/health), never thrown and never retried.
   */
  emit(event: WebhookEvent, data: Record<string, unknown>): void {
    this.emitMany(event, [data]);
  }

  /**
   * Queues many events of one kind: one INSERT … SELECT per ENQUEUE_CHUNK events, one after
   * the other, started and not awaited. When a statement fails, it and the events not yet
   * queued are dropped (counted, logged once), never thrown and never retried.
   */
  emitMany(event: WebhookEvent, items: ReadonlyArray<Record<string, unknown>>): void {
    const createdAt = new Date().toISOString();
    const rows: Array<{ eventId: string; event: string; body: string }> = [];
    for (const data of items) {
      const eventId = randomUUID();
      try {
        rows.push({ eventId, event, body: JSON.stringify({ id: eventId, event, createdAt, data }) });
      } catch (err) {
        this.enqueueFailed(event, err, 1);
      }
    }
    if (rows.length === 0) return;
    const work = (async () => {
      for (let start = 0; start < rows.length; start += ENQUEUE_CHUNK) {
        let queued: number;
        try {
          queued = await this.store.repos.webhooks.enqueue(rows.slice(start, start + ENQUEUE_CHUNK));
        } catch (err) {
          this.enqueueFailed(event, err, rows.length - start);
          return;
        }
        if (this.lastEnqueueError !== null) this.logger.info({ event }, 'webhook events are queued again');
        this.lastEnqueueError = null;
        if (queued > 0) this.logger.debug({ event, events: Math.min(ENQUEUE_CHUNK, rows.length - start), queued }, 'webhook events queued');
      }
    })();
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  private enqueueFailed(event: string, err: unknown, dropped: number): void {
    this.enqueueFailures += dropped;
    this.lastEnqueueError = sanitizeText(String((err as Error)?.message ?? err), ERROR_TEXT);
    this.logger.error({ err, event, dropped }, 'webhook events could not be queued; they are dropped (see /-/gatekeeper/v1/health)');
  }

  /** Resolves once the events emitted so far are queued (or dropped). */
  async settled(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  health(): WebhookHealth {
    return {
      ok: this.lastEnqueueError === null,
      enqueueFailures: this.enqueueFailures,
      lastEnqueueError: this.lastEnqueueError,
      delivered: this.delivered,
      failedAttempts: this.failedAttempts,
      lastDeliveryError: this.lastDeliveryError,
    };
  }

  /** The delivery worker, as a periodic job (JobRunner or timers). */
  job(): PeriodicJob {
    return { name: 'webhooks.deliver', intervalMs: this.options.pollMs, run: (signal) => this.deliverDue(signal).then(() => undefined) };
  }

  /** The delivery log's retention, as an hourly job: its scan for old rows is not repeated on every delivery run. */
  pruneJob(): PeriodicJob {
    return { name: 'webhooks.prune', intervalMs: PRUNE_INTERVAL_MS, run: (signal) => this.prune(signal).then(() => undefined) };
  }

  /**
   * Drops finished deliveries (delivered, failed) older than DELIVERY_LOG_DAYS, PRUNE_BATCH at a
   * time until none is left (at most PRUNE_ROUNDS statements a run). Returns how many went.
   */
  async prune(signal?: AbortSignal): Promise<number> {
    let dropped = 0;
    for (let round = 0; round < PRUNE_ROUNDS && !signal?.aborted; round++) {
      const n = await this.store.repos.webhooks.prune(DELIVERY_LOG_DAYS * 86_400_000, PRUNE_BATCH);
      dropped += n;
      if (n < PRUNE_BATCH) break;
    }
    if (dropped > 0) this.logger.info({ dropped }, 'webhook delivery log: finished deliveries older than 30 days dropped');
    return dropped;
  }

  /**
   * Sends due deliveries until none is due (or `signal` aborts): claims a batch (SKIP LOCKED, a
   * lease of the deadline plus a margin), posts them concurrently, records each outcome.
   * Returns how many were attempted.
   */
  async deliverDue(signal?: AbortSignal): Promise<number> {
    let attempted = 0;
    const leaseMs = this.options.timeoutMs + 30_000;
    for (let round = 0; round < 100 && !signal?.aborted; round++) {
      const claimed = await this.store.repos.webhooks.claimDue(this.options.batch ?? 20, leaseMs);
      if (claimed.length === 0) break;
      attempted += claimed.length;
      await Promise.all(claimed.map((d) => this.deliver(d, signal)));
    }
    return attempted;
  }

  private async deliver(d: ClaimedDelivery, signal?: AbortSignal): Promise<void> {
    if (d.attempts > this.options.maxAttempts) {
      // Claimed more often than it may be sent: earlier outcomes could not be recorded (the
      // claim counts each attempt first). It is not sent again; it fails, so it is never retried forever.
      const error = `gave up after ${this.options.maxAttempts} attempts whose outcome could not all be recorded`;
      await this.store.repos.webhooks.finish(d.id, { status: 'failed', httpStatus: null, error, attempt: d.attempts });
      this.logger.warn({ delivery: d.id, event: d.event, attempt: d.attempts }, 'webhook delivery failed for good: its attempts could not be recorded');
      return;
    }
    let httpStatus: number | null = null;
    let error: string | null = null;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'npm-gatekeeper-webhook',
          'x-gatekeeper-event': d.event,
          'x-gatekeeper-delivery': d.id,
          'x-gatekeeper-signature': signature(d.secret, d.body),
        },
        body: d.body,
      });
      httpStatus = res.status;
      // Only the start of the answer is read (for the log); the rest is dropped.
      const text = await readSome(res, 2048).catch(() => '');
      // sanitizeText cuts without splitting a surrogate pair: a lone half cannot go into the jsonb log.
      if (res.status < 200 || res.status >= 300) error = `the receiver answered ${res.status}${text ? `: ${sanitizeText(text, 200)}` : ''}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      error = timeout.aborted ? `no answer within ${this.options.timeoutMs} ms` : `cannot reach the receiver (${sanitizeText(String(e.cause?.code ?? e.message ?? 'error'), 100)})`;
    }
    const attempt = d.attempts;
    if (error === null) {
      this.delivered++;
      await this.store.repos.webhooks.finish(d.id, { status: 'delivered', httpStatus, error: null, attempt });
      this.logger.debug({ delivery: d.id, event: d.event, attempt }, 'webhook delivered');
      return;
    }
    this.failedAttempts++;
    error = sanitizeText(error, ERROR_TEXT);
    // /health shows what went wrong, not what the receiver said (its answer may be an internal
    // service's): that stays in the delivery log, which only admins read.
    this.lastDeliveryError = httpStatus !== null ? `the receiver answered ${httpStatus}` : error;
    const done = attempt >= this.options.maxAttempts;
    const retryInMs = backoffMs(attempt, this.options.retryBaseMs, this.options.retryMaxMs);
    await this.store.repos.webhooks.finish(d.id, { status: done ? 'failed' : 'pending', httpStatus, error, retryInMs, attempt });
    this.logger.warn({ delivery: d.id, event: d.event, attempt, error, ...(done ? {} : { retryInMs }) }, done ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
  }
}

/** At most `max` bytes of a response body as text; the rest is cancelled. */
async function readSome(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      total += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}

function webhookId(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 2_147_483_647) throw validation(`'${String(value).slice(0, 40)}' is not a webhook id. See them with 'gatekeeper webhook list'`);
  return n;
}

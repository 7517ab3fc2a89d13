import type { AuditAction } from '../core/audit-actions';
import { sanitizeText } from '../core/text';
import { isConnectionError, pgCode } from '../db/errors';
import type { Page } from '../db/pagination';
import { AuditEntry, AuditFilter, AuditRecord, AuditRepository, sanitizeAuditEntry } from '../db/repositories/audit';
import type { Store } from '../db/store';

/** Who did something, from where. */
export interface Actor {
  username: string;
  ip?: string | null;
  /**
   * Why, when the caller said (the admin API's X-Gatekeeper-Reason header): kept in each
   * entry's details as `reason`. That key is the caller's alone: a record's own reason (a
   * ban's, an approval's) goes under its own key (`banReason`, `approvalReason`, ...).
   */
  reason?: string | null;
}

export const ANONYMOUS: Actor = { username: '$anonymous' };
export const SYSTEM: Actor = { username: '$system' };

export function auditEntry(actor: Actor, action: AuditAction, fields: Omit<AuditEntry, 'actor' | 'actorIp' | 'action'> = {}): AuditEntry {
  const entry: AuditEntry = { actor: actor.username, actorIp: actor.ip ?? null, action, ...fields };
  // The caller's reason always wins the key: it is never dropped for a value the caller of this function put there.
  if (actor.reason) entry.details = { ...entry.details, reason: actor.reason };
  return entry;
}

/** What /health says about the audit writer. */
export interface AuditHealth {
  /**
   * False while entries cannot be written because the database fails (until a write
   * succeeds), and while an entry has waited longer than `stuckMs` (a write that hangs).
   */
  ok: boolean;
  /** Entries waiting to be written. */
  pending: number;
  /** How long the oldest entry waiting has waited, in seconds (0 when none waits). */
  oldestPendingSeconds: number;
  /** Entries written since start. */
  written: number;
  /** Entries given up on since start: rejected by the database, retried too often, or over the buffer limit. */
  dropped: number;
  lastError: string | null;
  /** ISO time of the last failed write. */
  lastFailureAt: string | null;
}

/** What the writer reports, for the log. */
export type AuditWriterEvent =
  | { kind: 'retrying'; err: unknown; pending: number; attempt: number; delayMs: number }
  | { kind: 'dropped'; err: unknown; count: number; why: string; entries: Array<Pick<AuditEntry, 'action' | 'package' | 'version'>> }
  | { kind: 'recovered'; pending: number };

export interface AuditWriterOptions {
  /** How long entries wait to be batched. */
  delayMs?: number;
  /** At most this many entries wait; beyond it the oldest are dropped (counted). */
  maxBuffered?: number;
  /** Entries per INSERT. */
  batchSize?: number;
  /** First retry delay after a database failure; doubles each failure up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A batch that failed this many times in a row because of the database is dropped (counted). */
  maxAttempts?: number;
  /**
   * An entry waiting longer than this (past its batching delay) makes health() not ok: a write
   * that neither succeeds nor fails (a lock it waits for) is as much a failure as an error.
   * The database deadline (GATEKEEPER_DATABASE_TIMEOUT) by default 10 s.
   */
  stuckMs?: number;
  now?: () => number;
}

/** The part of the store the writer uses. */
export interface AuditStore {
  repos: { audit: Pick<AuditRepository, 'saveMany'> };
  ping(): Promise<void>;
}

/** The database could not take the entries (as opposed to: it refused one of them). */
class Outage extends Error {
  constructor(
    readonly error: unknown,
    /** The entries not written, in order. */
    readonly remaining: AuditEntry[],
  ) {
    super('the audit log cannot be written');
  }
}

// SQLSTATE classes that say nothing about the entries: connection, resources, operator
// intervention, system, access rules or missing objects, transaction state, internal.
const OUTAGE_CLASSES = new Set(['08', '25', '40', '42', '53', '57', '58', 'XX']);
const SQLSTATE = /^[0-9A-Z]{5}$/;

function isOutage(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  const code = pgCode(err);
  if (code === undefined || !SQLSTATE.test(code)) return false;
  // 55000: "database is not currently accepting connections" (and other prerequisite states);
  // 55P03: a lock not granted within lock_timeout (the table is held by another session).
  return OUTAGE_CLASSES.has(code.slice(0, 2)) || code === '55000' || code === '55006' || code === '55P03';
}

const describe = (err: unknown): string => sanitizeText(String((err as Error | null)?.message ?? err), 500);

/**
 * Audit entries written from request paths (blocked installs) are buffered and inserted in
 * batches, so a burst of blocked requests costs one INSERT, not one each. Admin actions do
 * not use this: they write their entry in the same transaction as the change.
 *
 * Nothing can silence it for long:
 * - entries are sanitised when recorded (and again by the repository before every insert);
 * - a batch the database refuses is split in halves until the entry it refuses is found:
 *   that entry alone is logged and dropped, the others are written;
 * - while the database cannot be written (down, full, refusing connections) the head batch
 *   is retried with an exponential backoff, at most `maxAttempts` times, then dropped; the
 *   buffer holds at most `maxBuffered` entries (the oldest go first);
 * - every dropped entry is counted, and `health()` is not ok while writes are failing.
 */
export class AuditWriter {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private inFlight = 0;
  private closed = false;
  /** Failed attempts of the current head batch. */
  private attempts = 0;
  /** Failures since the last success: sets the backoff. */
  private failures = 0;
  private outage = false;
  private written = 0;
  private dropped = 0;
  private lastError: string | null = null;
  private lastFailureAt: number | null = null;
  private readonly delayMs: number;
  private readonly maxBuffered: number;
  private readonly batchSize: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxAttempts: number;
  private readonly stuckMs: number;
  private readonly now: () => number;
  /** When each waiting entry was recorded (the buffer is in order, so its head is the oldest). */
  private readonly recordedAt = new WeakMap<AuditEntry, number>();
  /** When the oldest entry of the batch being written was recorded. */
  private inFlightSince: number | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly onEvent: (event: AuditWriterEvent) => void = () => undefined,
    options: AuditWriterOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 200;
    this.maxBuffered = Math.max(1, options.maxBuffered ?? 10_000);
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = Math.max(this.retryBaseMs, options.retryMaxMs ?? 30_000);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 20);
    this.stuckMs = Math.max(0, options.stuckMs ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  record(entry: AuditEntry): void {
    const clean = sanitizeAuditEntry(entry);
    if (this.closed) {
      this.drop([clean], undefined, 'the audit writer is closed');
      return;
    }
    if (this.buffer.length >= this.maxBuffered) this.drop(this.buffer.splice(0, 1), undefined, `more than ${this.maxBuffered} entries are waiting`);
    this.recordedAt.set(clean, this.now());
    this.buffer.push(clean);
    // During an outage the retry timer is already set; otherwise batch for delayMs.
    this.schedule(this.delayMs);
  }

  get pending(): number {
    return this.buffer.length + this.inFlight;
  }

  /** Milliseconds the oldest waiting entry has waited; 0 when none waits. */
  private oldestPendingMs(): number {
    const head = this.buffer[0];
    const since = this.inFlightSince ?? (head ? this.recordedAt.get(head) : undefined);
    return since === undefined ? 0 : Math.max(0, this.now() - since);
  }

  health(): AuditHealth {
    const waited = this.oldestPendingMs();
    return {
      ok: !this.outage && waited <= this.stuckMs + this.delayMs,
      pending: this.pending,
      oldestPendingSeconds: Math.round(waited / 100) / 10,
      written: this.written,
      dropped: this.dropped,
      lastError: this.lastError,
      lastFailureAt: this.lastFailureAt === null ? null : new Date(this.lastFailureAt).toISOString(),
    };
  }

  /**
   * Writes what is buffered now. Resolves when the buffer is empty or the database failed
   * (the entries then wait for the retry).
   */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    while (this.buffer.length > 0) {
      const progressed = await this.run();
      if (!progressed) return;
    }
  }

  /** Stops the timers and tries once more to write what is left; what cannot be written is dropped (counted). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    while (this.buffer.length > 0) {
      if (!(await this.run())) break;
    }
    if (this.buffer.length > 0) this.drop(this.buffer.splice(0), new Error(this.lastError ?? 'the database is unavailable'), 'the audit writer closed while the database was unavailable');
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pump();
    }, delayMs);
    this.timer.unref();
  }

  /** Timer body: write until the buffer is empty, or back off after a failure. */
  private async pump(): Promise<void> {
    while (this.running) await this.running;
    if (this.outage && this.buffer.length === 0) {
      // Nothing left to write (all dropped): find out when the database is back.
      await this.probe();
      return;
    }
    while (this.buffer.length > 0 && !this.closed) {
      if (!(await this.run())) return;
    }
  }

  private async probe(): Promise<void> {
    try {
      await this.store.ping();
      this.recovered();
    } catch (err) {
      this.failed(err);
    }
  }

  /** One batch, serialised with any other. True when it made progress without an outage. */
  private async run(): Promise<boolean> {
    while (this.running) await this.running;
    let progressed = false;
    const attempt = (async () => {
      const batch = this.buffer.splice(0, this.batchSize);
      if (batch.length === 0) return;
      this.inFlight = batch.length;
      this.inFlightSince = this.recordedAt.get(batch[0]);
      try {
        await this.write(batch);
        this.attempts = 0;
        this.recovered();
        progressed = true;
      } catch (err) {
        const outage = err instanceof Outage ? err : new Outage(err, batch);
        this.attempts++;
        if (this.attempts >= this.maxAttempts) {
          this.attempts = 0;
          this.drop(outage.remaining, outage.error, `the database failed ${this.maxAttempts} times in a row`);
        } else {
          this.buffer.unshift(...outage.remaining);
          const over = this.buffer.length - this.maxBuffered;
          if (over > 0) this.drop(this.buffer.splice(0, over), outage.error, `more than ${this.maxBuffered} entries are waiting`);
        }
        this.failed(outage.error);
      } finally {
        this.inFlight = 0;
        this.inFlightSince = undefined;
      }
    })();
    this.running = attempt.finally(() => {
      this.running = undefined;
    });
    await this.running;
    return progressed;
  }

  /**
   * Inserts `batch`; splits it when the database refuses it, so one entry it cannot store
   * is dropped alone. Throws Outage (with what was not written) when the database fails.
   */
  private async write(batch: AuditEntry[]): Promise<void> {
    try {
      await this.store.repos.audit.saveMany(batch);
      this.written += batch.length;
      return;
    } catch (err) {
      if (isOutage(err)) throw new Outage(err, batch);
      if (batch.length > 1) {
        const half = batch.length >>> 1;
        try {
          await this.write(batch.slice(0, half));
        } catch (e) {
          if (e instanceof Outage) throw new Outage(e.error, [...e.remaining, ...batch.slice(half)]);
          throw e;
        }
        await this.write(batch.slice(half));
        return;
      }
      // One entry fails on its own: the entry, or a database failure we did not recognise?
      const reachable = await this.store.ping().then(
        () => true,
        () => false,
      );
      if (!reachable) throw new Outage(err, batch);
      this.lastError = describe(err);
      this.lastFailureAt = this.now();
      this.drop(batch, err, 'the database refused the entry');
    }
  }

  private report(event: AuditWriterEvent): void {
    try {
      this.onEvent(event);
    } catch {
      // A failing logger must not stop the writer.
    }
  }

  private failed(err: unknown): void {
    this.outage = true;
    this.failures++;
    this.lastError = describe(err);
    this.lastFailureAt = this.now();
    const delayMs = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(this.failures - 1, 30));
    this.report({ kind: 'retrying', err, pending: this.pending, attempt: this.attempts, delayMs });
    this.schedule(delayMs);
  }

  private recovered(): void {
    this.failures = 0;
    if (this.outage) {
      this.outage = false;
      this.report({ kind: 'recovered', pending: this.pending });
    }
  }

  private drop(entries: AuditEntry[], err: unknown, why: string): void {
    if (entries.length === 0) return;
    this.dropped += entries.length;
    this.report({
      kind: 'dropped',
      err,
      count: entries.length,
      why,
      entries: entries.slice(0, 10).map((e) => ({ action: e.action, package: e.package ?? null, version: e.version ?? null })),
    });
  }
}

/** Reading the audit log (admins only; the route checks the role). */
export class AuditLog {
  constructor(private readonly store: Store) {}

  list(filter: AuditFilter): Promise<Page<AuditRecord>> {
    return this.store.repos.audit.list(filter);
  }
}

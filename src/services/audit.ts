import type { AuditEntry, AuditFilter, AuditRecord } from '../db/repositories/audit';
import type { Page } from '../db/pagination';
import type { Store } from '../db/store';

/** Who did something, from where. */
export interface Actor {
  username: string;
  ip?: string | null;
}

export const ANONYMOUS: Actor = { username: '$anonymous' };
export const SYSTEM: Actor = { username: '$system' };

export function auditEntry(actor: Actor, action: string, fields: Omit<AuditEntry, 'actor' | 'actorIp' | 'action'> = {}): AuditEntry {
  return { actor: actor.username, actorIp: actor.ip ?? null, action, ...fields };
}

/**
 * Audit entries written from request paths (blocked installs) are buffered and inserted in
 * batches, so a burst of blocked requests costs one INSERT, not one each. Admin actions do
 * not use this: they write their entry in the same transaction as the change.
 * Entries that cannot be written are kept and retried; `close()` flushes what is left.
 */
export class AuditWriter {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown, pending: number) => void,
    private readonly delayMs = 200,
    private readonly maxBuffered = 10_000,
  ) {}

  record(entry: AuditEntry): void {
    if (this.buffer.length >= this.maxBuffered) this.buffer.shift();
    this.buffer.push(entry);
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.delayMs);
      this.timer.unref();
    }
  }

  get pending(): number {
    return this.buffer.length;
  }

  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.store.repos.audit
      .saveMany(batch)
      .catch((err) => {
        this.buffer = [...batch, ...this.buffer].slice(-this.maxBuffered);
        this.onError(err, this.buffer.length);
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

/** Reading the audit log (admins only; the route checks the role). */
export class AuditLog {
  constructor(private readonly store: Store) {}

  list(filter: AuditFilter): Promise<Page<AuditRecord>> {
    return this.store.repos.audit.list(filter);
  }
}

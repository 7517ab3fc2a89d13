import { Advisory, fromBulk, fromOsv, PackageAdvisories } from '../core/advisory';
import { GatekeeperError } from '../core/errors';
import { isPrivateName } from '../core/publish';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import type { PolicyCache } from './policy-cache';

/** Asks the upstream's bulk advisory endpoint (the one `npm audit` uses) about versions. */
export interface AdvisorySource {
  bulk(query: Record<string, string[]>): Promise<Record<string, unknown[]>>;
}

export function upstreamAdvisorySource(upstream: string, timeoutMs = 5000): AdvisorySource {
  const url = new URL('-/npm/v1/security/advisories/bulk', upstream.endsWith('/') ? upstream : `${upstream}/`);
  return {
    async bulk(query) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(query),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`the advisory endpoint answered ${res.status}`);
      return (await res.json()) as Record<string, unknown[]>;
    },
  };
}

interface Known {
  advisories: Advisory[];
  /** When the upstream last answered for this package. */
  checkedAt: number | null;
}

export interface AdvisoryHealth {
  ok: boolean;
  lastSuccessAt: string | null;
  lastError: string | null;
}

/**
 * The advisories the policy decides with: cached in the database (upstream answers and
 * imported OSV files) and in memory. A package is asked about when it is first served and
 * again once its answer is older than the refresh interval; a background job refreshes the
 * packages served before. When the source cannot be reached, decisions use what is known
 * (and say so), or block unchecked packages if the policy says so.
 */
export class AdvisoryService {
  private readonly memory = new Map<string, Known>();
  private readonly pending = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private lastSuccessAt: number | null = null;
  private lastError: string | null = null;
  private readonly changeListeners: Array<(name: string) => void> = [];

  constructor(
    private readonly store: Store,
    private readonly cache: PolicyCache,
    private readonly source: AdvisorySource,
    private readonly refreshMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called when a package's advisories change (decisions and cached responses must go). */
  onChange(listener: (name: string) => void): void {
    this.changeListeners.push(listener);
  }

  private changed(name: string): void {
    for (const listener of this.changeListeners) listener(name);
  }

  health(): AdvisoryHealth {
    return {
      ok: this.lastError === null,
      lastSuccessAt: this.lastSuccessAt === null ? null : new Date(this.lastSuccessAt).toISOString(),
      lastError: this.lastError,
    };
  }

  private applies(name: string): boolean {
    const policy = this.cache.current();
    return policy.rules.advisories.mode !== 'off' && !isPrivateName(policy.publishRules, name);
  }

  /** What is known for a package, for a decision; undefined when the rule does not apply. */
  known(name: string): PackageAdvisories | undefined {
    if (!this.applies(name)) return undefined;
    const entry = this.memory.get(name);
    if (!entry) return { advisories: [], status: 'unchecked' };
    const fresh = entry.checkedAt !== null && this.now() - entry.checkedAt < this.refreshMs;
    return { advisories: entry.advisories, status: fresh ? 'fresh' : entry.checkedAt === null ? 'unchecked' : 'stale' };
  }

  /** Makes sure a package's advisories are loaded and, when due, asked again. Never throws on source errors. */
  async prepare(name: string, versions: readonly string[]): Promise<void> {
    if (!this.applies(name)) return;
    const entry = this.memory.get(name);
    if (entry?.checkedAt !== undefined && entry.checkedAt !== null && this.now() - entry.checkedAt < this.refreshMs) return;
    let running = this.pending.get(name);
    if (!running) {
      running = this.refresh(name, [...versions]).finally(() => this.pending.delete(name));
      this.pending.set(name, running);
    }
    await running;
  }

  private async refresh(name: string, versions: string[]): Promise<void> {
    const repo = this.store.repos.advisories;
    if (!this.memory.has(name)) {
      const [stored, check] = await Promise.all([repo.list(name), repo.check(name)]);
      this.memory.set(name, { advisories: stored, checkedAt: check?.checkedAt ? check.checkedAt.getTime() : null });
      if (check?.checkedAt && this.now() - check.checkedAt.getTime() < this.refreshMs) return;
    }
    let answer: Record<string, unknown[]>;
    try {
      answer = await this.source.bulk({ [name]: versions });
    } catch (err) {
      this.lastError = `${(err as Error).message}`;
      await repo.saveCheck({ package: name, versions, ok: false, error: this.lastError }).catch(() => undefined);
      return;
    }
    this.lastSuccessAt = this.now();
    this.lastError = null;
    const fresh = (answer[name] ?? []).map((a) => fromBulk(name, a)).filter((a): a is Advisory => a !== undefined);
    await this.store.transaction(async (repos) => {
      await repos.advisories.replace(name, 'upstream', fresh);
      await repos.advisories.saveCheck({ package: name, versions, ok: true, error: null });
    });
    const before = this.memory.get(name)?.advisories ?? [];
    const all = await repo.list(name);
    this.memory.set(name, { advisories: all, checkedAt: this.now() });
    if (JSON.stringify(before) !== JSON.stringify(all)) this.changed(name);
  }

  /** Refreshes packages whose answer is older than the interval, a batch at a time. */
  async refreshDue(batch = 50): Promise<number> {
    const due = await this.store.repos.advisories.due(new Date(this.now() - this.refreshMs), batch);
    for (const check of due) {
      this.memory.delete(check.package);
      await this.prepare(check.package, check.versions);
    }
    return due.length;
  }

  start(): void {
    const interval = Math.max(1000, Math.min(this.refreshMs / 4, 15 * 60_000));
    this.timer = setInterval(() => {
      this.refreshDue().catch((err) => {
        this.lastError = (err as Error).message;
      });
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Imports OSV advisories (offline); they apply at once. */
  async importOsv(actor: Actor, document: unknown): Promise<{ imported: number; packages: string[] }> {
    let advisories: Advisory[];
    try {
      advisories = fromOsv(document);
    } catch (err) {
      throw err instanceof GatekeeperError ? err : new GatekeeperError('EVALIDATION', `not an OSV document: ${(err as Error).message}`);
    }
    if (advisories.length === 0) throw new GatekeeperError('EVALIDATION', 'the document has no advisory for an npm package');
    const packages = [...new Set(advisories.map((a) => a.name))];
    await this.store.transaction(async (repos) => {
      await repos.advisories.upsert(advisories);
      await repos.audit.saveMany(
        advisories.map((a) => auditEntry(actor, 'advisory.import', { package: a.name, details: { id: a.id, severity: a.severity, vulnerableVersions: a.vulnerableVersions } })),
      );
    });
    for (const name of packages) {
      const entry = this.memory.get(name);
      const stored = await this.store.repos.advisories.list(name);
      this.memory.set(name, { advisories: stored, checkedAt: entry?.checkedAt ?? null });
      this.changed(name);
    }
    return { imported: advisories.length, packages };
  }

  list(name?: string): Promise<Advisory[]> {
    return name ? this.store.repos.advisories.list(name) : this.store.repos.advisories.listAll(1000);
  }
}

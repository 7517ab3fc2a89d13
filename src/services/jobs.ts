import type { Logger } from 'pino';
import { sanitizeText } from '../core/text';
import { MAX_TIMER_MS } from '../core/duration';
import type { JobClaim, JobRow } from '../db/repositories/jobs';
import type { Store } from '../db/store';

/**
 * Scheduled background work, done once per interval across every gatekeeper on one
 * database (docs/operations.md, "Background jobs").
 *
 * Each job has a row in the `jobs` table (migration 012). Every instance polls: one statement
 * claims the jobs that are due and not leased (or whose lease has expired), leasing them to
 * this instance with the database's clock. While a run lasts, its holder renews the lease
 * (a heartbeat every third of it); when the holder dies, the lease runs out and the next
 * instance to poll takes the job over. A run ends by releasing the lease and making the job
 * due again one interval after the run started.
 */

/** A run's deadline unless its job sets one (JobDefinition.timeoutMs). */
const DEFAULT_RUN_TIMEOUT_MS = 10 * 60_000;

export interface JobDefinition {
  /** Stable name, the row key in the `jobs` table, e.g. 'advisories.refresh', 'advisories.feed', 'webhooks.deliver'. */
  name: string;
  /** How often it is due. */
  intervalMs: number;
  /**
   * The longest one run may take (default: twice the interval, at least 10 minutes). Past it
   * the run's signal aborts and its lease is no longer renewed, so a hung run cannot hold the
   * job for ever: the lease runs out and an instance claims the job again (a takeover).
   */
  timeoutMs?: number;
  /**
   * Does one run. Throwing records the error (health, metrics) and the job is due again
   * after intervalMs. `signal` aborts when this instance stops or loses its lease: a long
   * run should check it between steps. `context` says which claim this run is.
   */
  run(signal: AbortSignal, context: JobRunContext): Promise<void>;
}

/** Which claim a run is (its number counts claims of the job across the cluster). */
export interface JobRunContext {
  instanceId: string;
  claim: number;
  /** When the claim was made, by the database's clock. */
  startedAt: Date;
  /** The previous holder's lease had expired (it died or stalled): this run takes its work over. */
  takeover: boolean;
}

export interface JobHealth {
  /** No claim error on this instance and no error from the job's last run. */
  ok: boolean;
  /** When the job's last run (on any instance) ended. */
  lastRunAt?: string;
  /** When a run of the job (on any instance) last succeeded. */
  lastSuccessAt?: string;
  /** The last run's error (on any instance), or why this instance could not record its run. */
  lastError?: string;
  /** Completed runs across the cluster. */
  runs: number;
  /** Runs this instance finished since it started (a per-instance counter, for metrics). */
  runsHere?: number;
  /** The instance holding the job's lease right now. */
  heldBy?: string;
  /**
   * When the holder's current run started (by the database's clock). A run held far past its
   * interval is stuck; at its deadline (JobDefinition.timeoutMs) the holder stops renewing the
   * lease, and once that runs out an instance claims the job again.
   */
  heldSince?: string;
  /** When the job is due next (by the database's clock). */
  nextRunAt?: string;
  /** This instance is running the job right now. */
  running?: boolean;
  /** Why this instance cannot poll the jobs table (the database is unreachable). */
  claimError?: string;
  failures?: number;
  takeovers?: number;
}

/** One finished run, for metrics. */
export interface JobRunEvent {
  name: string;
  ok: boolean;
  durationMs: number;
  takeover: boolean;
  error?: string;
}

export interface JobRunnerOptions {
  /** This instance's name in the `jobs` table (locked_by). */
  instanceId: string;
  /** How long a claim holds without renewal: the bound on a dead holder's takeover (default 60 s). */
  leaseMs?: number;
  /** How often the table is polled for due jobs (default 5 s). */
  pollMs?: number;
  now?: () => number;
  /** How long stop() waits for an aborted run to end (default 10 s). */
  stopGraceMs?: number;
}

export const DEFAULT_JOB_LEASE_MS = 60_000;
export const DEFAULT_JOB_POLL_MS = 5_000;

interface Running {
  claim: JobClaim;
  controller: AbortController;
  heartbeat: NodeJS.Timeout;
  lastRenewedAt: number;
  renewing: boolean;
  /** Why the lease is no longer ours (then the run is neither completed nor released). */
  lost?: string;
  done: Promise<void>;
}

interface Entry {
  def: JobDefinition;
  /** The job's row as last read from the database. */
  row?: JobRow;
  running?: Running;
  /** Why this instance could not record its last run (the row holds the job's own errors). */
  localError?: string;
  /** Runs this instance finished. */
  runsHere: number;
}

/** Text from an error, fit for a text column (no NUL) and a health report. */
function describe(err: unknown): string {
  return sanitizeText(err instanceof Error ? err.message || err.name : String(err), 2000) || 'unknown error';
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
  });

export class JobRunner {
  readonly instanceId: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  private readonly now: () => number;
  private readonly stopGraceMs: number;
  private readonly jobs = new Map<string, Entry>();
  private started = false;
  private stopped = false;
  private ensured = false;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private claimError: string | undefined;
  private failedPolls = 0;
  private readonly runListeners: Array<(event: JobRunEvent) => void> = [];

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: JobRunnerOptions,
  ) {
    this.instanceId = options.instanceId;
    this.leaseMs = options.leaseMs ?? DEFAULT_JOB_LEASE_MS;
    this.pollMs = options.pollMs ?? DEFAULT_JOB_POLL_MS;
    this.now = options.now ?? Date.now;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    if (!(this.leaseMs >= 3)) throw new Error(`the job lease must be a positive number of milliseconds, not ${this.leaseMs}`);
    if (!(this.pollMs >= 1)) throw new Error(`the job poll interval must be a positive number of milliseconds, not ${this.pollMs}`);
  }

  register(job: JobDefinition): void {
    if (this.started) throw new Error(`job '${job.name}' registered after the job runner started`);
    if (this.jobs.has(job.name)) throw new Error(`job '${job.name}' is registered twice`);
    if (!/^[a-z0-9][a-z0-9._-]{0,99}$/.test(job.name)) throw new Error(`job name '${job.name}' must be lower-case letters, digits, '.', '_' or '-'`);
    if (!(job.intervalMs > 0)) throw new Error(`job '${job.name}' needs an interval above 0 ms`);
    this.jobs.set(job.name, { def: job, runsHere: 0 });
  }

  /** Tells `listener` about every run this instance finishes (metrics). */
  onRun(listener: (event: JobRunEvent) => void): void {
    this.runListeners.push(listener);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops polling, aborts running jobs and waits (up to the grace period) for them to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
    const running = [...this.jobs.values()].map((e) => e.running).filter((r): r is Running => r !== undefined);
    for (const r of running) r.controller.abort(new Error('the gatekeeper is stopping'));
    if (running.length === 0) return;
    const all = Promise.all(running.map((r) => r.done));
    const settled = await Promise.race([all.then(() => true), sleep(this.stopGraceMs).then(() => false)]);
    if (!settled) {
      // The run ignores its signal: its lease is no longer renewed and runs out, then another instance runs the job.
      for (const r of running) clearInterval(r.heartbeat);
      this.logger.warn({ jobs: running.map((r) => r.claim.name) }, 'background jobs still running at shutdown; their leases will expire');
    }
  }

  /** Runs a job now if this instance can claim it (tests, CLI). Resolves false if another instance holds it. */
  async runNow(name: string): Promise<boolean> {
    const entry = this.jobs.get(name);
    if (!entry) throw new Error(`no job '${name}' is registered`);
    if (entry.running && entry.running.lost === undefined) return false;
    await this.store.repos.jobs.ensure([{ name, intervalMs: entry.def.intervalMs }]);
    const claim = await this.store.repos.jobs.claimNow(name, this.instanceId, this.leaseMs);
    if (!claim) return false;
    await this.launch(entry, claim).done;
    return true;
  }

  /**
   * When a run of the job last succeeded on any instance (ms since the epoch; null: never, or
   * not read yet), as of this instance's last poll or its own last run.
   */
  lastSuccess(name: string): number | null {
    return this.jobs.get(name)?.row?.lastSuccessAt?.getTime() ?? null;
  }

  /** Reads a registered job's row now (before the first poll: at start, where its state decides something). */
  async read(name: string): Promise<void> {
    const entry = this.jobs.get(name);
    if (!entry) throw new Error(`no job '${name}' is registered`);
    const row = await this.store.repos.jobs.find(name);
    if (row && !entry.row) entry.row = row;
  }

  health(): Record<string, JobHealth> {
    const out: Record<string, JobHealth> = {};
    for (const [name, entry] of this.jobs) {
      const row = entry.row;
      // A run that lost its lease or passed its deadline no longer holds the job, even while it has not ended.
      const live = entry.running && entry.running.lost === undefined ? entry.running : undefined;
      const abandoned = entry.running?.lost !== undefined ? `a run was abandoned: ${entry.running.lost}` : undefined;
      const lastError = entry.localError ?? abandoned ?? row?.lastError ?? undefined;
      const heldBy = live ? this.instanceId : row?.held ? (row.lockedBy ?? undefined) : undefined;
      const heldSince = live ? live.claim.startedAt : heldBy ? row?.startedAt : undefined;
      out[name] = {
        ok: this.claimError === undefined && lastError === undefined,
        runs: row?.runs ?? 0,
        runsHere: entry.runsHere,
        ...(row?.lastRunAt ? { lastRunAt: new Date(row.lastRunAt).toISOString() } : {}),
        ...(row?.lastSuccessAt ? { lastSuccessAt: new Date(row.lastSuccessAt).toISOString() } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
        ...(heldBy ? { heldBy } : {}),
        ...(heldSince ? { heldSince: new Date(heldSince).toISOString() } : {}),
        ...(row?.nextRunAt ? { nextRunAt: new Date(row.nextRunAt).toISOString() } : {}),
        running: live !== undefined,
        ...(this.claimError !== undefined ? { claimError: this.claimError } : {}),
        failures: row?.failures ?? 0,
        takeovers: row?.takeovers ?? 0,
      };
    }
    return out;
  }

  /** The next poll: after pollMs, or backing off (up to 16 intervals, at most a minute) while polls fail. */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        const backoff = this.failedPolls === 0 ? this.pollMs : Math.min(this.pollMs * 2 ** Math.min(this.failedPolls, 4), Math.max(this.pollMs, 60_000));
        // Up to a tenth of jitter, so instances started together do not poll in lockstep.
        this.schedule(backoff * (0.9 + Math.random() * 0.1));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const repo = this.store.repos.jobs;
    try {
      if (!this.ensured) {
        await repo.ensure([...this.jobs.values()].map((e) => ({ name: e.def.name, intervalMs: e.def.intervalMs })));
        this.ensured = true;
      }
      const names = [...this.jobs.keys()];
      // A run that lost its lease (or passed its deadline) no longer holds the job here either.
      const claimable = names.filter((n) => { const r = this.jobs.get(n)?.running; return !r || r.lost !== undefined; });
      const { rows, claimed } = await repo.poll(names, this.stopped ? [] : claimable, this.instanceId, this.leaseMs);
      for (const row of rows) {
        const entry = this.jobs.get(row.name);
        if (entry) entry.row = row;
      }
      if (this.claimError !== undefined) this.logger.info({ jobs: names }, 'background jobs: the jobs table is reachable again');
      this.claimError = undefined;
      this.failedPolls = 0;
      for (const claim of claimed) {
        const entry = this.jobs.get(claim.name);
        if (!entry) continue;
        if (this.stopped) {
          await repo.release(claim.name, this.instanceId, claim.claim, 'released: the gatekeeper is stopping').catch(() => undefined);
          continue;
        }
        this.launch(entry, claim);
      }
    } catch (err) {
      const message = describe(err);
      if (this.claimError === undefined) this.logger.warn({ err: message }, 'background jobs: cannot poll the jobs table; retrying with backoff');
      this.claimError = message;
      this.failedPolls += 1;
    }
  }

  /** Runs a claimed job with a heartbeat that renews its lease; `done` settles once the run is recorded. */
  private launch(entry: Entry, claim: JobClaim): Running {
    const controller = new AbortController();
    const beatMs = Math.max(1, Math.floor(this.leaseMs / 3));
    const running: Running = {
      claim,
      controller,
      lastRenewedAt: this.now(),
      renewing: false,
      heartbeat: setInterval(() => void this.renew(entry, running), beatMs),
      done: Promise.resolve(),
    };
    running.heartbeat.unref();
    // At most what a timer can wait: a longer one (a feed read every few weeks) would fire at once and lose every run.
    const timeoutMs = Math.min(MAX_TIMER_MS, entry.def.timeoutMs ?? Math.max(DEFAULT_RUN_TIMEOUT_MS, 2 * entry.def.intervalMs));
    const deadline = setTimeout(() => this.lose(running, `the run passed its deadline of ${timeoutMs} ms`), timeoutMs);
    deadline.unref();
    entry.running = running;
    if (claim.takeover) this.logger.warn({ job: claim.name, claim: claim.claim }, 'background job taken over: its previous holder let its lease expire');
    const started = this.now();
    running.done = (async () => {
      let error: string | null = null;
      try {
        await entry.def.run(controller.signal, { instanceId: this.instanceId, claim: claim.claim, startedAt: claim.startedAt, takeover: claim.takeover });
      } catch (err) {
        error = describe(err);
      }
      clearInterval(running.heartbeat);
      clearTimeout(deadline);
      const durationMs = this.now() - started;
      const repo = this.store.repos.jobs;
      try {
        if (running.lost) {
          entry.localError = `the run was not recorded: ${running.lost}`;
        } else if (error !== null && controller.signal.aborted && this.stopped) {
          // Stopped mid-run: the job stays due, for another instance's next poll.
          await repo.release(claim.name, this.instanceId, claim.claim, `aborted: ${error}`);
          entry.localError = undefined;
        } else {
          const row = await repo.complete(claim.name, this.instanceId, claim.claim, entry.def.intervalMs, error);
          if (row) {
            entry.row = row;
            entry.localError = undefined;
          } else {
            entry.localError = 'the run was not recorded: its lease had expired and another instance claimed the job';
          }
        }
      } catch (err) {
        entry.localError = `the run could not be recorded (${describe(err)}); the job runs again once its lease expires`;
      }
      if (error !== null) this.logger.warn({ job: claim.name, err: error, durationMs }, 'background job failed');
      else this.logger.debug({ job: claim.name, durationMs }, 'background job ran');
      if (entry.running === running) entry.running = undefined;
      entry.runsHere += 1;
      for (const listener of this.runListeners) {
        try {
          listener({ name: claim.name, ok: error === null, durationMs, takeover: claim.takeover, ...(error !== null ? { error } : {}) });
        } catch {
          // a metrics listener never breaks a run
        }
      }
    })();
    return running;
  }

  /**
   * The heartbeat: extends the lease from now. A claim that is no longer ours (another
   * instance took the job over) aborts the run; so does a lease that could not be renewed
   * for two thirds of its length (the database is unreachable), before it can run out.
   */
  private async renew(entry: Entry, running: Running): Promise<void> {
    if (running.renewing || running.lost || entry.running !== running) return;
    running.renewing = true;
    const { name, claim } = running.claim;
    try {
      const until = await this.store.repos.jobs.renew(name, this.instanceId, claim, this.leaseMs);
      if (until) running.lastRenewedAt = this.now();
      else this.lose(running, 'the lease was lost: another instance claimed the job');
    } catch (err) {
      if (this.now() - running.lastRenewedAt >= (this.leaseMs * 2) / 3) this.lose(running, `the lease could not be renewed (${describe(err)})`);
    } finally {
      running.renewing = false;
    }
  }

  private lose(running: Running, why: string): void {
    running.lost = why;
    clearInterval(running.heartbeat);
    this.logger.warn({ job: running.claim.name, claim: running.claim.claim }, `background job aborted: ${why}`);
    running.controller.abort(new Error(why));
  }
}

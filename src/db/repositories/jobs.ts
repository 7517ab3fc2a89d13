import type { Knex } from 'knex';

/** One job's row, as the runner sees it. */
export interface JobRow {
  name: string;
  intervalMs: number;
  nextRunAt: Date;
  lockedBy: string | null;
  lockedUntil: Date | null;
  /** Whether `locked_until` lies in the future by the database's clock. */
  held: boolean;
  claim: number;
  startedAt: Date | null;
  lastRunAt: Date | null;
  lastRunBy: string | null;
  lastDurationMs: number | null;
  lastError: string | null;
  /** When a run last succeeded (null: never). */
  lastSuccessAt: Date | null;
  runs: number;
  failures: number;
  takeovers: number;
}

/** A claim this instance won: the job is leased to it until it completes or the lease expires. */
export interface JobClaim {
  name: string;
  claim: number;
  startedAt: Date;
  lockedUntil: Date;
  /** The previous holder's lease had expired (it died or stalled): this claim takes its work over. */
  takeover: boolean;
}

/** What a poll found: every asked-for job's row, and the claims this poll won. */
export interface PollResult {
  rows: JobRow[];
  claimed: JobClaim[];
}

interface RawRow {
  name: string;
  interval_ms: string | number;
  next_run_at: Date;
  locked_by: string | null;
  locked_until: Date | null;
  held: boolean;
  claim: string | number;
  started_at: Date | null;
  last_run_at: Date | null;
  last_run_by: string | null;
  last_duration_ms: number | null;
  last_error: string | null;
  last_success_at: Date | null;
  runs: string | number;
  failures: string | number;
  takeovers: string | number;
  claimed_now?: boolean;
  took_over?: boolean;
}

const toRow = (r: RawRow): JobRow => ({
  name: r.name,
  intervalMs: Number(r.interval_ms),
  nextRunAt: r.next_run_at,
  lockedBy: r.locked_by,
  lockedUntil: r.locked_until,
  held: r.held,
  claim: Number(r.claim),
  startedAt: r.started_at,
  lastRunAt: r.last_run_at,
  lastRunBy: r.last_run_by,
  lastDurationMs: r.last_duration_ms,
  lastError: r.last_error,
  lastSuccessAt: r.last_success_at,
  runs: Number(r.runs),
  failures: Number(r.failures),
  takeovers: Number(r.takeovers),
});

const toClaim = (r: RawRow): JobClaim => ({
  name: r.name,
  claim: Number(r.claim),
  startedAt: r.started_at as Date,
  lockedUntil: r.locked_until as Date,
  takeover: r.took_over === true,
});

/** The row's columns plus `held`, computed with the database's clock. */
const COLUMNS = `name, interval_ms, next_run_at, locked_by, locked_until, (locked_until is not null and locked_until >= now()) as held,
  claim, started_at, last_run_at, last_run_by, last_duration_ms, last_error, last_success_at, runs, failures, takeovers`;

/**
 * The claim: one conditional UPDATE per job row. Under READ COMMITTED, concurrent claims of
 * one row serialise on its row lock, and each waiting UPDATE re-checks its WHERE clause
 * against the committed winner's row (now leased), so exactly one claim succeeds. Every
 * time comparison uses the database's clock (now()), never an instance's.
 */
const CLAIM_SET = `locked_by = ?, locked_until = now() + (? * interval '1 millisecond'), claim = jobs.claim + 1, started_at = now(),
  takeovers = jobs.takeovers + (case when jobs.locked_until is not null then 1 else 0 end)`;
const FREE = `(jobs.locked_until is null or jobs.locked_until < now())`;

/**
 * Scheduled jobs shared by every gatekeeper on the database (migration 012). Claims are
 * leases in the row, not advisory locks or open transactions, so a claim survives the loss
 * of one pooled connection, is visible to operators, and is taken over by another instance a
 * bounded time (the lease) after its holder died.
 */
export class JobRepository {
  constructor(private readonly db: Knex) {}

  /** Creates the jobs' rows (due now) if they do not exist; records each job's interval. */
  async ensure(jobs: Array<{ name: string; intervalMs: number }>): Promise<void> {
    if (jobs.length === 0) return;
    await this.db('jobs')
      .insert(jobs.map((j) => ({ name: j.name, interval_ms: j.intervalMs })))
      .onConflict('name')
      .merge(['interval_ms']);
  }

  /**
   * Claims every job in `claimable` that is due and not leased (or whose lease expired),
   * leasing it to `holder` for `leaseMs`, and reads the rows of all `names`, in one statement.
   */
  async poll(names: string[], claimable: string[], holder: string, leaseMs: number): Promise<PollResult> {
    if (names.length === 0) return { rows: [], claimed: [] };
    const result = await this.db.raw<{ rows: RawRow[] }>(
      `with before as (
         select name, locked_until from jobs where name = any(?::text[])
       ), claimed as (
         update jobs set ${CLAIM_SET}
         where jobs.name = any(?::text[]) and jobs.next_run_at <= now() and ${FREE}
         returning ${COLUMNS}
       )
       select c.*, true as claimed_now, (b.locked_until is not null) as took_over from claimed c join before b using (name)
       union all
       select ${COLUMNS}, false as claimed_now, false as took_over from jobs where name = any(?::text[]) and name not in (select name from claimed)`,
      [claimable.length > 0 ? claimable : [''], holder, leaseMs, claimable.length > 0 ? claimable : [''], names],
    );
    return { rows: result.rows.map(toRow), claimed: result.rows.filter((r) => r.claimed_now).map(toClaim) };
  }

  /**
   * Claims one job if no one holds it, due or not (runNow); undefined when it is held (or
   * does not exist).
   */
  async claimNow(name: string, holder: string, leaseMs: number): Promise<JobClaim | undefined> {
    const result = await this.db.raw<{ rows: RawRow[] }>(
      `with before as (select name, locked_until from jobs where name = ?)
       update jobs set ${CLAIM_SET}
       from before b
       where jobs.name = b.name and ${FREE}
       returning jobs.name, jobs.claim, jobs.started_at, jobs.locked_until, (b.locked_until is not null) as took_over`,
      [name, holder, leaseMs],
    );
    return result.rows[0] ? toClaim(result.rows[0]) : undefined;
  }

  /**
   * Claims one due job (the claim in its plainest form: the one statement `poll` runs per
   * row). Resolves the claim, or undefined when the job is not due or another holds it.
   */
  async claimDue(name: string, holder: string, leaseMs: number): Promise<JobClaim | undefined> {
    const result = await this.db.raw<{ rows: RawRow[] }>(
      `update jobs set ${CLAIM_SET}
       where jobs.name = ? and jobs.next_run_at <= now() and ${FREE}
       returning jobs.name, jobs.claim, jobs.started_at, jobs.locked_until, false as took_over`,
      [holder, leaseMs, name],
    );
    return result.rows[0] ? toClaim(result.rows[0]) : undefined;
  }

  /** Extends a held claim's lease from now; false when the claim is no longer this holder's. */
  async renew(name: string, holder: string, claim: number, leaseMs: number): Promise<Date | undefined> {
    const rows = await this.db('jobs')
      .where({ name, locked_by: holder, claim })
      .update({ locked_until: this.db.raw(`now() + (? * interval '1 millisecond')`, [leaseMs]) })
      .returning<Array<{ locked_until: Date }>>(['locked_until']);
    return rows[0]?.locked_until;
  }

  /**
   * Ends a claimed run: the lease is released, the job is due again `intervalMs` after the
   * run started (so once per interval across the cluster), and the run is counted with its
   * error (null: it succeeded). Resolves the row, or undefined when the claim was no longer
   * this holder's.
   */
  async complete(name: string, holder: string, claim: number, intervalMs: number, error: string | null): Promise<JobRow | undefined> {
    const result = await this.db.raw<{ rows: RawRow[] }>(
      `update jobs set locked_by = null, locked_until = null,
         next_run_at = started_at + (? * interval '1 millisecond'),
         last_run_at = now(), last_run_by = ?,
         last_duration_ms = least(2147483647, (extract(epoch from (now() - started_at)) * 1000)::bigint),
         last_error = ?, last_success_at = case when ?::boolean then now() else last_success_at end,
         runs = runs + 1, failures = failures + ?
       where name = ? and locked_by = ? and claim = ?
       returning ${COLUMNS}`,
      [intervalMs, holder, error, error === null, error === null ? 0 : 1, name, holder, claim],
    );
    return result.rows[0] ? toRow(result.rows[0]) : undefined;
  }

  /**
   * Gives a claim back without counting a run (the run was aborted: the instance is
   * stopping): the job stays due, so another instance runs it on its next poll.
   */
  async release(name: string, holder: string, claim: number, error: string): Promise<boolean> {
    const rows = await this.db('jobs')
      .where({ name, locked_by: holder, claim })
      .update({ locked_by: null, locked_until: null, last_error: error })
      .returning<Array<{ name: string }>>(['name']);
    return rows.length > 0;
  }

  async find(name: string): Promise<JobRow | undefined> {
    const result = await this.db.raw<{ rows: RawRow[] }>(`select ${COLUMNS} from jobs where name = ?`, [name]);
    return result.rows[0] ? toRow(result.rows[0]) : undefined;
  }
}

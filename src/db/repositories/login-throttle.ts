import type { Knex } from 'knex';

/** What a counter counts: failed password checks for one username, or from one address. */
export type ThrottleScope = 'user' | 'address';

/** One counter in one window; `generation` names the window. */
export interface ThrottleBucket {
  scope: ThrottleScope;
  key: string;
  generation: number;
}

export interface Reservation extends ThrottleBucket {
  /** Attempts in this window, this one included (failures plus checks still running). */
  attempts: number;
  /** Seconds until the window ends. */
  secondsLeft: number;
}

/** A bucket whose audit flag this call turned on (exactly one caller per window gets it). */
export interface FlaggedBucket extends ThrottleBucket {
  attempts: number;
  blocked: number;
}

interface ReserveRow {
  scope: ThrottleScope;
  key: string;
  attempts: number;
  generation: string;
  seconds_left: string | number;
}

interface FlagRow {
  scope: ThrottleScope;
  key: string;
  attempts: number;
  blocked: number;
  generation: string;
}

/**
 * Login throttle counters. Every change is one atomic statement on one row (an upsert or a
 * conditional update), so gatekeepers sharing the database count together without locks
 * held across a password check.
 */
export class LoginThrottleRepository {
  constructor(private readonly db: Knex) {}

  /**
   * Counts an attempt before its password is checked: a new window when there is none or
   * the last one ended, else one more in the current one.
   */
  async reserve(scope: ThrottleScope, key: string, windowMs: number): Promise<Reservation> {
    const result = await this.db.raw<{ rows: ReserveRow[] }>(
      `insert into login_throttle as t (scope, key, attempts, blocked, generation, window_end, refused_logged, throttled_logged)
       values (?, ?, 1, 0, 1, now() + (? * interval '1 millisecond'), false, false)
       on conflict (scope, key) do update set
         attempts = case when t.window_end <= now() then 1 else t.attempts + 1 end,
         blocked = case when t.window_end <= now() then 0 else t.blocked end,
         generation = case when t.window_end <= now() then t.generation + 1 else t.generation end,
         refused_logged = t.refused_logged and t.window_end > now(),
         throttled_logged = t.throttled_logged and t.window_end > now(),
         window_end = case when t.window_end <= now() then excluded.window_end else t.window_end end
       returning scope, key, attempts, generation, extract(epoch from (window_end - now())) as seconds_left`,
      [scope, key, windowMs],
    );
    const row = result.rows[0];
    return { scope: row.scope, key: row.key, attempts: row.attempts, generation: Number(row.generation), secondsLeft: Number(row.seconds_left) };
  }

  /** Takes back a reservation whose password was right (or was never checked). */
  async release(buckets: ThrottleBucket[]): Promise<void> {
    if (buckets.length === 0) return;
    await this.db('login_throttle')
      .where((q) => matchBuckets(q, buckets))
      .update({ attempts: this.db.raw('greatest(attempts - 1, 0)') });
  }

  /** Turns a reservation that was refused for being over the limit into a blocked attempt. */
  async block(bucket: ThrottleBucket): Promise<void> {
    await this.db('login_throttle')
      .where((q) => matchBuckets(q, [bucket]))
      .update({ attempts: this.db.raw('greatest(attempts - 1, 0)'), blocked: this.db.raw('blocked + 1') });
  }

  /** The buckets whose first failure of the window this is (`refused_logged` was off). */
  async flagRefused(buckets: ThrottleBucket[]): Promise<FlaggedBucket[]> {
    if (buckets.length === 0) return [];
    const rows = await this.db('login_throttle')
      .where((q) => matchBuckets(q, buckets))
      .where('refused_logged', false)
      .update({ refused_logged: true })
      .returning<FlagRow[]>(['scope', 'key', 'attempts', 'blocked', 'generation']);
    return rows.map(toFlagged);
  }

  /** The buckets that reached their limit with this failure (`throttled_logged` was off). */
  async flagThrottled(buckets: Array<ThrottleBucket & { limit: number }>): Promise<FlaggedBucket[]> {
    if (buckets.length === 0) return [];
    const rows = await this.db('login_throttle')
      .where((q) => {
        for (const b of buckets) {
          q.orWhere((w) => w.where({ scope: b.scope, key: b.key, generation: b.generation }).where('attempts', '>=', b.limit));
        }
      })
      .where('throttled_logged', false)
      .update({ throttled_logged: true })
      .returning<FlagRow[]>(['scope', 'key', 'attempts', 'blocked', 'generation']);
    return rows.map(toFlagged);
  }

  /** Deletes counters whose window has ended; the next attempt would reset them anyway. */
  async prune(): Promise<number> {
    return Number(await this.db('login_throttle').where('window_end', '<', this.db.fn.now()).delete());
  }

  async find(scope: ThrottleScope, key: string): Promise<{ attempts: number; blocked: number; generation: number; windowEnd: Date } | undefined> {
    const row = await this.db('login_throttle').where({ scope, key }).first();
    return row ? { attempts: row.attempts, blocked: row.blocked, generation: Number(row.generation), windowEnd: row.window_end } : undefined;
  }
}

function matchBuckets(q: Knex.QueryBuilder, buckets: ThrottleBucket[]): void {
  for (const b of buckets) q.orWhere({ scope: b.scope, key: b.key, generation: b.generation });
}

function toFlagged(row: FlagRow): FlaggedBucket {
  return { scope: row.scope, key: row.key, attempts: row.attempts, blocked: row.blocked, generation: Number(row.generation) };
}

import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { GatekeeperError } from '../core/errors';
import { isConnectionError, pgCode } from './errors';

/**
 * The cross-instance half of a package's storage lock: a PostgreSQL advisory lock, taken
 * with `pg_advisory_xact_lock(<namespace>, <hash of the name>)` inside a transaction that
 * lasts as long as the holder's write (src/storage/locks.ts adds the in-process half).
 *
 * Why transaction-scoped rather than a session lock on a dedicated connection: the lock is
 * released by COMMIT or ROLLBACK, and by the server when the connection or the process dies,
 * so no code path can leave a package locked; a session lock needs an explicit unlock that a
 * failed query or a connection returned to the pool with the lock still held would skip.
 *
 * Bounds: the wait is `lock_timeout` (SQLSTATE 55P03 becomes ELOCKTIMEOUT, the holder
 * keeps its lock), and a holder that stays idle in its transaction longer than
 * `idle_in_transaction_session_timeout` (a hung write, e.g. on a stalled network
 * filesystem) loses its connection, which releases the lock for everyone else. A pool
 * connection is occupied while a lock is held or awaited, so these locks use their own small
 * pool (see start.ts): storage writes never starve the policy, login or audit queries.
 */

/** The first int4 key: "gkst". Two-int4 advisory locks never collide with one-bigint ones. */
export const STORAGE_LOCK_NAMESPACE = 0x676b7374;

/** The two int4 keys of a package's lock: the namespace and 32 bits of SHA-256 of the name. */
export function packageLockKeys(name: string): [number, number] {
  return [STORAGE_LOCK_NAMESPACE, createHash('sha256').update(name, 'utf8').digest().readInt32BE(0)];
}

/** One transaction holding package locks; several locks may be taken in it (nested writes). */
export interface LockSession {
  /** Waits at most `waitMs` for the lock; throws ELOCKTIMEOUT after that. */
  acquire(name: string, waitMs: number): Promise<void>;
  /** Ends the transaction, releasing every lock taken in it. */
  release(): Promise<void>;
}

export interface LockSessions {
  open(waitMs: number): Promise<LockSession>;
}

export interface AdvisoryLockOptions {
  /** How long a holder may stay inside its transaction without a statement before PostgreSQL ends it. */
  maxHoldMs: number;
  /** Told when a holder's transaction could not commit: its locks were gone before it was done (logged). */
  onLost?: (names: string[]) => void;
}

const LOCK_NOT_AVAILABLE = '55P03';

export function lockTimeoutError(name: string, waitMs: number): GatekeeperError {
  return new GatekeeperError(
    'ELOCKTIMEOUT',
    `another write to ${name.slice(0, 214)} held its storage lock for more than ${Math.round(waitMs / 100) / 10}s; nothing was written. Try again`,
    { package: name.slice(0, 214) },
    { retryAfter: 1 },
  );
}

export class PgAdvisoryLocks implements LockSessions {
  constructor(
    private readonly knex: Knex,
    private readonly options: AdvisoryLockOptions,
  ) {}

  async open(waitMs: number): Promise<LockSession> {
    let trx: Knex.Transaction;
    try {
      trx = await this.knex.transaction();
    } catch (err) {
      // The lock pool had no connection free within its acquire timeout: as busy as a held lock.
      if (/Timeout acquiring a connection/i.test(String((err as Error)?.message))) throw lockTimeoutError('a package', waitMs);
      throw mapLockError(err);
    }
    const maxHold = `${Math.max(1, Math.ceil(this.options.maxHoldMs))}ms`;
    let ended = false;
    const names: string[] = [];
    return {
      acquire: async (name, wait) => {
        const [a, b] = packageLockKeys(name);
        try {
          // lock_timeout bounds the next statement's wait (set again for each acquire); both settings end with the transaction.
          await trx.raw("select set_config('idle_in_transaction_session_timeout', ?, true), set_config('lock_timeout', ?, true)", [maxHold, `${Math.max(1, Math.ceil(wait))}ms`]);
          await trx.raw('select pg_advisory_xact_lock(?::int4, ?::int4)', [a, b]);
          names.push(name);
        } catch (err) {
          ended = true;
          await trx.rollback().catch(() => undefined);
          // The message names the waiter's whole bound, not what was left of it for this statement.
          if (pgCode(err) === LOCK_NOT_AVAILABLE) throw lockTimeoutError(name, Math.max(wait, waitMs));
          throw mapLockError(err);
        }
      },
      release: async () => {
        if (ended) return;
        ended = true;
        // A connection PostgreSQL closed (idle_in_transaction_session_timeout) released the locks already.
        // knex's commit() resolves either way; the transaction's own promise says whether COMMIT worked.
        await trx.commit().catch(() => undefined);
        const committed = await trx.executionPromise.then(
          () => true,
          () => false,
        );
        if (!committed && names.length > 0) this.options.onLost?.([...names]);
      },
    };
  }
}

function mapLockError(err: unknown): unknown {
  if (isConnectionError(err)) return new GatekeeperError('EDATABASE', `the storage lock cannot be taken: the governance database is unavailable (${(err as Error).message}). Try again later`);
  return err;
}

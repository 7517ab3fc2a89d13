import knexFactory, { Knex } from 'knex';
import { Client } from 'pg';
import path from 'node:path';
import { startEmbeddedDatabase, EmbeddedDatabase } from './embedded';
import { migrationSource } from '../../migrations';

export type { Knex };

export interface Database {
  knex: Knex;
  /** The connection string in use (embedded or external), password included. */
  url: string;
  kind: 'embedded' | 'external';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** External PostgreSQL; when unset the embedded server is started in `<dataDir>/db`. */
  url?: string;
  dataDir: string;
  poolMax?: number;
  /**
   * The deadline of every statement and lock wait on the pool's connections (PostgreSQL's
   * statement_timeout and lock_timeout, set on each new connection, and the client's wait for
   * an answer, READ_GRACE_MS longer); 0 or unset: none. Work that may take longer runs on a pool
   * without it (createMigrationKnex; the long-work pool start.ts gives Store.longTransaction).
   */
  timeoutMs?: number;
  onLog?: (line: string) => void;
  onWarning?: (message: string) => void;
  /** The embedded server exited on its own (see EmbeddedOptions.onExit). */
  onEmbeddedExit?: (how: string) => void;
}

const quiet = (): void => undefined;

/**
 * How much longer than the server's deadline the client waits for an answer. The server's
 * statement_timeout cannot end a wait on a hung link (a proxy or network that passes nothing
 * and closes nothing): the statement never arrives, or its answer never leaves.
 */
export const READ_GRACE_MS = 2000;

/** What afterCreate touches of a pooled pg client. */
interface PooledClient {
  query(...args: unknown[]): unknown;
  connection?: { stream?: { destroy(): void } };
}

/**
 * How late a deadline's timer may fire before the wait is taken to have been the event loop's,
 * not the link's: a timer held past its time by synchronous work (a large document parsed, a
 * long collection) fires before the answers that arrived meanwhile are read.
 */
export const STALL_TOLERANCE_MS = 500;
/** How many times one statement's deadline is put off for a held event loop before it counts. */
const MAX_STALL_EXTENSIONS = 5;

/**
 * The client's deadline for a statement's answer (pg's query_timeout, kept here instead): the
 * statement is given up on when no answer has come `ms` after it was sent. Two differences from
 * pg's own: the answers already at the socket when the timer fires are read before it decides
 * (it decides on the next turn of the event loop, after the loop's reads), and a timer the event
 * loop held more than STALL_TOLERANCE_MS past its time waits READ_GRACE_MS more (at most
 * MAX_STALL_EXTENSIONS times), so a blocked loop is not taken for a hung link (which would refuse
 * requests 503 EDATABASE whose answers had come).
 *
 * A statement given up on closes its connection: the statement may still be running, or its
 * answer lost, so nothing else may be sent on it (a transaction's ROLLBACK would wait behind
 * it). The closed client is marked disposed by knex and never handed out again. Only calls with
 * a callback, as knex makes them, get the deadline.
 */
function keepReadDeadline(conn: PooledClient, ms: number): void {
  const query = conn.query;
  conn.query = function (this: PooledClient, ...args: unknown[]) {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback !== 'function') return query.apply(this, args);
    let pending = true;
    let timer: NodeJS.Timeout | undefined;
    let extensions = 0;
    const settle = (err: unknown, result?: unknown): unknown => {
      if (!pending) return undefined;
      pending = false;
      clearTimeout(timer);
      return (callback as (e: unknown, r?: unknown) => unknown)(err, result);
    };
    const giveUp = (): void => {
      if (!pending) return;
      conn.connection?.stream?.destroy();
      settle(new Error('Query read timeout'));
    };
    const arm = (wait: number): void => {
      const due = performance.now() + wait;
      timer = setTimeout(() => {
        if (!pending) return;
        if (performance.now() - due > STALL_TOLERANCE_MS && extensions < MAX_STALL_EXTENSIONS) {
          extensions++;
          arm(READ_GRACE_MS);
        } else {
          setImmediate(giveUp);
        }
      }, wait);
    };
    args[last] = settle;
    const sent = query.apply(this, args);
    if (pending) arm(ms);
    return sent;
  };
}

export function createKnex(url: string, poolMax = 10, timeoutMs = 0): Knex {
  const ms = Math.max(0, Math.round(timeoutMs));
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 5000 },
    pool: {
      min: 0,
      max: poolMax,
      acquireTimeoutMillis: 5000,
      // Set with SET rather than as startup parameters, which a pooler (PgBouncer) may refuse.
      ...(ms > 0
        ? {
            afterCreate: (conn: PooledClient, done: (err: Error | null, conn: unknown) => void) => {
              // The client gives up on an answer READ_GRACE_MS after the server would have.
              keepReadDeadline(conn, ms + READ_GRACE_MS);
              conn.query(`set statement_timeout = ${ms}; set lock_timeout = ${ms}`, (err: Error | null) => done(err, conn));
            },
          }
        : {}),
    },
    acquireConnectionTimeout: 5000,
    // An error's message names the statement, not its values (package text, hashes): knex would write them in.
    compileSqlOnError: false,
    // knex prints connection errors to the console; they reach callers as rejections anyway.
    log: { warn: quiet, error: quiet, deprecate: quiet, debug: quiet },
  });
}

/** Creates the database named in `url` if it does not exist, connecting to `postgres`. */
export async function ensureDatabaseExists(url: string): Promise<void> {
  const target = new URL(url);
  const dbName = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [dbName]);
    if (found.rowCount === 0) await client.query(`create database "${dbName.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = options.url;
  if (!url) {
    embedded = await startEmbeddedDatabase({ dir: path.join(options.dataDir, 'db'), onLog: options.onLog, onWarning: options.onWarning, onExit: options.onEmbeddedExit });
    const u = new URL(embedded.url);
    u.pathname = '/gatekeeper';
    url = u.toString();
    try {
      await ensureDatabaseExists(url);
    } catch (err) {
      await embedded.stop();
      throw err;
    }
  }
  const knex = createKnex(url, options.poolMax, options.timeoutMs);
  try {
    await knex.raw('select 1');
  } catch (err) {
    await knex.destroy();
    await embedded?.stop();
    throw new Error(`cannot connect to the database at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  return {
    knex,
    url,
    kind: embedded ? 'embedded' : 'external',
    async close() {
      await knex.destroy();
      await embedded?.stop();
    },
  };
}

/**
 * Applies every migration not yet applied. Several gatekeepers starting together on one
 * database take turns: knex's own lock row alone would fail a start whose migration table is
 * locked, or race while creating that table on an empty database; a transaction-scoped
 * advisory lock held on one pool connection (knex migrates on others) makes the later ones
 * wait and then find nothing left to do.
 */
/** The pool migrations run on: like the request pool, but without the statement deadline (a migration may rewrite a large table). */
export function createMigrationKnex(url: string): Knex {
  return createKnex(url, 4, 0);
}

export async function migrateLatest(knex: Knex): Promise<string[]> {
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', ['gatekeeper.migrations']);
    // A database a newer release has migrated (a rolling upgrade) holds migrations this one does
    // not know. Migrations only expand the schema the previous release uses (docs/deploy.md), so
    // this release still runs on it: knex's check that refuses such a database is turned off,
    // and migrationsAhead() names them for the start's log.
    const [, applied] = (await knex.migrate.latest({ migrationSource, disableMigrationsListValidation: true })) as [number, string[]];
    return applied;
  });
}

/** Migrations the database has applied that this release does not know (a newer release ran). */
export async function migrationsAhead(knex: Knex): Promise<string[]> {
  const known = new Set((await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m)));
  const rows = await knex('knex_migrations').select<Array<{ name: string }>>('name').orderBy('id');
  return rows.map((r) => r.name).filter((name) => !known.has(name));
}

export async function migrateRollbackAll(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ migrationSource }, true);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid database url>';
  }
}

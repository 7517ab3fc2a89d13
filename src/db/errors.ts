import { asGatekeeperError, GatekeeperError } from '../core/errors';

/**
 * PostgreSQL errors are recognised by their SQLSTATE `code`, never by their class:
 * pg, knex and the embedded server may each hand us a different error type.
 */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';
export const PG_CHECK_VIOLATION = '23514';

export function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (pgCode(err) !== PG_UNIQUE_VIOLATION) return false;
  return constraint === undefined || (err as { constraint?: string }).constraint === constraint;
}

/**
 * Codes that mean the database could not be reached: the operating system's (from the pg
 * driver's socket, e.g. a database host name that does not resolve) and PostgreSQL's
 * connection classes. Our own errors share some of these names (a GatekeeperError's
 * ENOTFOUND means "no such row"), so they are never looked up here.
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
]);

/**
 * True when the error means the database could not be reached, rather than a bad query: a
 * statement that got no answer by the client's deadline (a hung link) counts as unreachable.
 */
export function isConnectionError(err: unknown): boolean {
  if (asGatekeeperError(err)) return false;
  const code = pgCode(err);
  if (code && CONNECTION_CODES.has(code)) return true;
  if (isReadTimeout(err)) return true;
  const message = String((err as Error | null)?.message ?? '');
  return /Knex: Timeout acquiring a connection|Connection terminated|connect ECONNREFUSED|timeout expired/i.test(message);
}

/** 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout). */
export const PG_QUERY_CANCELED = '57014';
export const PG_LOCK_NOT_AVAILABLE = '55P03';

/** The error when no answer came by the client's read deadline (the link hung: connection.ts keepReadDeadline); knex puts the statement before it. */
const CLIENT_READ_TIMEOUT = /(?:^| - )Query read timeout$/;

/**
 * True when a statement was cancelled at its deadline (GATEKEEPER_DATABASE_TIMEOUT), waited
 * too long for a lock, or got no answer by the client's deadline.
 */
export function isDeadlineError(err: unknown): boolean {
  if (asGatekeeperError(err)) return false;
  const code = pgCode(err);
  return code === PG_QUERY_CANCELED || code === PG_LOCK_NOT_AVAILABLE || isReadTimeout(err);
}

/** The client's read deadline passed (connection.ts keepReadDeadline): no answer came. */
export function isReadTimeout(err: unknown): boolean {
  return !asGatekeeperError(err) && pgCode(err) === undefined && CLIENT_READ_TIMEOUT.test(String((err as Error | null)?.message ?? ''));
}

/**
 * The database as the cause of a failure, or undefined when it is not: a statement past its
 * deadline, a lock not granted in time, a lost or refused connection. Says what happened and
 * what to do; the driver's text (which may quote a statement) is not shown for deadlines.
 */
export function databaseFailure(err: unknown): GatekeeperError | undefined {
  if (isReadTimeout(err)) {
    return new GatekeeperError(
      'EDATABASE',
      'the governance database sent no answer in time (GATEKEEPER_DATABASE_TIMEOUT): the connection to it may be hung, so the request was stopped. Try again shortly; if it persists an admin should check the network path to the database (a proxy in between) and /health',
    );
  }
  if (isDeadlineError(err)) {
    const what = pgCode(err) === PG_LOCK_NOT_AVAILABLE ? 'waited too long for a lock' : 'did not answer in time';
    return new GatekeeperError(
      'EDATABASE',
      `the governance database ${what} (GATEKEEPER_DATABASE_TIMEOUT), so the request was stopped. Try again shortly; if it persists an admin should look for long-running or blocking sessions in pg_stat_activity`,
    );
  }
  if (isConnectionError(err)) return new GatekeeperError('EDATABASE', `the governance database is unavailable (${(err as Error).message}). Try again shortly; an admin should check /health`);
  return undefined;
}

/** SQLSTATE class 22 (data exception): a value the column cannot hold, out of range, malformed. */
export function isDataException(err: unknown): boolean {
  const code = pgCode(err);
  return code !== undefined && /^22[0-9A-Z]{3}$/.test(code);
}

/** 54000: e.g. a value too large for an index entry. */
export const PG_PROGRAM_LIMIT_EXCEEDED = '54000';

/**
 * True for a failure one row of a statement can cause on its own: a data exception (class 22),
 * a constraint it breaks (class 23), a value too large for an index entry (54000).
 */
export function isRowError(err: unknown): boolean {
  const code = pgCode(err);
  return isDataException(err) || (code !== undefined && /^23[0-9A-Z]{3}$/.test(code)) || code === PG_PROGRAM_LIMIT_EXCEEDED;
}

/**
 * Maps a database error to a GatekeeperError. GatekeeperErrors (a not-found thrown inside a
 * transaction, say) and errors that are not the database's pass through unchanged: only the
 * database's own codes are translated, and only a lost connection becomes EDATABASE.
 */
export function mapDbError(err: unknown, what: string): unknown {
  if (asGatekeeperError(err)) return err;
  const code = pgCode(err);
  if (code === PG_UNIQUE_VIOLATION) return new GatekeeperError('ECONFLICT', `${what} already exists. Read it again, and change the existing one instead`);
  if (code === PG_FOREIGN_KEY_VIOLATION) return new GatekeeperError('ENOTFOUND', `${what} refers to something that does not exist. Check the names and ids it refers to`);
  if (code === PG_CHECK_VIOLATION) return new GatekeeperError('EVALIDATION', `${what} is not valid. Check the fields against openapi.json`);
  if (isDataException(err) || code === PG_PROGRAM_LIMIT_EXCEEDED) {
    // Not the driver's message: it quotes the whole statement, values and all.
    const why = code === PG_PROGRAM_LIMIT_EXCEEDED ? 'a value too long to index' : code === '22003' ? 'a number out of range' : 'a value it cannot store';
    return new GatekeeperError('EVALIDATION', `${what} holds ${why} (SQLSTATE ${code}); shorten or correct the input and try again`);
  }
  return databaseFailure(err) ?? err;
}

import { GatekeeperError } from '../core/errors';

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

/** True when the error means the database could not be reached, rather than a bad query. */
export function isConnectionError(err: unknown): boolean {
  const code = pgCode(err);
  if (code && CONNECTION_CODES.has(code)) return true;
  const message = String((err as Error | null)?.message ?? '');
  return /Knex: Timeout acquiring a connection|Connection terminated|connect ECONNREFUSED|timeout expired/i.test(message);
}

/** Maps a database error to a GatekeeperError; unknown errors pass through unchanged. */
export function mapDbError(err: unknown, what: string): unknown {
  const code = pgCode(err);
  if (code === PG_UNIQUE_VIOLATION) return new GatekeeperError('ECONFLICT', `${what} already exists`);
  if (code === PG_FOREIGN_KEY_VIOLATION) return new GatekeeperError('ENOTFOUND', `${what} refers to something that does not exist`);
  if (code === PG_CHECK_VIOLATION) return new GatekeeperError('EVALIDATION', `${what} is not valid`);
  if (isConnectionError(err)) return new GatekeeperError('EDATABASE', `the governance database is unavailable: ${(err as Error).message}`);
  return err;
}

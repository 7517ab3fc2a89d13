import { GatekeeperError } from '../core/errors';
import { shownValue } from '../core/text';

/** Keyset pagination on a numeric id: the cursor is the last id seen, opaque to clients. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const MAX_PAGE_SIZE = 500;

/**
 * The largest id of a column. PostgreSQL refuses (22003) a comparison with a value beyond the
 * column's type, so ids and cursors are checked against it before any query: `integer`
 * (`increments`) columns, and `bigint` ones as far as a JavaScript number is exact.
 */
export const INT4_MAX = 2_147_483_647;
export const INT8_SAFE_MAX = Number.MAX_SAFE_INTEGER;

/** Echoes a client's value in a message: short, whatever it was. */
export function shown(value: unknown): string {
  return shownValue(value, 40);
}

export function encodeCursor(id: number | string): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

/**
 * The id a cursor stands for. Anything but a cursor this server wrote, for an id within the
 * column's range (`max`), is a 400 EVALIDATION: never a query PostgreSQL would refuse.
 */
export function decodeCursor(cursor: unknown, max: number = INT4_MAX): number | undefined {
  if (cursor === undefined || cursor === null || cursor === '') return undefined;
  const invalid = () => new GatekeeperError('EVALIDATION', `'${shown(cursor)}' is not a valid cursor; pass the nextCursor of the previous page, or no cursor for the first page`);
  if (typeof cursor !== 'string' || cursor.length > 40 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const match = /^id:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || BigInt(match[1]) > BigInt(max)) throw invalid();
  return Number(match[1]);
}

export function clampLimit(limit: unknown, fallback = 100): number {
  if (limit === undefined || limit === null || limit === '') return fallback;
  const n = typeof limit === 'number' ? limit : typeof limit === 'string' && /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw new GatekeeperError('EVALIDATION', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}. Ask for fewer, and follow the next cursor for the rest`);
  }
  return n;
}

/**
 * A row id from a path or body (`/approvals/:id`): a whole number from 1 to the largest id of
 * its column (`max`). Anything else (`abc`, `-1`, `1.5`, `0x10`, beyond the column's range)
 * is a 400 EVALIDATION, never a query PostgreSQL would refuse.
 */
export function parseRowId(value: unknown, max: number = INT4_MAX): number {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,20}$/.test(value) && BigInt(value) <= BigInt(max)
        ? Number(value)
        : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new GatekeeperError('EVALIDATION', `'${shown(value)}' is not a valid id; ids are whole numbers from 1 to ${max}`);
  }
  return n;
}

/** Fetch limit+1 rows, return limit of them and a cursor if there were more. */
export function toPage<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? encodeCursor(items[items.length - 1].id) : null;
  return { items, nextCursor };
}

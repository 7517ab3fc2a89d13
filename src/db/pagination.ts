import { GatekeeperError } from '../core/errors';

/** Keyset pagination on a numeric id: the cursor is the last id seen, opaque to clients. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const MAX_PAGE_SIZE = 500;

export function encodeCursor(id: number | string): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^id:(\d{1,18})$/.exec(text);
  if (!match) throw new GatekeeperError('EVALIDATION', `'${cursor}' is not a valid cursor`);
  return Number(match[1]);
}

export function clampLimit(limit: unknown, fallback = 100): number {
  if (limit === undefined || limit === null || limit === '') return fallback;
  const n = Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw new GatekeeperError('EVALIDATION', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return n;
}

/** Fetch limit+1 rows, return limit of them and a cursor if there were more. */
export function toPage<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? encodeCursor(items[items.length - 1].id) : null;
  return { items, nextCursor };
}

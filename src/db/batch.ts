/**
 * PostgreSQL takes at most 65,535 bind parameters in one statement. Every multi-row insert
 * and every `IN (...)` list built from client input goes in slices of at most this many rows
 * (or values), so no statement comes near that limit whatever the input.
 */
export const ROWS_PER_STATEMENT = 1000;

/** `items` in slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

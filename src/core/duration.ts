import { parseIsoDate } from './dates';
import { GatekeeperError } from './errors';

const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** The longest wait a Node timer can hold (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** `90s`, `30m`, `12h`, `3d`, `2w` -> milliseconds. `0` is zero. */
export function parseDuration(text: unknown): number {
  if (text === 0 || text === '0') return 0;
  const match = typeof text === 'string' ? /^(\d{1,6})([smhdw])$/.exec(text.trim()) : null;
  if (!match) {
    throw new GatekeeperError('EVALIDATION', `'${String(text)}' is not a duration; use a number and a unit, e.g. 90m, 12h, 30d or 2w`);
  }
  return Number(match[1]) * UNITS[match[2]];
}

/** An expiry given as an ISO date (strict: see dates.ts) or a duration from now; null when absent. */
export function parseExpiry(input: { expiresAt?: unknown; expiresIn?: unknown }, now: number): Date | null {
  if (input.expiresIn !== undefined && input.expiresIn !== null && input.expiresIn !== '') {
    const ms = parseDuration(input.expiresIn);
    if (ms <= 0) throw new GatekeeperError('EVALIDATION', 'an expiry must lie in the future. Give a later date, or a duration like 30d');
    return new Date(now + ms);
  }
  if (input.expiresAt === undefined || input.expiresAt === null || input.expiresAt === '') return null;
  const date = parseIsoDate(input.expiresAt, 'expiresAt');
  if (date.getTime() <= now) throw new GatekeeperError('EVALIDATION', 'an expiry must lie in the future. Give a later date, or a duration like 30d');
  return date;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `50mb`, `256kb`, `1gb`, `1048576` -> bytes. */
export function parseSize(text: unknown): number {
  const match = typeof text === 'string' || typeof text === 'number' ? /^(\d{1,12})(b|kb|mb|gb)?$/i.exec(String(text).trim()) : null;
  if (!match) throw new GatekeeperError('EVALIDATION', `'${String(text)}' is not a size; use a number and a unit, e.g. 256mb`);
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()];
}

/** 5 hours, 3 days, 90 minutes: for messages. */
export function formatDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size) {
      const n = Math.floor(ms / size);
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return 'moments';
}

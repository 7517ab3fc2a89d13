import { GatekeeperError } from './errors';
import { shownValue } from './text';

/**
 * The one parser for a date a client gives (an expiry, an audit filter's since and until):
 * strict ISO 8601, as `Date.toISOString()` writes it and `<input type="date">` sends it.
 *
 * - a date, `2027-01-31`: midnight UTC at its start;
 * - a date and time with `Z` or an offset, `2027-01-31T12:00Z`, `2027-01-31T12:00:00.000+02:00`
 *   (seconds and up to 9 fractional digits optional; milliseconds are kept).
 *
 * Refused: dates the calendar does not have (`2030-02-30`, which `new Date` rolls over to March
 * 2nd), a time without `Z` or an offset (whose meaning would be the server's time zone), other
 * formats `new Date` happens to read (`Tue, 01 Jan 2030 00:00:00 GMT`, `2030`, `0`, `-1`), and
 * instants outside the years 1 to 9999 (what PostgreSQL's timestamptz and every client hold).
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The earliest and latest instants a date may name: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
export const EARLIEST_DATE = utc(1, 1, 1);
export const LATEST_DATE = utc(10000, 1, 1) - 1;

const GIVE = 'Give an ISO 8601 date such as 2027-01-31, or a date-time with Z or an offset such as 2027-01-31T12:00:00Z';

function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  // Date.UTC reads the years 0 to 99 as 1900 to 1999; setUTCFullYear does not.
  const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  d.setUTCFullYear(year);
  return d.getTime();
}

function daysIn(year: number, month: number): number {
  return new Date(utc(year, month + 1, 1) - 86_400_000).getUTCDate();
}

export function parseIsoDate(value: unknown, field: string): Date {
  const invalid = (what: string) => new GatekeeperError('EVALIDATION', `${field} ${what}`, { field });
  const text = typeof value === 'string' ? value : undefined;
  const match = text === undefined ? null : ISO.exec(text);
  if (!match) {
    const time = text !== undefined && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text);
    throw invalid(
      time
        ? `'${shownValue(text, 40)}' has a time without a time zone. Add Z (UTC) or an offset such as +02:00, e.g. 2027-01-31T12:00:00Z`
        : `${typeof value === 'string' ? `'${shownValue(value, 40)}'` : shownValue(value, 40)} is not an ISO 8601 date. ${GIVE}`,
    );
  }
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1) throw invalid(`'${text}' lies before the year 1. ${GIVE}, in the years 1 to 9999`);
  if (month < 1 || month > 12) throw invalid(`'${text}' has no month ${mo}: months are 01 to 12. ${GIVE}`);
  const days = daysIn(year, month);
  if (day < 1 || day > days) throw invalid(`'${text}' is not a date in the calendar: ${y}-${mo} has the days 01 to ${days}. ${GIVE}`);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (hour > 23 || minute > 59 || second > 59) throw invalid(`'${text}' is not a time of day: 00:00:00 to 23:59:59. ${GIVE}`);
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) throw invalid(`'${text}' has no valid offset: +00:00 to +23:59, or Z. ${GIVE}`);
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const at = utc(year, month, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  if (at < EARLIEST_DATE || at > LATEST_DATE) throw invalid(`'${text}' lies outside the years 1 to 9999. ${GIVE}, in those years`);
  return new Date(at);
}

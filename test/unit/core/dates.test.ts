import { EARLIEST_DATE, LATEST_DATE, parseIsoDate } from '../../../src/core/dates';
import { parseExpiry } from '../../../src/core/duration';
import { caught } from '../../support/assert';

describe('parseIsoDate: strict ISO 8601', () => {
  it.each([
    ['2027-01-31', '2027-01-31T00:00:00.000Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['2027-01-31T12:00Z', '2027-01-31T12:00:00.000Z'],
    ['2027-01-31T12:00:05Z', '2027-01-31T12:00:05.000Z'],
    ['2027-01-31T12:00:05.123456789Z', '2027-01-31T12:00:05.123Z'],
    ['2027-01-31T12:00:00+02:00', '2027-01-31T10:00:00.000Z'],
    ['2027-01-31T00:30:00-01:00', '2027-01-31T01:30:00.000Z'],
    ['0001-01-01', '0001-01-01T00:00:00.000Z'],
    ['0050-06-01', '0050-06-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseIsoDate(text, 'at').toISOString()).toBe(iso);
  });

  it('bounds the years 1 to 9999 exactly', () => {
    expect(EARLIEST_DATE).toBe(parseIsoDate('0001-01-01T00:00:00Z', 'at').getTime());
    expect(LATEST_DATE).toBe(parseIsoDate('9999-12-31T23:59:59.999Z', 'at').getTime());
  });

  it.each(['2030-02-30', '2027-02-29', '2027-04-31', '2027-00-10', '2027-13-01', '2027-01-00'])('refuses %s, a date the calendar does not have', (text) => {
    const err = caught(() => parseIsoDate(text, 'expiresAt'));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toMatch(/^expiresAt '.+' (is not a date in the calendar|has no month)/);
    expect(err.message).toContain('Give an ISO 8601 date such as 2027-01-31');
  });

  it.each([
    'Tue, 01 Jan 2030 00:00:00 GMT',
    '2030',
    '2030-01',
    '0',
    '-1',
    '20300101',
    '2030-1-1',
    ' 2030-01-01',
    '2030-01-01 12:00Z',
    '2030-01-01t12:00z',
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00.000Z',
    '2030-01-01T24:00Z',
    '2030-01-01T12:60Z',
    '2030-01-01T12:00:60Z',
    '2030-01-01T12:00+24:00',
    '0000-01-01',
    '0001-01-01T00:00+00:01',
    '9999-12-31T23:59:59-00:01',
  ])('refuses %j', (text) => {
    const err = caught(() => parseIsoDate(text, 'since'));
    expect([text, err.code, (err as { details?: unknown }).details]).toEqual([text, 'EVALIDATION', { field: 'since' }]);
    expect(err.message).toMatch(/^since /);
  });

  it('refuses a time without a time zone, saying to add Z or an offset', () => {
    expect(caught(() => parseIsoDate('2030-01-01T12:00', 'until')).message).toBe(
      "until '2030-01-01T12:00' has a time without a time zone. Add Z (UTC) or an offset such as +02:00, e.g. 2027-01-31T12:00:00Z",
    );
  });

  it('refuses what is not text', () => {
    for (const value of [0, 20300101, true, {}, [], null]) expect(caught(() => parseIsoDate(value, 'at')).code).toBe('EVALIDATION');
  });
});

describe('parseExpiry reads expiresAt strictly', () => {
  const NOW = Date.UTC(2024, 5, 1);
  it('refuses a rolled-over date and loose formats', () => {
    for (const expiresAt of ['2030-02-30', 'Tue, 01 Jan 2030 00:00:00 GMT', '2030', 2030]) {
      expect(caught(() => parseExpiry({ expiresAt }, NOW)).message).toMatch(/^expiresAt /);
    }
  });
  it('accepts the last millisecond of the year 9999', () => {
    expect(parseExpiry({ expiresAt: '9999-12-31T23:59:59.999Z' }, NOW)?.toISOString()).toBe('9999-12-31T23:59:59.999Z');
  });
});

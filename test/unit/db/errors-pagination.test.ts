import { GatekeeperError } from '../../../src/core/errors';
import { chunks } from '../../../src/db/batch';
import { databaseFailure, isConnectionError, isDeadlineError, isRowError, mapDbError } from '../../../src/db/errors';
import { clampLimit, decodeCursor, encodeCursor, INT4_MAX, INT8_SAFE_MAX, parseRowId } from '../../../src/db/pagination';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as GatekeeperError).code;
  }
  return undefined;
};

describe('database errors', () => {
  it('never takes our not-found for a lost database', () => {
    const notFound = new GatekeeperError('ENOTFOUND', 'there is no approval 999999');
    expect(isConnectionError(notFound)).toBe(false);
    expect(mapDbError(notFound, 'the approval')).toBe(notFound);
    // The same from another copy of the errors module (the plugins load the build output).
    const foreign = Object.assign(new Error('there is no ban 5'), { name: 'GatekeeperError', code: 'ENOTFOUND' });
    expect(isConnectionError(foreign)).toBe(false);
    expect(mapDbError(foreign, 'the ban')).toBe(foreign);
  });

  it('passes every GatekeeperError through unchanged', () => {
    for (const code of ['ECONFLICT', 'EVALIDATION', 'EFORBIDDEN', 'EDATABASE'] as const) {
      const err = new GatekeeperError(code, 'x');
      expect(mapDbError(err, 'it')).toBe(err);
    }
  });

  it('still knows a database host that does not resolve, and a refused connection', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND db.internal'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', errno: -3008 });
    expect(isConnectionError(dns)).toBe(true);
    expect((mapDbError(dns, 'the approval') as GatekeeperError).code).toBe('EDATABASE');
    expect((mapDbError(Object.assign(new Error('terminating connection'), { code: '57P01' }), 'x') as GatekeeperError).code).toBe('EDATABASE');
  });

  it("takes pg's read timeout (no answer from a hung link), as knex words it, for the deadline, and nothing else that mentions it", () => {
    const timeout = new Error('select * from "users" where "username" = $1 - Query read timeout');
    expect(isDeadlineError(timeout)).toBe(true);
    expect(isDeadlineError(new Error('Query read timeout'))).toBe(true);
    expect(databaseFailure(timeout)).toMatchObject({ code: 'EDATABASE', message: expect.stringMatching(/^the governance database sent no answer in time \(GATEKEEPER_DATABASE_TIMEOUT\): the connection to it may be hung/) });
    expect(isDeadlineError(new Error('Query read timeout of the feed'))).toBe(false);
    expect(isDeadlineError(Object.assign(new Error('x - Query read timeout'), { code: '22P02' }))).toBe(false);
    expect(isDeadlineError(new GatekeeperError('EVALIDATION', 'Query read timeout'))).toBe(false);
  });

  it('knows the failures one row of a statement can cause on its own', () => {
    for (const code of ['22P02', '22P05', '22001', '23505', '23514', '54000']) expect([code, isRowError(Object.assign(new Error(code), { code }))]).toEqual([code, true]);
    for (const code of ['57014', '55P03', '08006', '42P01', 'ECONNRESET', undefined]) expect([code, isRowError(Object.assign(new Error(String(code)), { code }))]).toEqual([code, false]);
  });

  it("maps the database's refusals of a value to client errors", () => {
    const outOfRange = Object.assign(new Error('value "99999999999" is out of range for type integer'), { code: '22003' });
    expect((mapDbError(outOfRange, 'the approval') as GatekeeperError).code).toBe('EVALIDATION');
    const nul = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    expect((mapDbError(nul, 'the ban') as GatekeeperError).code).toBe('EVALIDATION');
    expect((mapDbError(Object.assign(new Error('index row size 3000 exceeds maximum'), { code: '54000' }), 'x') as GatekeeperError).code).toBe('EVALIDATION');
    expect((mapDbError(Object.assign(new Error('dup'), { code: '23505' }), 'x') as GatekeeperError).code).toBe('ECONFLICT');
    const other = new TypeError('a bug');
    expect(mapDbError(other, 'x')).toBe(other);
  });
});

describe('cursors, ids and limits', () => {
  it('round-trips cursors within the column range', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    expect(decodeCursor(encodeCursor(INT4_MAX))).toBe(INT4_MAX);
    expect(decodeCursor(encodeCursor('99999999999'), INT8_SAFE_MAX)).toBe(99999999999);
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(decodeCursor('')).toBeUndefined();
  });

  it('refuses malformed and out-of-range cursors with EVALIDATION', () => {
    const bad = [
      'abc',
      '-1',
      '!!',
      'a'.repeat(100),
      encodeCursor(INT4_MAX + 1),
      encodeCursor('99999999999'),
      encodeCursor('-1'),
      encodeCursor('NaN'),
      encodeCursor('1.5'),
      encodeCursor('9'.repeat(19)),
      encodeCursor('9'.repeat(40)),
      Buffer.from('id:1\n').toString('base64url'),
    ];
    for (const cursor of bad) expect([cursor, codeOf(() => decodeCursor(cursor))]).toEqual([cursor, 'EVALIDATION']);
    expect(codeOf(() => decodeCursor(['a', 'b']))).toBe('EVALIDATION');
    expect(codeOf(() => decodeCursor(encodeCursor(Number.MAX_SAFE_INTEGER + 2), INT8_SAFE_MAX))).toBe('EVALIDATION');
  });

  it('takes ids from 1 to the column maximum only', () => {
    expect(parseRowId('1')).toBe(1);
    expect(parseRowId('007')).toBe(7);
    expect(parseRowId(String(INT4_MAX))).toBe(INT4_MAX);
    expect(parseRowId(12)).toBe(12);
    for (const bad of ['abc', '-1', '0', '1.5', '99999999999999999999', String(INT4_MAX + 1), '0x10', '1e3', '', ' 1', '\u0000', 1.5, -3, NaN, Infinity, null, undefined, {}]) {
      expect([bad, codeOf(() => parseRowId(bad))]).toEqual([bad, 'EVALIDATION']);
    }
    expect(parseRowId('99999999999', INT8_SAFE_MAX)).toBe(99999999999);
  });

  it('takes limits from 1 to 500', () => {
    expect(clampLimit(undefined)).toBe(100);
    expect(clampLimit('500')).toBe(500);
    for (const bad of ['0', '501', '-1', 'abc', '1e2', ' 5', '99999999999999999999']) expect([bad, codeOf(() => clampLimit(bad))]).toEqual([bad, 'EVALIDATION']);
  });

  it('cuts lists into statements of at most 1,000 rows', () => {
    const parts = chunks(Array.from({ length: 2501 }, (_, i) => i));
    expect(parts.map((p) => p.length)).toEqual([1000, 1000, 501]);
    expect(parts.flat()).toHaveLength(2501);
    expect(chunks([])).toEqual([]);
  });
});

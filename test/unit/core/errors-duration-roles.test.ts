import {
  asGatekeeperError,
  conflict,
  errorBody,
  ErrorCodes,
  forbidden,
  GatekeeperError,
  isErrorCode,
  notFound,
  statusOf,
  validation,
} from '../../../src/core/errors';
import { parseDuration, parseExpiry } from '../../../src/core/duration';
import { can, isRole, Permission, Role, ROLES } from '../../../src/core/roles';
import { caught } from '../../support/assert';

const NOW = Date.UTC(2024, 5, 1, 0, 0, 0);


describe('errors', () => {
  describe('errorBody', () => {
    it('cuts a message at MAX_BODY_MESSAGE characters, in its middle: the next step at its end survives', () => {
      const body = errorBody('EVALIDATION', 'x'.repeat(200_000));
      expect(body.error).toHaveLength('[EVALIDATION] '.length + 2000);
      expect(body.error).toMatch(/^\[EVALIDATION\] x+\.\.\.x+$/);
      expect(errorBody('EVALIDATION', 'y'.repeat(2000)).error).toBe(`[EVALIDATION] ${'y'.repeat(2000)}`);
      const long = errorBody('EADVISORY', `p@1.0.0: GHSA-1 (critical) ${'Z'.repeat(3000)}. Use a fixed version; run 'gatekeeper explain p@1.0.0'`).error;
      expect(long).toMatch(/^\[EADVISORY\] p@1\.0\.0: GHSA-1 \(critical\) Z+\.\.\.Z+\. Use a fixed version; run 'gatekeeper explain p@1\.0\.0'$/);
    });

    it('keeps the body one line: no control characters, line separators or bidi controls, whatever the message quoted', () => {
      const error = errorBody('EDEPRECATED', 'p@1.0.0 is deprecated: \u001b[31mRED\u001b[0m\u0000NUL\r\nnpm error 403 Injected\u2028x\u202e. Next').error;
      expect(error).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
      expect(error).toMatch(/^\[EDEPRECATED\] p@1\.0\.0 is deprecated: +RED +NUL +npm error 403 Injected x\. Next$/);
    });

    it('puts the code in brackets before the message and repeats it as code', () => {
      expect(errorBody('ENOTAPPROVED', 'left-pad@1.0.0 is not approved')).toEqual({
        error: '[ENOTAPPROVED] left-pad@1.0.0 is not approved',
        code: 'ENOTAPPROVED',
      });
    });

    it('includes details only when there are some', () => {
      expect(errorBody('ECONFLICT', 'taken', { id: 3 })).toEqual({ error: '[ECONFLICT] taken', code: 'ECONFLICT', details: { id: 3 } });
      expect(errorBody('ECONFLICT', 'taken', {})).not.toHaveProperty('details');
      expect(errorBody('ECONFLICT', 'taken', undefined)).not.toHaveProperty('details');
    });

    it('is what GatekeeperError.toBody returns', () => {
      const err = new GatekeeperError('EBANNED', 'evil@1.0.0 is banned', { rule: 'ban:3' });
      expect(err.toBody()).toEqual({ error: '[EBANNED] evil@1.0.0 is banned', code: 'EBANNED', details: { rule: 'ban:3' } });
    });
  });

  describe('statusOf', () => {
    it.each([
      ['ENOTAPPROVED', 403],
      ['EBANNED', 403],
      ['EPOLICYUNAVAILABLE', 503],
      ['EUNAUTHENTICATED', 401],
      ['EFORBIDDEN', 403],
      ['EVALIDATION', 400],
      ['EINVALIDNAME', 400],
      ['ENOTFOUND', 404],
      ['ECONFLICT', 409],
      ['EPAYLOADTOOLARGE', 413],
      ['EDATABASE', 503],
      ['EUPSTREAM', 502],
      ['EINTERNAL', 500],
    ] as const)('%s -> %i', (code, status) => {
      expect(statusOf(code)).toBe(status);
      expect(new GatekeeperError(code, 'x').status).toBe(status);
    });

    it('maps every code to an HTTP error status', () => {
      for (const code of Object.keys(ErrorCodes) as (keyof typeof ErrorCodes)[]) {
        expect(statusOf(code)).toBeGreaterThanOrEqual(400);
        expect(statusOf(code)).toBeLessThan(600);
      }
    });
  });

  describe('GatekeeperError', () => {
    it('is an Error with name, code, message and details', () => {
      const err = new GatekeeperError('ENOTFOUND', 'no such user', { user: 'x' });
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('GatekeeperError');
      expect(err.code).toBe('ENOTFOUND');
      expect(err.message).toBe('no such user');
      expect(err.details).toEqual({ user: 'x' });
    });

    it('has helpers for common codes', () => {
      expect(validation('bad', { f: 1 })).toMatchObject({ code: 'EVALIDATION', message: 'bad', details: { f: 1 } });
      expect(notFound('gone')).toMatchObject({ code: 'ENOTFOUND', message: 'gone' });
      expect(conflict('dup')).toMatchObject({ code: 'ECONFLICT', message: 'dup' });
      expect(forbidden('no')).toMatchObject({ code: 'EFORBIDDEN', message: 'no' });
    });
  });

  describe('isErrorCode', () => {
    it('accepts known codes only', () => {
      expect(isErrorCode('EBANNED')).toBe(true);
      expect(isErrorCode('ENOPE')).toBe(false);
      expect(isErrorCode('toString')).toBe(false);
      expect(isErrorCode('__proto__')).toBe(false);
      expect(isErrorCode(403)).toBe(false);
    });
  });

  describe('asGatekeeperError', () => {
    it('returns a GatekeeperError unchanged', () => {
      const err = new GatekeeperError('EBANNED', 'x');
      expect(asGatekeeperError(err)).toBe(err);
    });

    it('recognises a plain object named GatekeeperError with a known code', () => {
      const foreign = { name: 'GatekeeperError', code: 'ENOTAPPROVED', message: 'not approved', details: { rule: 'mode:allowlist' } };
      const err = asGatekeeperError(foreign);
      expect(err).toBeInstanceOf(GatekeeperError);
      expect(err?.code).toBe('ENOTAPPROVED');
      expect(err?.message).toBe('not approved');
      expect(err?.details).toEqual({ rule: 'mode:allowlist' });
      expect(err?.status).toBe(403);
    });

    it('recognises an Error from another copy of the module', () => {
      class OtherGatekeeperError extends Error {
        code = 'EDATABASE';
        constructor(message: string) {
          super(message);
          this.name = 'GatekeeperError';
        }
      }
      const err = asGatekeeperError(new OtherGatekeeperError('db down'));
      expect(err?.code).toBe('EDATABASE');
      expect(err?.status).toBe(503);
    });

    it('does not recognise an unknown code', () => {
      expect(asGatekeeperError({ name: 'GatekeeperError', code: 'ENOPE', message: 'x' })).toBeUndefined();
    });

    it('does not recognise other errors or values', () => {
      expect(asGatekeeperError(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).toBeUndefined();
      expect(asGatekeeperError({ name: 'Error', code: 'EBANNED', message: 'x' })).toBeUndefined();
      expect(asGatekeeperError(null)).toBeUndefined();
      expect(asGatekeeperError(undefined)).toBeUndefined();
      expect(asGatekeeperError('GatekeeperError')).toBeUndefined();
    });
  });
});

describe('duration', () => {
  describe('parseDuration', () => {
    it.each([
      ['90s', 90_000],
      ['30m', 30 * 60_000],
      ['12h', 12 * 3_600_000],
      ['3d', 3 * 86_400_000],
      ['2w', 2 * 604_800_000],
      ['1s', 1000],
      [' 5m ', 5 * 60_000],
    ])('%j -> %i ms', (text, ms) => {
      expect(parseDuration(text)).toBe(ms);
    });

    it('accepts zero as a number or a string', () => {
      expect(parseDuration(0)).toBe(0);
      expect(parseDuration('0')).toBe(0);
    });

    it.each(['', '5', '1y', '1.5h', '-1d', 'h', '1 h', '1H', '1000000d', 'abc', '10ms'])('rejects %j with EVALIDATION', (text) => {
      const err = caught(() => parseDuration(text));
      expect(err.code).toBe('EVALIDATION');
      expect(err.message).toContain('is not a duration');
    });

    it('rejects non-strings other than 0', () => {
      expect(caught(() => parseDuration(5)).code).toBe('EVALIDATION');
      expect(caught(() => parseDuration(undefined)).code).toBe('EVALIDATION');
      expect(caught(() => parseDuration(null)).code).toBe('EVALIDATION');
    });
  });

  describe('parseExpiry', () => {
    it('is null when neither field is given', () => {
      expect(parseExpiry({}, NOW)).toBeNull();
      expect(parseExpiry({ expiresAt: null, expiresIn: null }, NOW)).toBeNull();
      expect(parseExpiry({ expiresAt: '', expiresIn: '' }, NOW)).toBeNull();
    });

    it('adds expiresIn to now', () => {
      expect(parseExpiry({ expiresIn: '30d' }, NOW)).toEqual(new Date(NOW + 30 * 86_400_000));
      expect(parseExpiry({ expiresIn: '1s' }, NOW)?.getTime()).toBe(NOW + 1000);
    });

    it('prefers expiresIn over expiresAt', () => {
      expect(parseExpiry({ expiresIn: '1h', expiresAt: '2099-01-01T00:00:00Z' }, NOW)?.getTime()).toBe(NOW + 3_600_000);
    });

    it('parses expiresAt as an ISO date', () => {
      expect(parseExpiry({ expiresAt: '2024-07-01T00:00:00Z' }, NOW)?.toISOString()).toBe('2024-07-01T00:00:00.000Z');
    });

    it('rejects an expiry in the past or exactly now', () => {
      const past = caught(() => parseExpiry({ expiresAt: '2024-05-31T23:59:59Z' }, NOW));
      expect(past.code).toBe('EVALIDATION');
      expect(past.message).toContain('must lie in the future');
      expect(caught(() => parseExpiry({ expiresAt: new Date(NOW).toISOString() }, NOW)).code).toBe('EVALIDATION');
    });

    it('rejects a zero duration', () => {
      expect(caught(() => parseExpiry({ expiresIn: '0' }, NOW)).message).toContain('must lie in the future');
      expect(caught(() => parseExpiry({ expiresIn: 0 }, NOW)).code).toBe('EVALIDATION');
    });

    it('rejects an invalid date or duration', () => {
      const notDate = caught(() => parseExpiry({ expiresAt: 'next tuesday' }, NOW));
      expect(notDate.code).toBe('EVALIDATION');
      expect(notDate.message).toContain("'next tuesday' is not an ISO 8601 date");
      expect(caught(() => parseExpiry({ expiresIn: 'forever' }, NOW)).code).toBe('EVALIDATION');
    });
  });
});

describe('roles', () => {
  const matrix: Record<Role, Record<Permission, boolean>> = {
    admin: { install: true, explain: true, publish: true, govern: true },
    publisher: { install: true, explain: true, publish: true, govern: false },
    developer: { install: true, explain: true, publish: false, govern: false },
    reader: { install: true, explain: true, publish: false, govern: false },
  };

  it('lists the four roles', () => {
    expect([...ROLES].sort()).toEqual(['admin', 'developer', 'publisher', 'reader']);
  });

  for (const role of Object.keys(matrix) as Role[]) {
    for (const permission of Object.keys(matrix[role]) as Permission[]) {
      it(`${role} ${matrix[role][permission] ? 'may' : 'may not'} ${permission}`, () => {
        expect(can(role, permission)).toBe(matrix[role][permission]);
      });
    }
  }

  it('grants nothing without a role', () => {
    for (const permission of ['install', 'explain', 'publish', 'govern'] as Permission[]) {
      expect(can(undefined, permission)).toBe(false);
    }
  });

  it('isRole accepts known roles only', () => {
    expect(isRole('admin')).toBe(true);
    expect(isRole('reader')).toBe(true);
    expect(isRole('root')).toBe(false);
    expect(isRole('Admin')).toBe(false);
    expect(isRole(undefined)).toBe(false);
  });
});

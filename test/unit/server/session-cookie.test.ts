import type { IncomingMessage } from 'node:http';
import { clearedSessionCookie, sessionCookie, sessionCookieOf } from '../../../src/server/registry/session-cookie';
import { csrfMatches, csrfTokenFor, isSessionValue } from '../../../src/services/sessions';

const req = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } }) as IncomingMessage;

describe('the console session cookie and CSRF token', () => {
  it('reads gk_session among other cookies, and nothing malformed', () => {
    expect(sessionCookieOf(req())).toBeUndefined();
    expect(sessionCookieOf(req('a=1; gk_session=gks_abc-DEF_12; b=2'))).toBe('gks_abc-DEF_12');
    expect(sessionCookieOf(req('xgk_session=gks_x'))).toBeUndefined();
    expect(sessionCookieOf(req('gk_session=gks_a"b'))).toBeUndefined();
    expect(sessionCookieOf(req(`gk_session=${'a'.repeat(201)}`))).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite=Strict, expiring cookie under /-/gatekeeper/, Secure behind https', () => {
    expect(sessionCookie({ protocol: 'http' }, 'gks_x', 3_600_000)).toBe('gk_session=gks_x; Path=/-/gatekeeper/; Max-Age=3600; HttpOnly; SameSite=Strict');
    expect(sessionCookie({ protocol: 'https' }, 'gks_x', 1000)).toMatch(/; Secure$/);
    expect(clearedSessionCookie({ protocol: 'http' })).toContain('Max-Age=0');
  });

  it('derives a CSRF token that only matches its own session', () => {
    const token = csrfTokenFor('gks_one');
    expect(token).not.toContain('gks_one');
    expect(csrfMatches('gks_one', token)).toBe(true);
    expect(csrfMatches('gks_two', token)).toBe(false);
    expect(csrfMatches('gks_one', undefined)).toBe(false);
    expect(csrfMatches('gks_one', '')).toBe(false);
    expect(csrfMatches('gks_one', `${token}x`)).toBe(false);
    expect(isSessionValue('gks_one')).toBe(true);
    expect(isSessionValue('gk_one')).toBe(false);
  });
});

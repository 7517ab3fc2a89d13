import type { IncomingMessage } from 'node:http';
import { clearedSessionCookie, clearedStrayCookies, CookieSite, cookieOf, sessionCookie, sessionCookiesOf, strayPaths } from '../../../src/server/registry/session-cookie';
import { csrfMatches, csrfTokenFor, isSessionValue } from '../../../src/services/sessions';

const req = (cookie?: string, url = '/-/gatekeeper/v1/session') => ({ url, headers: cookie === undefined ? {} : { cookie } }) as IncomingMessage;
const site = (publicUrl?: string, protocol = 'http'): CookieSite => ({ settings: { publicUrl }, requestProtocol: () => protocol });
const http = site();
const https = site('https://registry.example/');

describe('the console session cookie and CSRF token', () => {
  it('reads gk_session among other cookies, and nothing malformed', () => {
    expect(sessionCookiesOf(http, req())).toEqual({ kind: 'none' });
    expect(sessionCookiesOf(http, req('a=1; gk_session=gks_abc-DEF_12; b=2'))).toEqual({ kind: 'one', value: 'gks_abc-DEF_12' });
    expect(sessionCookiesOf(http, req('xgk_session=gks_x'))).toEqual({ kind: 'none' });
    expect(sessionCookiesOf(http, req('gk_session=gks_a"b'))).toEqual({ kind: 'none' });
    expect(sessionCookiesOf(http, req(`gk_session=${'a'.repeat(201)}`))).toEqual({ kind: 'none' });
  });

  it('takes none of several different session cookies, malformed or not, whichever comes first', () => {
    expect(sessionCookiesOf(http, req('gk_session=gks_planted; gk_session=gks_ours'))).toEqual({ kind: 'several', count: 2 });
    expect(sessionCookiesOf(http, req('gk_session=bad"value; gk_session=gks_ours'))).toEqual({ kind: 'several', count: 2 });
    // The same value twice leaves nothing to choose.
    expect(sessionCookiesOf(http, req('gk_session=gks_ours; gk_session=gks_ours'))).toEqual({ kind: 'one', value: 'gks_ours' });
    // Over https only __Host-gk_session counts: a plain gk_session (another port, a subdomain) is never read.
    expect(sessionCookiesOf(https, req('gk_session=gks_planted; __Host-gk_session=gks_ours'))).toEqual({ kind: 'one', value: 'gks_ours' });
    expect(sessionCookiesOf(https, req('gk_session=gks_planted'))).toEqual({ kind: 'none' });
    // The other cookies of ours (the SSO sign-in's) take none of several either.
    expect(cookieOf(req('gk_sso=aaa; gk_sso=bbb'), 'gk_sso', /^[a-z]+$/)).toBeUndefined();
    expect(cookieOf(req('gk_sso=aaa'), 'gk_sso', /^[a-z]+$/)).toBe('aaa');
  });

  it('sets an HttpOnly, SameSite=Strict, expiring cookie under /-/gatekeeper/ over http, and clears strays at every path the API could receive one', () => {
    const set = sessionCookie(http, req(), 'gks_x', 3_600_000);
    expect(set[set.length - 1]).toBe('gk_session=gks_x; Path=/-/gatekeeper/; Max-Age=3600; HttpOnly; SameSite=Strict');
    const cleared = set.slice(0, -1).map((c) => /Path=([^;]+)/.exec(c)![1]);
    expect(cleared.sort()).toEqual(['/', '/-', '/-/', '/-/gatekeeper', '/-/gatekeeper/v1', '/-/gatekeeper/v1/', '/-/gatekeeper/v1/session'].sort());
    for (const c of set.slice(0, -1)) expect(c).toMatch(/^gk_session=; Path=\S+; Max-Age=0; HttpOnly; SameSite=Strict$/);
    const out = clearedSessionCookie(http, req());
    expect(out).toContain('gk_session=; Path=/-/gatekeeper/; Max-Age=0; HttpOnly; SameSite=Strict');
    expect(out).toHaveLength(8);
    // A refusal for several cookies clears them at the refused request's paths too, never ours.
    const strays = clearedStrayCookies(http, req(undefined, '/-/gatekeeper/v1/users/bob?x=1')).map((c) => /Path=([^;]+)/.exec(c)![1]);
    expect(strays).toEqual(expect.arrayContaining(['/-/gatekeeper/v1/users', '/-/gatekeeper/v1/users/', '/-/gatekeeper/v1/users/bob']));
    expect(strays).not.toContain('/-/gatekeeper/');
    // Paths that cannot go into a header add nothing; paths no API request is sent with neither.
    expect(strayPaths('/-/gatekeeper/v1/a;b')).toEqual(strayPaths('/'));
    expect(strayPaths('/-/v1/login/sso/callback')).not.toContain('/-/v1/');
  });

  it('is __Host-gk_session, Secure, at Path=/ whenever the public URL is https or the request came over TLS', () => {
    for (const s of [https, site(undefined, 'https'), site('http://plain.example/', 'https')]) {
      expect(sessionCookie(s, req(), 'gks_x', 1000)).toEqual(['__Host-gk_session=gks_x; Path=/; Max-Age=1; HttpOnly; SameSite=Strict; Secure']);
      expect(clearedSessionCookie(s, req())).toEqual(['__Host-gk_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure']);
    }
    // An https public URL behind a proxy that speaks http to us: Secure all the same.
    expect(sessionCookie(site('https://registry.example/', 'http'), req(), 'gks_x', 1000)[0]).toMatch(/; Secure$/);
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

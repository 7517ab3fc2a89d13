/**
 * The web console's sign-in through the identity provider, in a real browser (Debian's
 * Chromium driven by playwright-core): "Sign in with <IdP>" leads through a real OpenID
 * Provider's login and consent pages (oidc-provider in its own process) back to the page that
 * asked, in a console session whose role comes from the user's group.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { Client } from 'pg';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium';
import { startTestIdp, TestIdp } from '../support/oidc';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/ui');
const UI = '-/gatekeeper/ui/';
const CLIENT = { clientId: 'gatekeeper-console', clientSecret: 'a-console-client-secret-for-tests' };

describe('the console signs in through the identity provider (Chromium)', () => {
  let upstream: FixtureRegistry;
  let idp: TestIdp;
  let t: TestGatekeeper;
  let browser: Browser;

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    upstream = await startFixtureRegistry([{ name: 'sso-pkg', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    idp = await startTestIdp();
    t = await startTestGatekeeper({
      upstream: upstream.url,
      settings: {
        ssoIssuer: idp.issuer,
        ssoClientId: CLIENT.clientId,
        ssoClientSecret: CLIENT.clientSecret,
        ssoName: 'Test IdP',
        ssoScopes: 'openid profile email groups',
        ssoPublisherGroups: ['gk-publishers'],
        ssoReaderGroups: ['gk-readers'],
        ssoRefuseUnmapped: true,
      },
    });
    await idp.setup({ ...CLIENT, redirectUris: [new URL('-/v1/login/sso/callback', t.url).toString()] });
    await idp.user('erin-sub', { username: 'erin', password: 'erin-pw', email: 'erin@example.test', groups: ['gk-publishers'] });
    await idp.user('frank-sub', { username: 'frank', password: 'frank-pw', groups: ['sales'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await idp?.close();
    await upstream?.close();
  });

  it('"Sign in with Test IdP" leads through the IdP back to the page that asked, signed in with the group\'s role', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const asked = `${t.url}${UI}packages/sso-pkg?version=1.0.0`;
    await page.goto(asked);
    const button = page.getByRole('link', { name: 'Sign in with Test IdP' });
    await button.waitFor();
    // The password form stays beside it (password_login is on).
    await page.getByLabel('Password').waitFor();
    const problems = await page.evaluate<string[]>(`Array.from(document.querySelectorAll('a[href], button')).filter((el) => !(el.textContent || '').trim()).map((el) => el.outerHTML)`);
    expect(problems).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in-sso.png'), fullPage: true });

    await button.click();
    // The IdP's own pages.
    await page.getByRole('heading', { name: 'Sign in to the test IdP' }).waitFor();
    expect(page.url().startsWith(idp.url)).toBe(true);
    await page.getByLabel('Username').fill('erin');
    await page.getByLabel('Password').fill('erin-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();

    // Back in the console, on the page that asked, as erin the publisher.
    await page.getByText('Signed in as erin').waitFor();
    expect(await page.locator('header .who').textContent()).toContain('(publisher)');
    await page.getByRole('heading', { name: 'sso-pkg@1.0.0', exact: true }).waitFor();
    expect(page.url()).toBe(asked);

    const cookie = (await context.cookies()).find((c) => c.name === 'gk_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/-/gatekeeper/' });
    // The PKCE verifier's cookie is gone once the sign-in is done.
    expect((await context.cookies()).find((c) => c.name === 'gk_sso')).toBeUndefined();
    // The session is a console session of the SSO user, audited as such.
    const sessions = (await t.api('GET', '/tokens?username=erin')).body.items as Array<{ createdFrom: string; revokedAt: string | null }>;
    expect(sessions.filter((s) => s.createdFrom === 'console session' && !s.revokedAt)).toHaveLength(1);
    const signIns = (await t.api('GET', '/audit?action=user.sso_sign_in')).body.items as Array<{ details: Record<string, unknown> }>;
    expect(signIns.some((e) => e.details.username === 'erin' && e.details.kind === 'console' && e.details.role === 'publisher')).toBe(true);

    // Signing out ends the session like any other.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    await context.close();
  });

  it('a user in no mapped group is refused with a coded error, and no session is made', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}${UI}`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    await page.getByLabel('Username').fill('frank');
    await page.getByLabel('Password').fill('frank-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/-\/v1\/login\/sso\/callback/);
    const text = await page.locator('body').textContent();
    expect(text).toContain('[ESSOREFUSED] frank is in no group that gives a role here');
    expect((await context.cookies()).find((c) => c.name === 'gk_session')).toBeUndefined();
    await context.close();
  });

  it('the console start keeps only console paths as where to return (no open redirect)', async () => {
    const db = new Client({ connectionString: t.db.url });
    await db.connect();
    try {
      const cases: Array<[string, string]> = [
        ['https://evil.example/', '/-/gatekeeper/ui/'],
        ['//evil.example/x', '/-/gatekeeper/ui/'],
        ['/-/gatekeeper/ui//evil.example', '/-/gatekeeper/ui/'],
        ['/-/gatekeeper/ui/../../x', '/-/gatekeeper/ui/'],
        ['/elsewhere', '/-/gatekeeper/ui/'],
        ['/-/gatekeeper/ui/requests?mine=true', '/-/gatekeeper/ui/requests?mine=true'],
      ];
      for (const [next, kept] of cases) {
        const res = await fetch(new URL(`-/v1/login/sso/console?next=${encodeURIComponent(next)}`, t.url), { redirect: 'manual' });
        expect(res.status).toBe(302);
        expect(new URL(res.headers.get('location')!).origin).toBe(idp.url);
        const row = (await db.query("select next_path from sso_logins where kind = 'console' order by id desc limit 1")).rows[0];
        expect({ next, kept: row.next_path }).toEqual({ next, kept });
      }
    } finally {
      await db.end();
    }
  });
});

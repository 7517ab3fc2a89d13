/**
 * The web console against hostile pages, in a real browser (Debian's Chromium driven by
 * playwright-core) and a real gatekeeper: a page on another port of the same host plants a
 * session cookie of its own (cookies ignore ports), and links into the console carry a `next`
 * that leads elsewhere.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { ADMIN_PASSWORD, startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium';

const UI = '-/gatekeeper/ui/';

describe('the console against hostile pages (Chromium)', () => {
  let upstream: FixtureRegistry;
  let t: TestGatekeeper;
  let browser: Browser;
  /** Another origin on the gatekeeper's host: 127.0.0.1, another port. */
  let attacker: http.Server;
  let attackerUrl: string;
  /** The Set-Cookie the attacker's page answers with. */
  let planted = '';
  let mallorySession: string;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([]);
    t = await startTestGatekeeper({ upstream: upstream.url });
    await t.api('POST', '/users', { username: 'mallory', password: 'mallory-password', role: 'developer' });
    // Mallory's own console session, as she would get it by signing in anywhere.
    const res = await fetch(new URL('-/gatekeeper/v1/session', t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'mallory', password: 'mallory-password' }) });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('gk_session=gks_'))!;
    mallorySession = cookie.slice('gk_session='.length, cookie.indexOf(';'));
    attacker = http.createServer((_req, res) => {
      res.setHeader('set-cookie', planted);
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end('<!doctype html><title>a page on another port</title><p>Nothing to see.</p>');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    expect(new URL(attackerUrl).port).not.toBe(new URL(t.url).port);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await t?.close();
    await upstream?.close();
  });

  /** Waits until the console shows either someone signed in or its sign-in form; says which. */
  const consoleState = async (page: Page): Promise<string> => {
    const either = page.locator('header .who, h1:text-is("Sign in")').first();
    await either.waitFor();
    return (await either.textContent())?.replace(/\s+/g, ' ').trim() ?? '';
  };

  const signIn = async (page: Page, username: string, password: string) => {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${username}`).waitFor();
  };

  const sessionCookies = async (context: BrowserContext) => (await context.cookies()).filter((c) => c.name === 'gk_session').map((c) => c.path).sort();

  it('a session cookie planted at /-/gatekeeper/v1/ by a page on another port does not take over the admin\'s console', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(t.url + UI);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    // The other port's page sets gk_session with a more specific path: the browser sends it first.
    planted = `gk_session=${mallorySession}; Path=/-/gatekeeper/v1/; SameSite=Lax`;
    await page.goto(attackerUrl);
    expect(await sessionCookies(context)).toEqual(['/-/gatekeeper/', '/-/gatekeeper/v1/']);
    // Back in the console: not mallory's session; none is taken, and the console asks to sign in.
    await page.goto(t.url + UI);
    expect(await consoleState(page)).toBe('Sign in');
    // The refusal cleared the planted cookie; signing in again works and stays.
    expect(await sessionCookies(context)).toEqual(['/-/gatekeeper/']);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.reload();
    expect(await consoleState(page)).toBe('Signed in as admin (admin)');
    await context.close();
  });

  it('signing in clears a planted cookie the console would otherwise keep losing to', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Planted before any sign-in: a value that is no live session (revoked, expired, or garbage).
    planted = 'gk_session=gks_not-a-live-session; Path=/-/gatekeeper/v1/; SameSite=Lax';
    await page.goto(attackerUrl);
    await page.goto(t.url + UI);
    expect(await consoleState(page)).toBe('Sign in');
    await signIn(page, 'admin', ADMIN_PASSWORD);
    expect(await sessionCookies(context)).toEqual(['/-/gatekeeper/']);
    await page.reload();
    expect(await consoleState(page)).toBe('Signed in as admin (admin)');
    await context.close();
  });

  it("the sign-in page's ?next= goes on to console pages only: never another site, a javascript: URL, or a path outside the console", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const heading = async () => {
      const h1 = page.locator('main h1');
      await h1.waitFor();
      return (await h1.textContent())?.trim();
    };
    const cases: Array<[string, string, string]> = [
      ['//evil.test/', '/-/gatekeeper/ui/', 'Overview'],
      ['https://evil.test/', '/-/gatekeeper/ui/', 'Overview'],
      ['javascript:alert(document.domain)', '/-/gatekeeper/ui/', 'Overview'],
      ['/-/whoami', '/-/gatekeeper/ui/', 'Overview'],
      ['/-/gatekeeper/ui/%2e%2e/%2e%2e/-/whoami', '/-/gatekeeper/ui/', 'Overview'],
      ['/-/gatekeeper/ui/..%2f..%2f-%2fwhoami', '/-/gatekeeper/ui/', 'Overview'],
      ['/-/gatekeeper/ui/signin?next=/-/gatekeeper/ui/signin', '/-/gatekeeper/ui/', 'Overview'],
      ['/-/gatekeeper/ui/policy', '/-/gatekeeper/ui/policy', 'Policy'],
    ];
    // Signing in on the sign-in page, then going on.
    await page.goto(`${t.url}${UI}signin?next=${encodeURIComponent(cases[0][0])}`);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    expect([new URL(page.url()).origin, new URL(page.url()).pathname, await heading()]).toEqual([new URL(t.url).origin, '/-/gatekeeper/ui/', 'Overview']);
    // Already signed in: the sign-in page goes on at once.
    for (const [next, path, title] of cases) {
      await page.goto(`${t.url}${UI}signin?next=${encodeURIComponent(next)}`);
      const shown = await heading();
      expect({ next, origin: new URL(page.url()).origin, path: new URL(page.url()).pathname, shown }).toEqual({ next, origin: new URL(t.url).origin, path, shown: title });
    }
    await context.close();
  });

  it("a page on another origin cannot read the admin API's answers (no CORS for /-/gatekeeper/), not even the anonymous /health", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    planted = '';
    await page.goto(attackerUrl);
    const read = (url: string) =>
      page.evaluate(async (target) => {
        try {
          const res = await fetch(target);
          return `read ${res.status}: ${(await res.text()).slice(0, 40)}`;
        } catch (err) {
          return `refused: ${(err as Error).name}`;
        }
      }, url);
    expect(await read(new URL('-/gatekeeper/v1/health', t.url).toString())).toBe('refused: TypeError');
    expect(await read(new URL('-/gatekeeper/v1/sign-in', t.url).toString())).toBe('refused: TypeError');
    // npm's public routes stay readable from anywhere, as before.
    expect(await read(new URL('-/ping', t.url).toString())).toMatch(/^read 200/);
    await context.close();
  });
});

/**
 * The web console in a real browser: Debian's Chromium driven by playwright-core, against a
 * real gatekeeper (real PostgreSQL, Verdaccio, the fixture upstream) and the real npm CLI.
 * Screenshots of every page go to test-artifacts/ui/ (git-ignored); docs/ui/ holds a copy.
 */

import fs from 'node:fs';
import path from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { ADMIN_PASSWORD, loginToken, startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';
import { createNpmEnv, makeProject, NpmEnv } from '../support/npm';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function expectEventually(check: () => Promise<boolean>, what = 'the expected state'): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never reached ${what}`);
}

/**
 * Runs in the page: every form control has a label, every button a name, and all text a
 * contrast of at least 4.5:1 against its background (WCAG AA).
 */
const ACCESSIBILITY_CHECK = `(() => {
  const problems = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    if (!(el.labels && el.labels.length > 0) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) problems.push('unlabelled ' + describe(el));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!(el.textContent || '').trim() && !el.getAttribute('aria-label')) problems.push('nameless ' + describe(el));
  }
  const rgb = (c) => (c.match(/[0-9.]+/g) || []).map(Number);
  const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || el.classList.contains('sr-only') || el.classList.contains('skip')) continue;
    const hasText = Array.from(el.childNodes).some((n) => n.nodeType === 3 && (n.textContent || '').trim() !== '');
    if (!hasText) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const fg = luminance(rgb(style.color));
    const bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ' ' + describe(el));
  }
  return problems;
})()`;

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/ui');
const UI = '-/gatekeeper/ui/';

const FIXTURES = [
  { name: 'ui-app', versions: [{ version: '1.0.0', license: 'MIT', dependencies: { 'ui-lib': '^1.0.0' } }] },
  { name: 'ui-lib', versions: [{ version: '1.0.0', license: 'ISC' }] },
  { name: 'ui-ban', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
];

describe('the web console in Chromium', () => {
  let upstream: FixtureRegistry;
  let t: TestGatekeeper;
  let npm: NpmEnv;
  let browser: Browser;
  let devToken: string;

  /** Saves the page's screenshot, after checking its controls are labelled and its text has contrast. */
  const shot = async (page: Page, name: string) => {
    expect({ page: name, problems: await page.evaluate<string[]>(ACCESSIBILITY_CHECK) }).toEqual({ page: name, problems: [] });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };

  async function signIn(context: BrowserContext, username: string, password: string, url = t.url + UI): Promise<Page> {
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${username}`).waitFor();
    return page;
  }

  /** A request made with a cookie only, as another site's page would make it (no CSRF header). */
  const withCookie = (cookie: string, method: string, apiPath: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL(`-/gatekeeper/v1${apiPath}`, t.url), {
      method,
      headers: { cookie: `gk_session=${cookie}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const sessionCookie = async (context: BrowserContext) => {
    const cookie = (await context.cookies()).find((c) => c.name === 'gk_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/-/gatekeeper/' });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000);
    return cookie!.value;
  };

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    upstream = await startFixtureRegistry(FIXTURES);
    t = await startTestGatekeeper({ upstream: upstream.url });
    await t.api('POST', '/users', { username: 'dana', password: 'dana-password', role: 'developer' });
    await t.api('POST', '/users', { username: 'rita', password: 'rita-password', role: 'reader' });
    devToken = await loginToken(t.url, 'dana', 'dana-password');
    npm = await createNpmEnv(t.url);
    await npm.setToken(devToken);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    await npm?.cleanup();
    await t?.close();
    await upstream?.close();
  });

  it('sends browsers at the root to the console, and npm clients a 404 with a code', async () => {
    const browserRoot = await fetch(t.url, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
    expect(browserRoot.status).toBe(302);
    expect(browserRoot.headers.get('location')).toBe('/-/gatekeeper/ui/');
    const npmRoot = await fetch(t.url, { headers: { accept: 'application/json' } });
    expect(npmRoot.status).toBe(404);
    expect(((await npmRoot.json()) as { code: string }).code).toBe('ENOTFOUND');
    const page = await fetch(new URL(`${UI}requests/7`, t.url));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
  });

  let requestId: number;

  it('flow 1: a refused install links to the package page, which says why; the developer requests it with its dependencies', async () => {
    const refused = await npm.run(['install', 'ui-app@1.0.0'], { cwd: await makeProject(npm.dir, { name: 'flow-one' }) });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('ENOTAPPROVED');
    const link = /(http:\/\/\S+\/-\/gatekeeper\/ui\/packages\/ui-app\?version=1\.0\.0)/.exec(refused.output)?.[1];
    expect(link).toBe(`${t.url}${UI}packages/ui-app?version=1.0.0`);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link!);
    await shot(page, 'sign-in');
    await page.getByLabel('Username').fill('dana');
    await page.getByLabel('Password').fill('dana-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Signed in, on the page the link opened.
    await page.getByRole('heading', { name: 'ui-app@1.0.0', exact: true }).waitFor();
    expect(page.url()).toBe(link);
    const verdict = page.getByRole('status').filter({ hasText: 'ENOTAPPROVED' });
    await verdict.waitFor();
    expect(await verdict.textContent()).toMatch(/Blocked \(ENOTAPPROVED\):.*not approved/i);
    await page.getByLabel('Why it is needed').fill('the billing service needs it');
    expect(await page.getByLabel('Request its dependencies too').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Request this version' }).click();
    const filed = page.getByRole('status').filter({ hasText: 'filed' });
    await filed.waitFor();
    requestId = Number(/#(\d+)/.exec((await filed.textContent()) ?? '')?.[1]);
    expect(requestId).toBeGreaterThan(0);
    await shot(page, 'package');
    await page.getByRole('button', { name: 'Explain ui-app@1.0.0' }).click();
    await page.getByRole('heading', { name: 'Explain ui-app@1.0.0' }).waitFor();

    // The server recorded the request as dana's, with its dependency.
    const view = await t.api('GET', `/requests/${requestId}`);
    expect(view.body).toMatchObject({ name: 'ui-app', range: '1.0.0', requester: 'dana', status: 'pending' });
    expect(view.body.children.map((c: { name: string }) => c.name)).toEqual(['ui-lib']);
    await page.getByRole('link', { name: 'Requests' }).click();
    await page.getByRole('heading', { name: 'Your requests' }).waitFor();
    await page.getByRole('link', { name: `#${requestId}` }).first().waitFor();
    await shot(page, 'requests-developer');
    await context.close();
  });

  it('flow 2: an admin sees the checks and the tree in the queue and approves; the install then succeeds', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('Database: ok').waitFor();
    await shot(page, 'overview');
    await page.getByRole('link', { name: 'Requests' }).click();
    await page.getByRole('heading', { name: 'Queue' }).waitFor();
    await shot(page, 'requests-queue');
    await page.getByRole('link', { name: `#${requestId}`, exact: true }).first().click();
    await page.getByRole('heading', { name: `Request #${requestId}` }).waitFor();
    const tree = page.getByRole('table', { name: /Each node with its decision/ });
    await tree.waitFor();
    expect(await tree.textContent()).toContain('ui-lib@1.0.0');
    expect(await page.getByRole('table', { name: 'Automated checks per version' }).textContent()).toContain('MIT');
    await page.getByLabel('Comment').fill('looks fine');
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.locator('#request-status', { hasText: 'approved' }).waitFor();
    await shot(page, 'request');
    // The approved package is in the catalogue the package search lists.
    await page.getByRole('link', { name: 'Packages' }).click();
    await page.getByLabel('Package name').fill('ui-');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/packages\?q=ui-/);
    await page.getByRole('link', { name: 'ui-app', exact: true }).waitFor();
    await shot(page, 'packages');
    await context.close();

    const installed = await npm.run(['install', 'ui-app@1.0.0'], { cwd: await makeProject(npm.dir, { name: 'flow-two' }) });
    expect(installed.output).not.toContain('ERR');
    expect(installed.code).toBe(0);
  });

  it('flow 3: an admin bans a version with a reason; the package page and explain show it; the audit filter finds it', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, 'admin', ADMIN_PASSWORD, `${t.url}${UI}policy`);
    await page.getByRole('heading', { name: 'Ban a package' }).waitFor();
    const banForm = page.getByRole('form', { name: 'Ban a package' });
    await banForm.getByLabel('Package name').fill('ui-ban');
    await banForm.getByLabel('Version or range').fill('1.1.0');
    await banForm.getByLabel('Reason (shown in every refusal)').fill('ships a credential stealer');
    await banForm.getByRole('button', { name: 'Ban', exact: true }).click();
    await page.getByRole('cell', { name: 'ships a credential stealer' }).waitFor();
    await shot(page, 'policy');

    // The approval form (with its own expiry and scripts fields) and the exemption form.
    const approvalForm = page.getByRole('form', { name: 'Approve a package' });
    await approvalForm.getByLabel('Package name or @scope/*').fill('ui-approved');
    await approvalForm.getByLabel('Approved range').fill('^2.0.0');
    await approvalForm.getByLabel('Reason for the approval').fill('vetted by the platform team');
    await approvalForm.getByLabel('Expires in (e.g. 90d; empty: never)').fill('30d');
    await approvalForm.getByLabel('Allow its install scripts').check();
    await approvalForm.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.getByRole('cell', { name: 'vetted by the platform team' }).waitFor();
    const approvals = (await t.api('GET', '/approvals')).body.items as Array<Record<string, unknown>>;
    expect(approvals.find((a) => a.pattern === 'ui-approved')).toMatchObject({ range: '^2.0.0', reason: 'vetted by the platform team', allowScripts: true, expiresAt: expect.any(String) });
    expect(await approvalForm.getByLabel('Package name or @scope/*').inputValue()).toBe('');
    const exemptionForm = page.getByRole('form', { name: 'Exempt from the minimum release age' });
    await exemptionForm.getByLabel('Package name or @scope/*').fill('@acme/*');
    await exemptionForm.getByLabel('Reason for the exemption').fill('our own packages');
    await exemptionForm.getByRole('button', { name: 'Exempt', exact: true }).click();
    await page.getByRole('cell', { name: 'our own packages' }).waitFor();
    const exemptions = (await t.api('GET', '/policy/exemptions')).body.items as Array<Record<string, unknown>>;
    expect(exemptions.find((x) => x.pattern === '@acme/*')).toMatchObject({ range: '*', reason: 'our own packages' });

    await page.goto(`${t.url}${UI}packages/ui-ban?version=1.1.0`);
    const verdict = page.getByRole('status').filter({ hasText: 'EBANNED' });
    await verdict.waitFor();
    expect(await verdict.textContent()).toContain('ships a credential stealer');
    await page.getByRole('heading', { name: 'Explain ui-ban@1.1.0' }).waitFor();
    await page.locator('.explain-message', { hasText: 'EBANNED' }).waitFor();
    expect(await page.locator('.explain-message').textContent()).toContain('ships a credential stealer');

    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Package').fill('ui-ban');
    await page.getByLabel('Action').fill('ban.create');
    // Every frame, and after every change to the page, note the actions the table shows while the
    // address already names the filter: the unfiltered rows must never be shown under it, not even
    // for the frame before it reloads. The observer matters: its callback runs right after the
    // change, so the rows are noted even when this test reads them before the next frame.
    await page.evaluate(`(() => {
      const seen = (window.seenActions = []);
      const look = () => {
        if (location.search.includes('action=ban.create')) {
          for (const tr of document.querySelectorAll('tbody tr')) seen.push(tr.children[2]?.textContent ?? '');
        }
      };
      new MutationObserver(look).observe(document.body, { childList: true, subtree: true, characterData: true });
      const frame = () => { look(); requestAnimationFrame(frame); };
      requestAnimationFrame(frame);
    })()`);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/audit\?package=ui-ban&action=ban.create/);
    const row = page.getByRole('row').filter({ hasText: 'ban.create' });
    await row.waitFor();
    expect(await row.count()).toBe(1);
    const seenActions = (await page.evaluate('window.seenActions')) as string[];
    expect(seenActions).toContain('ban.create');
    expect(seenActions.filter((a) => a !== 'ban.create')).toEqual([]);
    expect(await row.textContent()).toContain('ships a credential stealer');
    await shot(page, 'audit');

    // A change without a reason field of its own is refused by the console until the page's
    // reason is given; then the reason lands in the audit entry.
    await page.goto(`${t.url}${UI}policy`);
    await page.getByLabel('Mode of the deprecated rule').selectOption('warn');
    await page.getByRole('alert').filter({ hasText: 'Give a reason' }).waitFor();
    await page.getByLabel('Reason for changes (recorded in the audit log)').fill('deprecations should not block the release train');
    await page.getByLabel('Mode of the deprecated rule').selectOption('off');
    await expectEventually(async () => {
      const entries = (await t.api('GET', '/audit?action=policy.rules')).body.items as Array<{ details: { reason?: string; to?: unknown } }>;
      return entries.some((e) => e.details.reason === 'deprecations should not block the release train' && JSON.stringify(e.details.to).includes('"off"'));
    });
    expect((await t.api('GET', '/policy')).body.rules.deprecated.mode).toBe('off');
    // A rule's settings, too.
    await page.getByLabel('severity', { exact: true }).selectOption('high');
    await expectEventually(async () => (await t.api('GET', '/policy')).body.rules.advisories.severity === 'high', 'advisories.severity high');
    await page.getByLabel('minimum', { exact: true }).fill('2d');
    await page.getByLabel('minimum', { exact: true }).press('Tab');
    await expectEventually(async () => (await t.api('GET', '/policy')).body.rules.releaseAge.minimumMs === 2 * 86_400_000, 'releaseAge.minimum 2d');
    await context.close();
  });

  it('flow 4: a reader cannot reach admin pages, and the API refuses the attempt too', async () => {
    const context = await browser.newContext();
    // Signed in with the keyboard alone.
    const page = await context.newPage();
    await page.goto(t.url + UI);
    await page.getByLabel('Username').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('username');
    await page.keyboard.type('rita');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('password');
    await page.keyboard.type('rita-password');
    await page.keyboard.press('Enter');
    await page.getByText('Signed in as rita').waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await page.goto(`${t.url}${UI}admin`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await shot(page, 'not-allowed');
    const answers = await page.evaluate(async () => {
      const session = (await (await fetch('/-/gatekeeper/v1/session')).json()) as { csrfHeader: string; csrfToken: string };
      const users = await fetch('/-/gatekeeper/v1/users');
      const ban = await fetch('/-/gatekeeper/v1/bans', {
        method: 'POST',
        headers: { 'content-type': 'application/json', [session.csrfHeader]: session.csrfToken },
        body: JSON.stringify({ name: 'ui-lib', reason: 'reader tries' }),
      });
      return { users: [users.status, ((await users.json()) as { code: string }).code], ban: [ban.status, ((await ban.json()) as { code: string }).code] };
    });
    expect(answers).toEqual({ users: [403, 'EFORBIDDEN'], ban: [403, 'EFORBIDDEN'] });
    await context.close();
  });

  it('flow 5: sign-out ends the session; a revoked session is refused on its next request', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, 'dana', 'dana-password');
    const first = await sessionCookie(context);
    expect((await withCookie(first, 'GET', '/session')).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const afterSignOut = await withCookie(first, 'GET', '/session');
    expect(afterSignOut.status).toBe(401);
    expect(((await afterSignOut.json()) as { code: string }).code).toBe('ETOKENREVOKED');

    const again = await signIn(context, 'dana', 'dana-password', `${t.url}${UI}tokens`);
    const second = await sessionCookie(context);
    await again.getByRole('cell', { name: 'console session' }).first().waitFor();
    await shot(again, 'tokens');
    const tokens = (await t.api('GET', '/tokens?username=dana')).body.items as Array<{ id: number; prefix: string; createdFrom: string; revokedAt: string | null }>;
    // The signed-out session is listed as revoked; the new one is live, and an admin revokes it.
    expect(tokens.find((tk) => tk.prefix === first.slice(0, 10))).toMatchObject({ createdFrom: 'console session', revokedAt: expect.any(String) });
    const live = tokens.find((tk) => tk.prefix === second.slice(0, 10));
    expect(live).toMatchObject({ createdFrom: 'console session', revokedAt: null });
    expect((await t.api('DELETE', `/tokens/${live!.id}`)).status).toBe(200);
    const refused = await withCookie(second, 'GET', '/requests?mine=true');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('ETOKENREVOKED');
    await again.reload();
    await again.getByRole('heading', { name: 'Sign in' }).waitFor();
    // The session's value is no bearer token either.
    expect((await t.api('GET', '/whoami', undefined, second)).status).toBe(401);
    await context.close();
  });

  it('flow 6: a state-changing call made with the cookie but without the CSRF token is refused', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, 'admin', ADMIN_PASSWORD);
    const cookie = await sessionCookie(context);
    const noToken = await withCookie(cookie, 'POST', '/bans', { name: 'ui-lib', reason: 'csrf' });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { code: string }).code).toBe('ECSRF');
    const wrongToken = await withCookie(cookie, 'POST', '/bans', { name: 'ui-lib', reason: 'csrf' }, { 'x-gatekeeper-csrf': 'not-the-token' });
    expect(((await wrongToken.json()) as { code: string }).code).toBe('ECSRF');
    const fromPage = await page.evaluate(async () => {
      const res = await fetch('/-/gatekeeper/v1/bans', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ui-lib', reason: 'csrf' }) });
      return [res.status, ((await res.json()) as { code: string }).code];
    });
    expect(fromPage).toEqual([403, 'ECSRF']);
    expect((await t.api('GET', '/bans?name=ui-lib')).body.items).toEqual([]);
    // Reads need no token; the console's own calls carry it.
    expect((await withCookie(cookie, 'GET', '/bans')).status).toBe(200);
    await page.goto(`${t.url}${UI}admin`);
    await page.getByRole('heading', { name: 'Add a user' }).waitFor();
    await page.getByLabel('Username', { exact: true }).fill('newbie');
    await page.getByLabel('Password (at least 8 characters)').fill('newbie-password');
    await page.getByLabel('Role', { exact: true }).selectOption('reader');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('cell', { name: 'newbie', exact: true }).waitFor();
    // A role change is the server's: newbie's next request has the new role.
    await page.getByLabel('Role of newbie').selectOption('publisher');
    await page.getByLabel('Role of newbie').and(page.locator(':not([disabled])')).waitFor();
    const newbie = await loginToken(t.url, 'newbie', 'newbie-password');
    await expectEventually(async () => (await t.api('GET', '/whoami', undefined, newbie)).body.role === 'publisher');
    await shot(page, 'admin');
    await context.close();
  });
  it('catalogue: an admin tags a package on its page, the listing filters by the tag, and a reader sees tags but cannot assign them', async () => {
    const created = await t.api('POST', '/tags', { name: 'HTTP clients', description: 'libraries that talk HTTP' });
    expect(created.status).toBe(201);
    const slug = created.body.slug as string;
    // ui-lib reaches the catalogue through the request of flow 1; record it here too, so this test stands alone.
    await t.api('POST', '/lockfile/check', { entries: [{ name: 'ui-lib', version: '1.0.0' }], project: { name: 'tags-demo', version: '1.0.0', format: 'npm' } });

    const context = await browser.newContext();
    const page = await signIn(context, 'admin', ADMIN_PASSWORD, `${t.url}${UI}packages/ui-lib`);
    await page.getByLabel('Assign a tag').selectOption({ label: 'HTTP clients' });
    await page.getByRole('button', { name: 'Assign', exact: true }).click();
    await page.getByRole('button', { name: 'Remove the tag HTTP clients' }).waitFor();
    await shot(page, 'package-tags');
    expect((await t.api('GET', '/packages/ui-lib/tags')).body.tags).toEqual([expect.objectContaining({ slug, assignedBy: 'admin' })]);
    const audit = await t.api('GET', '/audit?action=tag.assign&package=ui-lib');
    expect(audit.body.items).toEqual([expect.objectContaining({ actor: 'admin', package: 'ui-lib' })]);

    await page.goto(`${t.url}${UI}packages?tag=${slug}`);
    const rows = page.getByRole('table').getByRole('row');
    await rows.filter({ hasText: 'ui-lib' }).waitFor();
    expect(await rows.filter({ hasText: 'ui-lib' }).textContent()).toContain('HTTP clients');
    expect(await rows.count()).toBe(2); // the header and ui-lib: untagged packages are filtered out
    await shot(page, 'packages-by-tag');
    await context.close();

    const readerContext = await browser.newContext();
    const reader = await signIn(readerContext, 'rita', 'rita-password', `${t.url}${UI}packages/ui-lib`);
    await reader.getByRole('heading', { name: 'Tags' }).waitFor();
    await reader.getByText('HTTP clients').first().waitFor();
    expect(await reader.getByLabel('Assign a tag').count()).toBe(0);
    expect(await reader.getByRole('button', { name: 'Remove the tag HTTP clients' }).count()).toBe(0);
    await readerContext.close();
  });
});

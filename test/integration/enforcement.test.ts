/**
 * The gate: approvals and bans enforced on packuments and tarballs through the real npm
 * CLI, with messages that say why and what to do, and the admin CLI that drives it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { consolePackageUrl } from '../../src/core/policy';
import { captureIo, runGatekeeper } from '../support/cli';
import { loginToken } from '../support/gatekeeper';
import { createNpmEnv, makeProject } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

describe('enforcing approvals and bans', () => {
  const s = gatekeeperSuite({
    packages: [
      {
        name: 'gated-fixture',
        versions: [
          { version: '1.0.0', license: 'MIT' },
          { version: '1.1.0', license: 'MIT' },
          { version: '2.0.0', license: 'MIT' },
          { version: '2.1.0-beta.1', license: 'MIT' },
        ],
        distTags: { latest: '2.0.0', next: '2.1.0-beta.1' },
      },
      { name: '@acme/scoped-gated', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
      { name: 'other-fixture', versions: [{ version: '3.0.0', license: 'MIT' }] },
    ],
    policyMode: 'none',
  });
  let cliEnv: NodeJS.ProcessEnv;

  const gatekeeper = (...argv: string[]) => runGatekeeper(cliEnv, argv);

  beforeAll(() => {
    cliEnv = { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken, PATH: process.env.PATH, HOME: s.npm.dir };
  });

  it('blocks an unapproved install with ENOTAPPROVED and the next step; after gatekeeper approve it installs', async () => {
    const project = await makeProject(s.npm.dir, { name: 'unapproved' });
    const blocked = await s.npm.run(['install', 'gated-fixture'], { cwd: project });
    expect(blocked.code).not.toBe(0);
    expect(blocked.output).toContain('[ENOTAPPROVED] gated-fixture@2.0.0 is not approved');
    // npm is anonymous here: it is told how to ask, not how to approve.
    expect(blocked.output).toContain('gatekeeper request gated-fixture@2.0.0');

    const approved = await gatekeeper('approve', 'gated-fixture', '--reason', 'reviewed by legal');
    expect(approved).toMatchObject({ code: 0, err: '' });
    expect(approved.out).toMatch(/^approved gated-fixture@\* \(approval \d+\)$/);

    const installed = await s.npm.run(['install', 'gated-fixture'], { cwd: project });
    expect(installed.code).toBe(0);
    expect(require(path.join(project, 'node_modules/gated-fixture'))).toBe('gated-fixture@2.0.0');
  });

  it('records who approved, and every blocked install with the rule that decided', async () => {
    const audit = await s.t.api('GET', '/audit?package=gated-fixture');
    const actions = audit.body.items.map((i: { action: string }) => i.action);
    expect(actions).toContain('approval.create');
    const blocked = audit.body.items.find((i: { action: string }) => i.action === 'install.blocked');
    expect(blocked).toMatchObject({ actor: '$anonymous', package: 'gated-fixture', version: '2.0.0', ruleId: 'mode:allowlist', details: { code: 'ENOTAPPROVED' } });
    expect(blocked.actorIp).toMatch(/127\.0\.0\.1/);
    const approval = audit.body.items.find((i: { action: string }) => i.action === 'approval.create');
    // The approval's own reason (the CLI sends it in the body, no X-Gatekeeper-Reason).
    expect(approval).toMatchObject({ actor: 'admin', details: { approvalReason: 'reviewed by legal' } });
  });

  it('pins a lockfile to the newest version while it is allowed', async () => {
    const project = await makeProject(s.npm.dir, { name: 'pinned', dependencies: { 'gated-fixture': '2.0.0' } });
    const result = await s.npm.run(['install'], { cwd: project });
    expect(result.code).toBe(0);
    fs.copyFileSync(path.join(project, 'package-lock.json'), path.join(s.npm.dir, 'pinned-lock.json'));
    fs.copyFileSync(path.join(project, 'package.json'), path.join(s.npm.dir, 'pinned-package.json'));
  });

  it('after the newest version is banned, npm installs the previous allowed one and prints the notice', async () => {
    const banned = await gatekeeper('ban', 'gated-fixture@2.0.0', '--reason', 'CVE-2099-0001 remote code execution', '--advisory', 'https://example.invalid/advisories/1');
    expect(banned.code).toBe(0);

    const project = await makeProject(s.npm.dir, { name: 'after-ban' });
    const result = await s.npm.run(['install', 'gated-fixture'], { cwd: project });
    expect(result.code).toBe(0);
    expect(require(path.join(project, 'node_modules/gated-fixture'))).toBe('gated-fixture@1.1.0');
    expect(result.output).toMatch(/npm notice gatekeeper: gated-fixture@2\.0\.0 \(latest\) is blocked \[EBANNED\]: gated-fixture@2\.0\.0 is banned: CVE-2099-0001 remote code execution.*; gated-fixture@1\.1\.0 installs instead/);
    expect(result.output).toContain("Run 'gatekeeper explain gated-fixture@2.0.0'");

    const exact = await s.npm.run(['install', 'gated-fixture@2.0.0'], { cwd: project });
    expect(exact.code).not.toBe(0);
    expect(exact.output).toContain('Could not download gated-fixture@2.0.0 due to policy violations');
    expect(exact.output).toContain('gated-fixture@2.0.0 is banned: CVE-2099-0001 remote code execution');

    // An older version that is not latest (no notice names it): npm still says why, and what to do.
    const ban = await s.t.api('POST', '/bans', { name: 'gated-fixture', range: '1.0.0', reason: 'leaks tokens' });
    expect(ban.status).toBe(201);
    const older = await s.npm.run(['install', 'gated-fixture@1.0.0'], { cwd: project });
    expect(older.code).not.toBe(0);
    expect(older.output).toContain('npm error code E403');
    expect(older.output).toContain('Could not download gated-fixture@1.0.0 due to policy violations');
    expect(older.output).toContain(`1.0.0: [EBANNED] gated-fixture@1.0.0 is banned: leaks tokens. Run 'gatekeeper explain gated-fixture@1.0.0'; or open ${consolePackageUrl(s.t.url, 'gated-fixture', '1.0.0')}`);
    expect(older.output).not.toContain('No matching version found');
    // A range that allowed versions satisfy still installs one.
    expect((await s.npm.run(['install', 'gated-fixture@^1.0.0'], { cwd: project })).code).toBe(0);
    expect(require(path.join(project, 'node_modules/gated-fixture/package.json')).version).toBe('1.1.0');
    expect((await s.t.api('DELETE', `/bans/${ban.body.id}`)).status).toBe(200);
  });

  it('removes banned versions from versions and time, and repairs dist-tags, in full and abbreviated packuments', async () => {
    await s.t.api('POST', '/bans', { name: 'gated-fixture', range: '2.1.0-beta.1', reason: 'broken beta' });
    const full = (await (await fetch(new URL('gated-fixture', s.t.url))).json()) as any;
    expect(Object.keys(full.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(full.time['2.0.0']).toBeUndefined();
    expect(full.time['1.1.0']).toBeDefined();
    expect(full['dist-tags']).toEqual({ latest: '1.1.0' });

    const res = await fetch(new URL('gated-fixture', s.t.url), { headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' } });
    expect(res.headers.get('content-type')).toContain('application/vnd.npm.install-v1+json');
    expect(res.headers.get('npm-notice')).toContain('gatekeeper: gated-fixture@2.0.0 (latest) is blocked [EBANNED]');
    expect(res.headers.get('npm-notice')).toContain('gated-fixture@1.1.0 installs instead (1 other version hidden)');
    const abbreviated = (await res.json()) as any;
    expect(Object.keys(abbreviated.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(abbreviated.versions['1.1.0']).not.toHaveProperty('readme');
    expect(abbreviated['dist-tags']).toEqual({ latest: '1.1.0' });

    const version = await fetch(new URL('gated-fixture/2.0.0', s.t.url));
    expect(version.status).toBe(403);
    expect(((await version.json()) as any).code).toBe('EBANNED');
    const latest = (await (await fetch(new URL('gated-fixture/latest', s.t.url))).json()) as any;
    expect(latest.version).toBe('1.1.0');
  });

  it('refuses a direct GET of a banned tarball with 403 EBANNED, for plain and scoped names in every spelling', async () => {
    const res = await fetch(new URL('gated-fixture/-/gated-fixture-2.0.0.tgz', s.t.url));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: `[EBANNED] gated-fixture@2.0.0 is banned: CVE-2099-0001 remote code execution (https://example.invalid/advisories/1). Run 'gatekeeper explain gated-fixture@2.0.0'; or open ${consolePackageUrl(s.t.url, 'gated-fixture', '2.0.0')} to see why and request it`,
      code: 'EBANNED',
      details: { rule: expect.stringMatching(/^ban:\d+$/), package: 'gated-fixture', version: '2.0.0' },
    });
    expect((await fetch(new URL('gated-fixture/-/gated-fixture-1.1.0.tgz', s.t.url))).status).toBe(200);

    await s.t.api('POST', '/approvals', { name: '@acme/*', reason: 'our scope' });
    await s.t.api('POST', '/bans', { name: '@acme/scoped-gated', range: '1.1.0', reason: 'leaked credentials' });
    for (const name of ['@acme/scoped-gated', '@acme%2fscoped-gated', '@acme%2Fscoped-gated']) {
      const blocked = await fetch(new URL(`${name}/-/scoped-gated-1.1.0.tgz`, s.t.url));
      expect({ name, status: blocked.status }).toEqual({ name, status: 403 });
      expect(((await blocked.json()) as any).error).toBe(
        `[EBANNED] @acme/scoped-gated@1.1.0 is banned: leaked credentials. Run 'gatekeeper explain @acme/scoped-gated@1.1.0'; or open ${consolePackageUrl(s.t.url, '@acme/scoped-gated', '1.1.0')} to see why and request it`,
      );
      const allowed = await fetch(new URL(`${name}/-/scoped-gated-1.0.0.tgz`, s.t.url));
      expect({ name, status: allowed.status }).toEqual({ name, status: 200 });
      expect(Buffer.from(await allowed.arrayBuffer()).equals(s.upstream.tarball('@acme/scoped-gated', '1.0.0'))).toBe(true);
    }
  });

  it('fails npm ci from a lockfile pinned to the banned version with EBANNED', async () => {
    const fresh = await createNpmEnv(s.t.url); // an empty cache: npm must fetch the tarball
    try {
      const project = await makeProject(fresh.dir, { name: 'pinned-ci' });
      fs.copyFileSync(path.join(s.npm.dir, 'pinned-lock.json'), path.join(project, 'package-lock.json'));
      fs.copyFileSync(path.join(s.npm.dir, 'pinned-package.json'), path.join(project, 'package.json'));
      const result = await fresh.run(['ci'], { cwd: project });
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('[EBANNED] gated-fixture@2.0.0 is banned: CVE-2099-0001 remote code execution');
    } finally {
      await fresh.cleanup();
    }
  });

  it('answers 403 with the reason, never an empty packument, when no version is allowed', async () => {
    const res = await fetch(new URL('other-fixture', s.t.url));
    expect(res.status).toBe(403);
    const body = (await res.json()) as any;
    expect(body.code).toBe('ENOTAPPROVED');
    expect(body.error).toMatch(/^\[ENOTAPPROVED\] other-fixture@3\.0\.0 is not approved/);
  });

  it('explains a decision with every rule that matched, through the API and the CLI', async () => {
    const api = await s.t.api('GET', '/decisions/gated-fixture/2.0.0');
    expect(api.status).toBe(200);
    expect(api.body.decision).toMatchObject({ allowed: false, code: 'EBANNED', ruleId: expect.stringMatching(/^ban:/) });
    expect(api.body.decision.matches.map((m: { rule: string; effect: string }) => `${m.rule}:${m.effect}`)).toEqual(['ban:deny', 'approval:allow']);
    expect(api.body.known).toBe(true);

    const cli = await gatekeeper('explain', 'gated-fixture@2.0.0');
    expect(cli.code).toBe(0);
    expect(cli.out).toContain('gated-fixture@2.0.0: BLOCKED [EBANNED]');
    expect(cli.out).toMatch(/deny\s+ban \d+: gated-fixture@2\.0\.0 is banned: CVE-2099-0001/);
    expect(cli.out).toMatch(/allow approval \d+: approved as gated-fixture@\* by admin: reviewed by legal/);

    const scoped = await gatekeeper('explain', '@acme/scoped-gated@1.0.0', '--json');
    expect(JSON.parse(scoped.out).decision).toMatchObject({ allowed: true, code: 'ALLOWED' });
    const developer = await s.t.api('POST', '/users', { username: 'reader1', password: 'reader-password', role: 'reader' });
    expect(developer.status).toBe(201);
    const readerToken = await loginToken(s.t.url, 'reader1', 'reader-password');
    expect((await s.t.api('GET', '/decisions/gated-fixture/1.0.0', undefined, readerToken)).status).toBe(200);
    expect((await s.t.api('POST', '/bans', { name: 'x', reason: 'y' }, readerToken)).status).toBe(403);
  });

  it('serves no unfiltered write read of a proxied package: nobody may publish it, not even an admin', async () => {
    for (const token of [s.t.adminToken, await loginToken(s.t.url, 'reader1', 'reader-password'), null]) {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const doc = (await (await fetch(new URL('gated-fixture?write=true', s.t.url), { headers })).json()) as any;
      expect(Object.keys(doc.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    }
  });

  it('lists, pages and removes approvals and bans through the CLI and API, and validates input', async () => {
    const bans = await gatekeeper('bans', '--json');
    const list = JSON.parse(bans.out) as Array<{ name: string; range: string }>;
    expect(list.map((b) => `${b.name}@${b.range}`)).toEqual(['gated-fixture@2.0.0', 'gated-fixture@2.1.0-beta.1', '@acme/scoped-gated@1.1.0']);
    const page = await s.t.api('GET', '/bans?limit=2');
    expect(page.body.items).toHaveLength(2);
    const next = await s.t.api('GET', `/bans?limit=2&cursor=${page.body.nextCursor}`);
    expect(next.body.items.map((b: { name: string }) => b.name)).toEqual(['@acme/scoped-gated']);
    expect(next.body.nextCursor).toBeNull();

    expect((await gatekeeper('unban', 'gated-fixture@2.1.0-beta.1')).code).toBe(0);
    const tags = (await (await fetch(new URL('gated-fixture', s.t.url))).json()) as any;
    expect(tags['dist-tags']).toEqual({ latest: '1.1.0', next: '2.1.0-beta.1' });

    const duplicate = await s.t.api('POST', '/approvals', { name: 'gated-fixture', reason: 'again' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toMatch(/^\[ECONFLICT\] gated-fixture@\* is already approved \(approval \d+\)/);
    for (const [body, code] of [
      [{ name: 'Not A Name!', reason: 'x' }, 'EINVALIDNAME'],
      [{ name: 'gated-fixture', range: 'not-a-range!!', reason: 'x' }, 'EINVALIDRANGE'],
      [{ name: 'gated-fixture', range: '^1', reason: 'x', expiresIn: 'soon' }, 'EVALIDATION'],
    ] as const) {
      const res = await s.t.api('POST', '/approvals', body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status: 400, code });
    }
    const noReason = await s.t.api('POST', '/bans', { name: 'gated-fixture' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error).toContain('a ban needs a reason');
    const usage = await gatekeeper('ban', 'gated-fixture@1.0.0');
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--reason is required');
  });

  it('an approval past its expiry stops applying without anyone acting', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await s.t.api('POST', '/approvals', { name: 'other-fixture', range: '3.0.0', reason: 'trial', expiresAt });
    expect(created.status).toBe(201);
    expect((await fetch(new URL('other-fixture/-/other-fixture-3.0.0.tgz', s.t.url))).status).toBe(200);
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(new URL('other-fixture/-/other-fixture-3.0.0.tgz', s.t.url))).status;
    }
    expect(status).toBe(403);
    const decision = await s.t.api('GET', '/decisions/other-fixture/3.0.0');
    expect(decision.body.decision.code).toBe('ENOTAPPROVED');
  });

  it('switches between allowlist and open mode, audited', async () => {
    expect((await gatekeeper('policy', 'set', 'mode', 'open')).code).toBe(0);
    expect((await fetch(new URL('other-fixture', s.t.url))).status).toBe(200);
    const show = await gatekeeper('policy', 'show', '--json');
    expect(JSON.parse(show.out).mode).toBe('open');
    // A ban still applies in open mode.
    expect((await fetch(new URL('gated-fixture/-/gated-fixture-2.0.0.tgz', s.t.url))).status).toBe(403);
    expect((await gatekeeper('policy', 'set', 'mode', 'allowlist')).code).toBe(0);
    expect((await fetch(new URL('other-fixture', s.t.url))).status).toBe(403);
    const bad = await s.t.api('PATCH', '/policy', { mode: 'yolo' });
    expect(bad.status).toBe(400);
    const audit = await s.t.api('GET', '/audit?action=policy.mode');
    expect(audit.body.items.map((i: { details: { to: string } }) => i.details.to)).toEqual(['allowlist', 'open']);
  });

  it("records the caller's X-Gatekeeper-Reason as `reason` in every change's entry, next to the record's own reason", async () => {
    const call = async (method: string, apiPath: string, reason: string, body?: unknown) => {
      const res = await fetch(new URL(`-/gatekeeper/v1${apiPath}`, s.t.url), {
        method,
        headers: { authorization: `Bearer ${s.t.adminToken}`, 'x-gatekeeper-reason': encodeURIComponent(reason), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const ban = await call('POST', '/bans', 'ticket SEC-42', { name: 'other-fixture', range: '9.9.9', reason: 'the ban text everyone sees' });
    expect(ban.status).toBe(201);
    expect((await call('DELETE', `/bans/${ban.body.id}`, 'ticket SEC-43')).status).toBe(200);
    const approval = await call('POST', '/approvals', 'ticket SEC-44 (é)', { name: 'other-fixture', range: '9.9.8' });
    expect(approval.status).toBe(201);
    expect((await call('DELETE', `/approvals/${approval.body.id}`, 'ticket SEC-45')).status).toBe(200);

    const entries = (await s.t.api('GET', '/audit?package=other-fixture&limit=500')).body.items as Array<{ action: string; ruleId: string; details: Record<string, unknown> }>;
    const of = (action: string, ruleId: string) => entries.find((e) => e.action === action && e.ruleId === ruleId)?.details;
    expect(of('ban.create', `ban:${ban.body.id}`)).toMatchObject({ reason: 'ticket SEC-42', banReason: 'the ban text everyone sees', range: '9.9.9' });
    expect(of('ban.delete', `ban:${ban.body.id}`)).toMatchObject({ reason: 'ticket SEC-43', banReason: 'the ban text everyone sees', range: '9.9.9' });
    expect(of('approval.create', `approval:${approval.body.id}`)).toMatchObject({ reason: 'ticket SEC-44 (é)', approvalReason: 'approved', range: '9.9.8' });
    expect(of('approval.delete', `approval:${approval.body.id}`)).toMatchObject({ reason: 'ticket SEC-45', approvalReason: 'approved', range: '9.9.8' });
  });
});

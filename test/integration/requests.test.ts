/**
 * Package requests with automated checks and dependency trees, lockfile checks for CI with
 * real npm, pnpm and yarn lockfiles, and projects/usage.
 */

import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { captureIo } from '../support/cli';
import { loginToken, startTestGatekeeper, tempDir } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { runTool as run, toolEnv as toolsEnv } from '../support/tools';
import { gatekeeperSuite } from '../support/suite';
import { REPO } from '../support/process';
import { MAX_BATCH_ENTRIES } from '../../src/services/governance';

const FIXTURES = [
  {
    name: 'req-app',
    versions: [
      {
        version: '1.0.0',
        license: 'MIT',
        dependencies: { 'req-lib': '^1.0.0', 'req-util': '^2.0.0' },
        optionalDependencies: { 'req-opt': '^1.0.0' },
        peerDependencies: { 'req-peer': '^1.0.0', 'req-optpeer': '^1.0.0' },
        peerDependenciesMeta: { 'req-optpeer': { optional: true } },
        devDependencies: { 'req-dev': '^1.0.0' },
      },
    ],
  },
  { name: 'req-lib', versions: [{ version: '1.0.0', license: 'ISC' }, { version: '1.1.0', license: 'ISC', dependencies: { 'req-util': '^2.0.0' } }] },
  { name: 'req-util', versions: [{ version: '2.0.0', license: 'MIT' }, { version: '2.1.0', license: 'MIT' }] },
  { name: 'req-opt', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'req-peer', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'req-optpeer', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'req-dev', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'req-risky', versions: [{ version: '1.0.0', license: 'MIT', dependencies: { 'req-bad': '^1.0.0' }, scripts: { postinstall: 'node -e 1' } }] },
  { name: 'req-bad', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'req-solo', versions: [{ version: '3.0.0', license: 'BSD-3-Clause' }] },
];

const TREE = ['req-app@1.0.0', 'req-lib@1.1.0', 'req-opt@1.0.0', 'req-peer@1.0.0', 'req-util@2.1.0'];

describe('package requests, lockfile checks and usage', () => {
  const s = gatekeeperSuite({ packages: FIXTURES, policyMode: 'none' });
  let devToken: string;
  let otherToken: string;
  const as = (token: string) => async (...argv: string[]) => {
    const io = captureIo();
    const code = await main(argv, io, { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: token, PATH: process.env.PATH });
    return { code, out: io.outText(), err: io.errText() };
  };
  let dev: ReturnType<typeof as>;
  let admin: ReturnType<typeof as>;

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'dana', password: 'dana-password', role: 'developer' });
    await s.t.api('POST', '/users', { username: 'omar', password: 'omar-password', role: 'developer' });
    devToken = await loginToken(s.t.url, 'dana', 'dana-password');
    otherToken = await loginToken(s.t.url, 'omar', 'omar-password');
    dev = as(devToken);
    admin = as(s.t.adminToken);
    await s.t.api('POST', '/bans', { name: 'req-bad', reason: 'known malware' });
  });

  it('blocks the unrequested package', async () => {
    const result = await s.npm.run(['install', 'req-app'], { cwd: await makeProject(s.npm.dir, { name: 'before' }) });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('ENOTAPPROVED');
  });

  it('files a request with automated checks and auto-queued dependency requests', async () => {
    const created = await dev('request', 'req-app@^1.0.0', '--reason', 'the new billing service needs it', '--with-dependencies');
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^request \d+: req-app@\^1\.0\.0 \[pending\] by dana/);
    expect(created.out).toContain('summary: MIT, no install scripts, 4 new transitive dependencies');
    const id = Number(/^request (\d+)/.exec(created.out)?.[1]);
    const view = await s.t.api('GET', `/requests/${id}`, undefined, devToken);
    expect(view.body.checks.tree.nodes.map((n: { name: string; version: string }) => `${n.name}@${n.version}`).sort()).toEqual(TREE);
    expect(view.body.checks.tree.nodes.find((n: { name: string }) => n.name === 'req-opt').kind).toBe('optional');
    expect(view.body.checks.tree.nodes.find((n: { name: string }) => n.name === 'req-peer').kind).toBe('peer');
    expect(view.body.children.map((c: { name: string; range: string }) => `${c.name}@${c.range}`).sort()).toEqual(TREE.slice(1));
    expect(view.body.children.every((c: { sourceRequestId: number; status: string }) => c.sourceRequestId === id && c.status === 'pending')).toBe(true);
  });

  it('summarises install scripts and banned dependencies for the admin', async () => {
    const created = await s.t.api('POST', '/requests', { name: 'req-risky', reason: 'evaluate it' }, devToken);
    expect(created.status).toBe(201);
    expect(created.body.summary).toBe('MIT, install scripts in 1 version, 1 new transitive dependency, 1 banned');
    const node = created.body.checks.tree.nodes.find((n: { name: string }) => n.name === 'req-bad');
    expect(node).toMatchObject({ code: 'EBANNED', allowed: false });
  });

  it('allows one open request per name@range (a partial unique index), and a new one after cancelling', async () => {
    // Another user's open request is no request of theirs: not named, as GET /requests/:id would not show it.
    const dup = await s.t.api('POST', '/requests', { name: 'req-risky', reason: 'again' }, otherToken);
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({
      code: 'ECONFLICT',
      error:
        "[ECONFLICT] a request for req-risky@* is already open (another user filed it), so yours was not filed. Once an admin decides it, installing works if it was approved ('gatekeeper explain req-risky@<version>' shows the decision); ask an admin if you need it sooner or want to add your reason",
    });
    // Its requester, and admins, are told which one.
    const own = await s.t.api('POST', '/requests', { name: 'req-risky', reason: 'again' }, devToken);
    expect([own.status, own.body.error]).toEqual([409, `[ECONFLICT] there is already an open request for req-risky@*: request ${own.body.details.id} (yours). Wait for its decision, or cancel it first`]);
    const id = own.body.details.id;
    const byAdmin = await s.t.api('POST', '/requests', { name: 'req-risky', reason: 'again' });
    expect([byAdmin.status, byAdmin.body.error, byAdmin.body.details]).toEqual([409, `[ECONFLICT] there is already an open request for req-risky@*: request ${id} (by dana). Wait for its decision, or cancel it first`, { id }]);
    expect((await s.t.api('GET', `/requests/${id}`, undefined, otherToken)).status).toBe(404);
    expect((await s.t.api('POST', `/requests/${id}/cancel`, {}, otherToken)).status).toBe(404);
    const cancelled = await s.t.api('POST', `/requests/${id}/cancel`, {}, devToken);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await s.t.api('POST', '/requests', { name: 'req-risky', reason: 'again' }, otherToken)).status).toBe(201);
    const missingReason = await s.t.api('POST', '/requests', { name: 'req-solo' }, devToken);
    expect(missingReason.status).toBe(400);
    expect((await s.t.api('GET', '/requests?status=maybe', undefined, devToken)).status).toBe(400);
  });

  it('shows requesters their own requests only; admins see all', async () => {
    const mine = await s.t.api('GET', '/requests', undefined, devToken);
    expect(mine.body.items.every((r: { requester: string }) => r.requester === 'dana')).toBe(true);
    const theirs = await s.t.api('GET', '/requests', undefined, otherToken);
    expect(theirs.body.items.map((r: { requester: string }) => r.requester)).toEqual(['omar']);
    const all = await s.t.api('GET', '/requests?status=pending');
    expect(new Set(all.body.items.map((r: { requester: string }) => r.requester))).toEqual(new Set(['dana', 'omar']));
    expect((await s.t.api('POST', `/requests/${mine.body.items[0].id}/approve`, {}, devToken)).status).toBe(403);
  });

  it('request -> approve with dependencies -> install, end to end with the real npm CLI', async () => {
    const pending = await s.t.api('GET', '/requests?status=pending');
    const root = pending.body.items.find((r: { name: string; sourceRequestId: number | null }) => r.name === 'req-app' && r.sourceRequestId === null);
    const approved = await admin('requests', 'approve', String(root.id), '--comment', 'fine', '--with-dependencies');
    expect(approved.code).toBe(0);
    expect(approved.out).toContain(`request ${root.id}: req-app@^1.0.0 [approved]`);
    const approvals = (await s.t.api('GET', '/approvals')).body.items.map((a: { pattern: string; range: string }) => `${a.pattern}@${a.range}`);
    // Exactly the resolved tree: the requested range and each dependency's resolved version.
    expect(approvals.sort()).toEqual(['req-app@^1.0.0', ...TREE.slice(1)].sort());
    const result = await s.npm.run(['install', 'req-app'], { cwd: await makeProject(s.npm.dir, { name: 'after' }) });
    expect(result.output).not.toContain('npm error');
    expect(result.code).toBe(0);
    const audit = await s.t.api('GET', '/audit?action=request.approve');
    expect(audit.body.items).toHaveLength(5);
  });

  it('rejects a request with a comment, and the requester sees it', async () => {
    const pending = await s.t.api('GET', '/requests?status=pending');
    const risky = pending.body.items.find((r: { name: string }) => r.name === 'req-risky');
    expect((await admin('requests', 'reject', String(risky.id), '--comment', 'depends on malware')).code).toBe(0);
    const seen = await as(otherToken)('requests', '--mine', '--json');
    expect(JSON.parse(seen.out)).toEqual([expect.objectContaining({ name: 'req-risky', status: 'rejected', comment: 'depends on malware' })]);
  });

  it('decides a request once when approve, reject and cancel race: the losers get ECONFLICT and leave no approval behind', async () => {
    for (let round = 0; round < 6; round++) {
      const range = `>=3.0.0 <${4 + round}.0.0`;
      const filed = await s.t.api('POST', '/requests', { name: 'req-solo', range, reason: `race ${round}` }, devToken);
      expect(filed.status).toBe(201);
      const id = filed.body.id as number;
      const moves: Array<[string, string]> = [
        ['approve', s.t.adminToken],
        ['reject', s.t.adminToken],
        ['cancel', devToken],
        ['approve', s.t.adminToken],
        ['reject', s.t.adminToken],
        ['cancel', devToken],
      ];
      const answers = await Promise.all(moves.map(([op, token]) => s.t.api('POST', `/requests/${id}/${op}`, {}, token)));
      const won = answers.filter((a) => a.status === 200);
      expect(won).toHaveLength(1);
      for (const lost of answers.filter((a) => a.status !== 200)) {
        expect([lost.status, lost.body.code]).toEqual([409, 'ECONFLICT']);
        expect(lost.body.error).toMatch(/^\[ECONFLICT\] request \d+ is (approved|rejected|cancelled) already\. /);
      }
      const view = (await s.t.api('GET', `/requests/${id}`)).body;
      expect(view.status).toBe(won[0].body.status);
      const approvals = (await s.t.api('GET', '/approvals?limit=500')).body.items as Array<{ id: number; pattern: string; range: string }>;
      const made = approvals.filter((a) => a.pattern === 'req-solo' && a.range === range);
      if (view.status === 'approved') expect(made.map((a) => Number(a.id))).toEqual([view.approvalId]);
      else expect(made).toEqual([]);
      const audited = await s.t.api('GET', `/audit?package=req-solo&limit=500`);
      const decisions = (audited.body.items as Array<{ action: string; details: { id?: number } }>).filter((e) => /^request\.(approve|reject|cancel)$/.test(e.action) && e.details?.id === id);
      expect(decisions).toHaveLength(1);
    }
  });

  it('approves exactly the resolved tree with gatekeeper approve --with-dependencies', async () => {
    const fresh = await startTestGatekeeper({ upstream: s.upstream.url });
    try {
      const io = captureIo();
      expect(await main(['approve', 'req-app@1.0.0', '--with-dependencies', '--reason', 'bulk'], io, { GATEKEEPER_URL: fresh.url, GATEKEEPER_TOKEN: fresh.adminToken })).toBe(0);
      expect(io.outText()).toContain('approved 5: req-app@1.0.0');
      const approvals = (await fresh.api('GET', '/approvals')).body.items.map((a: { pattern: string; range: string }) => `${a.pattern}@${a.range}`);
      expect(approvals.sort()).toEqual(TREE);
    } finally {
      await fresh.close();
    }
  });

  describe('gatekeeper check on real lockfiles', () => {
    const projects: Record<string, string> = {};
    const toolEnv = (home: string): Record<string, string> => toolsEnv(home, s.t.url);

    beforeAll(async () => {
      const home = tempDir('gk-tools-');
      fs.writeFileSync(path.join(home, '.npmrc'), `registry=${s.t.url}\n`);
      const deps = { 'req-lib': '1.1.0', 'req-solo': '3.0.0' };
      await s.t.api('POST', '/approvals', { name: 'req-solo', reason: 'lockfile tests' });
      const npmProject = await makeProject(s.npm.dir, { name: 'lock-npm', version: '2.3.4', dependencies: deps });
      expect((await s.npm.run(['install'], { cwd: npmProject })).code).toBe(0);
      projects['package-lock.json'] = npmProject;

      const pnpmProject = await makeProject(s.npm.dir, { name: 'lock-pnpm', dependencies: deps });
      const pnpm = await run('pnpm', ['install', '--registry', s.t.url, '--reporter', 'append-only'], { cwd: pnpmProject, env: toolEnv(home) });
      expect(pnpm.output).not.toMatch(/ERR_PNPM/);
      expect(pnpm.code).toBe(0);
      projects['pnpm-lock.yaml'] = pnpmProject;

      const yarnProject = await makeProject(s.npm.dir, { name: 'lock-yarn', dependencies: deps });
      const yarn = await run('yarn', ['install', '--registry', s.t.url, '--non-interactive', '--no-progress'], { cwd: yarnProject, env: toolEnv(home) });
      expect(yarn.code).toBe(0);
      projects['yarn.lock'] = yarnProject;
    });

    it.each(['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'])('exits 0 for %s while every entry would install', async (lockfile) => {
      const result = await dev('check', path.join(projects[lockfile], lockfile));
      expect(result.err).toBe('');
      expect(result.out).toMatch(new RegExp(`: 3 entries, 0 blocked$`));
      expect(result.code).toBe(0);
    });

    it.each(['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'])('exits 1 for %s once an entry is banned, listing it with its code and reason', async (lockfile) => {
      const ban = await s.t.api('POST', '/bans', { name: 'req-util', range: '2.1.0', reason: 'CVE-2099-0002' });
      try {
        const result = await dev('check', path.join(projects[lockfile], lockfile));
        expect(result.code).toBe(1);
        expect(result.out).toContain('3 entries, 1 blocked');
        expect(result.out).toContain("[EBANNED] req-util@2.1.0 is banned: CVE-2099-0002");
        const api = await s.t.api('POST', '/lockfile/check', { entries: [{ name: 'req-util', version: '2.1.0' }, { name: 'req-solo', version: '3.0.0' }] }, devToken);
        expect(api.body).toMatchObject({ ok: false, checked: 2, blocked: [{ name: 'req-util', version: '2.1.0', code: 'EBANNED' }] });
      } finally {
        await s.t.api('DELETE', `/bans/${ban.body.id}`);
      }
    });

    it('reports an entry neither here nor upstream (a version or a package that does not exist) as blocked: it would not install', async () => {
      const api = await s.t.api('POST', '/lockfile/check', { entries: [{ name: 'req-util', version: '9.9.9' }, { name: 'no-such-lib-xyz', version: '1.0.0' }, { name: 'req-solo', version: '3.0.0' }] }, devToken);
      expect(api.body).toMatchObject({ ok: false, checked: 3 });
      expect(api.body.blocked).toEqual([
        { name: 'req-util', version: '9.9.9', code: 'ENOTFOUND', reason: expect.stringContaining('is not in this registry or its upstream'), ruleId: null },
        { name: 'no-such-lib-xyz', version: '1.0.0', code: 'ENOTFOUND', reason: expect.stringContaining('is not in this registry or its upstream'), ruleId: null },
      ]);
    });

    it('exits 2 on bad input', async () => {
      const dir = tempDir('gk-badlock-');
      fs.writeFileSync(path.join(dir, 'package-lock.json'), '{ not json');
      const bad = await dev('check', path.join(dir, 'package-lock.json'));
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('EVALIDATION');
      const missing = await dev('check', path.join(dir, 'nothing-here.json'));
      expect(missing.code).toBe(2);
    });

    it('exits 2 for a lockfile of more entries than the server takes, not 1 (blocked)', async () => {
      const dir = tempDir('gk-biglock-');
      const packages: Record<string, unknown> = { '': { name: 'big', version: '1.0.0' } };
      for (let i = 0; i <= MAX_BATCH_ENTRIES; i++) packages[`node_modules/big-${i}`] = { version: '1.0.0' };
      fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'big', version: '1.0.0', lockfileVersion: 3, packages }));
      const result = await dev('check', path.join(dir, 'package-lock.json'));
      expect([result.code, result.err]).toEqual([2, expect.stringContaining('EPAYLOADTOOLARGE')]);
    });

    it('says which entries it did not check: a tarball URL dependency, a git one', async () => {
      const lockfile = path.join(REPO, 'test/support/lockfiles/npm-v3/package-lock.json');
      const text = await dev('check', lockfile);
      expect(text.out).toMatch(/ entries, \d+ blocked, 1 not checked\n/);
      expect(text.out).toContain('not checked: url-dep comes from a tarball URL, not through this registry (http://registry.invalid/downloads/url-dep.tgz)');
      const dir = tempDir('gk-gitlock-');
      const packages = { '': { name: 'g', version: '1.0.0' }, 'node_modules/gitdep': { version: '1.0.0', resolved: 'git+ssh://git@example.invalid/o/gitdep.git#0123456789abcdef0123456789abcdef01234567' } };
      fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'g', version: '1.0.0', lockfileVersion: 3, packages }));
      const git = await dev('check', '--json', path.join(dir, 'package-lock.json'));
      expect(git.code).toBe(0);
      expect(JSON.parse(git.out)).toMatchObject({ checked: 0, skipped: [{ name: 'gitdep', reason: 'git', source: packages['node_modules/gitdep'].resolved }] });
    });

    it('files one request per blocked lockfile entry, as one batch', async () => {
      const project = await makeProject(s.npm.dir, { name: 'lock-batch', dependencies: { 'req-lib': '1.1.0', 'req-solo': '3.0.0' } });
      expect((await s.npm.run(['install'], { cwd: project })).code).toBe(0);
      const ids = (await s.t.api('GET', '/approvals?name=req-lib')).body.items.map((a: { id: string }) => a.id);
      for (const id of ids) await s.t.api('DELETE', `/approvals/${id}`);
      const result = await dev('request', '--lockfile', path.join(project, 'package-lock.json'), '--reason', 'our lockfile');
      expect(result.code).toBe(0);
      expect(result.out).toMatch(/^3 entries: 2 allowed, 1 requested, 0 already requested/);
      expect(result.out).toMatch(/request \d+: req-lib@1\.1\.0/);
    });

    it('decides a batch as check does: a license-denied entry is requested, a version that exists nowhere is listed and not requested', async () => {
      const before = (await s.t.api('GET', '/licenses')).body;
      expect((await s.t.api('PUT', '/licenses', { allow: ['MIT', 'ISC'] })).status).toBe(200);
      try {
        const entries = [{ name: 'req-solo', version: '3.0.0' }, { name: 'req-util', version: '9.9.9' }];
        const checked = await s.t.api('POST', '/lockfile/check', { entries }, devToken);
        expect(checked.body.blocked.map((b: { code: string }) => b.code)).toEqual(['ELICENSE', 'ENOTFOUND']);
        const batch = await s.t.api('POST', '/requests/batch', { entries, reason: 'a license-denied entry' }, devToken);
        expect(batch.status).toBe(201);
        expect([batch.body.allowed, batch.body.created.map((r: { name: string; range: string }) => `${r.name}@${r.range}`), batch.body.notFound]).toEqual([0, ['req-solo@3.0.0'], ['req-util@9.9.9']]);
        for (const r of batch.body.created) expect((await s.t.api('POST', `/requests/${r.id}/cancel`, {}, devToken)).status).toBe(200);
      } finally {
        expect((await s.t.api('PUT', '/licenses', { allow: before.allow })).status).toBe(200);
      }
    });

    it('records a lockfile as a project and shows who uses a version', async () => {
      const recorded = await dev('check', path.join(projects['package-lock.json'], 'package-lock.json'), '--record');
      expect(recorded.out).toContain('recorded as project lock-npm@2.3.4');
      const usage = await dev('usage', 'req-util@2.1.0', '--json');
      const result = JSON.parse(usage.out);
      expect(result.projects).toEqual([expect.objectContaining({ project: 'lock-npm', projectVersion: '2.3.4', version: '2.1.0', integrity: expect.stringMatching(/^sha512-/) })]);
      const none = await dev('usage', 'req-util@2.0.0');
      expect(none.out).toBe('no recorded project uses req-util@2.0.0');
    });
  });
});

describe('approving again a spec whose approval expired', () => {
  const NAME = 'exp-lib';
  const s = gatekeeperSuite({ npm: false, policyMode: 'allowlist', packages: [{ name: NAME, versions: [{ version: '1.0.0', license: 'MIT', publishedAt: new Date(Date.now() - 30 * 86_400_000) }] }] });

  it('approving a request for it makes a live approval in place of the expired one, and installs follow; so does a direct approval', async () => {
    expect((await s.t.api('POST', '/users', { username: 'dana', password: 'dana-password', role: 'developer' })).status).toBe(201);
    const dev = await loginToken(s.t.url, 'dana', 'dana-password');
    const trial = await s.t.api('POST', '/approvals', { name: NAME, range: '^1.0.0', reason: 'trial', expiresIn: '2s' });
    expect(trial.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await s.t.api('GET', `/decisions/${NAME}/1.0.0`)).body.decision).toMatchObject({ allowed: false, code: 'ENOTAPPROVED' });
    const filed = await s.t.api('POST', '/requests', { name: NAME, range: '^1.0.0', reason: 'still needed after the trial' }, dev);
    expect(filed.status).toBe(201);
    const approved = await s.t.api('POST', `/requests/${filed.body.id}/approve`, { comment: 'ok' });
    expect([approved.status, approved.body.status]).toEqual([200, 'approved']);
    expect(approved.body.approvalId).not.toBe(trial.body.id);
    expect((await s.t.api('GET', `/decisions/${NAME}/1.0.0`)).body.decision).toMatchObject({ allowed: true });
    expect((await fetch(new URL(`${NAME}/-/${NAME}-1.0.0.tgz`, s.t.url), { headers: { authorization: `Bearer ${dev}` } })).status).toBe(200);
    const removed = ((await s.t.api('GET', '/audit?action=approval.delete&limit=10')).body.items as Array<{ ruleId: string; details: Record<string, unknown> }>)[0];
    expect(removed).toMatchObject({ ruleId: `approval:${trial.body.id}`, details: { expired: true } });
    // A direct approval of a spec whose approval expired takes its place too (not 409 "already approved").
    const again = await s.t.api('POST', '/approvals', { name: 'other-lib', range: '1.x', reason: 'trial', expiresIn: '2s' });
    expect(again.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const renewed = await s.t.api('POST', '/approvals', { name: 'other-lib', range: '1.x', reason: 'for good' });
    expect([renewed.status, renewed.body.reason]).toEqual([201, 'for good']);
  });
});

/**
 * License policy through the real npm CLI: every form of license field real packages use,
 * denylist, unknown licenses, waivers that expire, and the license report of a lockfile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { captureIo, runGatekeeper } from '../support/cli';
import { FixturePackage } from '../support/fixture-registry';
import { makeProject } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

const one = (name: string, fields: Record<string, unknown>): FixturePackage => ({ name, versions: [{ version: '1.0.0', ...fields }] });

const FIXTURES: FixturePackage[] = [
  one('lic-mit', { license: 'MIT' }),
  one('lic-or', { license: '(MIT OR GPL-3.0-only)' }),
  one('lic-and', { license: 'MIT AND BUSL-1.1' }),
  one('lic-legacy-array', { licenses: [{ type: 'MIT', url: 'https://example.invalid/mit' }] }),
  one('lic-object', { license: { type: 'ISC', url: 'https://example.invalid/isc' } }),
  one('lic-see-file', { license: 'SEE LICENSE IN LICENSE.md' }),
  one('lic-url', { license: 'https://example.invalid/my-license' }),
  one('lic-unlicensed', { license: 'UNLICENSED' }),
  one('lic-missing', {}),
  one('lic-misspelled', { license: 'Apache 2.0' }),
  one('lic-denied', { license: 'AGPL-3.0-only' }),
  one('lic-or-later', { license: 'GPL-2.0+' }),
  {
    name: 'lic-changes',
    versions: [
      { version: '1.0.0', license: 'MIT' },
      { version: '2.0.0', license: 'BUSL-1.1' },
    ],
  },
];

describe('license policy', () => {
  const s = gatekeeperSuite({ packages: FIXTURES });
  const env = () => ({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken });
  const gatekeeper = (...argv: string[]) => runGatekeeper(env(), argv);
  const install = async (spec: string) => s.npm.run(['install', spec], { cwd: await makeProject(s.npm.dir, { name: `p-${spec.replace(/[^a-z0-9]/g, '-')}` }) });

  it('is off until an allowlist is set; the CLI sets and shows it', async () => {
    expect((await install('lic-unlicensed')).code).toBe(0);
    expect((await gatekeeper('license', 'allow', 'MIT', 'ISC', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD', 'GPL-3.0-or-later')).code).toBe(0);
    expect((await gatekeeper('license', 'deny', 'AGPL-3.0-only')).code).toBe(0);
    const show = await gatekeeper('license', 'show');
    expect(show.out).toBe(
      ['license rule: on', 'allow:   MIT, ISC, Apache-2.0, BSD-2-Clause, BSD-3-Clause, 0BSD, GPL-3.0-or-later', 'deny:    AGPL-3.0-only', 'unknown: block'].join('\n'),
    );
    const bad = await s.t.api('PUT', '/licenses', { allow: ['MIT', 'Not-A-License'] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('EVALIDATION');
    const audit = await s.t.api('GET', '/audit?action=license.policy');
    expect(audit.body.items).toHaveLength(2);
  });

  it.each([
    ['lic-mit', 'a plain SPDX id'],
    ['lic-or', 'an OR expression with one allowed branch'],
    ['lic-legacy-array', 'the legacy licenses array'],
    ['lic-object', 'a {type, url} object'],
    ['lic-misspelled', 'a misspelled id with an unambiguous correction'],
    ['lic-or-later', 'a + (or later) form that an allowed -or-later id satisfies'],
  ])('installs %s (%s)', async (name) => {
    const result = await install(name);
    expect(result.output).not.toContain('npm error');
    expect(result.code).toBe(0);
  });

  it.each([
    ['lic-and', /lic-and@1\.0\.0 is licensed MIT AND BUSL-1\.1, which the license policy does not allow \(BUSL-1\.1 is not allowed\)/],
    ['lic-see-file', /lic-see-file@1\.0\.0 is licensed .*SEE LICENSE IN LICENSE\.md.*unknown licenses are blocked/],
    ['lic-url', /lic-url@1\.0\.0 is licensed .*https:\/\/example\.invalid\/my-license.*unknown licenses are blocked/],
    ['lic-unlicensed', /lic-unlicensed@1\.0\.0 is licensed UNLICENSED \(proprietary\), which the license policy does not allow/],
    ['lic-missing', /lic-missing@1\.0\.0 is licensed under no declared license .*unknown licenses are blocked/],
    ['lic-denied', /lic-denied@1\.0\.0 is licensed AGPL-3\.0-only, which the license policy denies/],
  ])('blocks %s with ELICENSE and says why', async (name, why) => {
    const result = await install(name);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`[ELICENSE] ${name}@1.0.0 is licensed`);
    expect(result.output).toMatch(why);
    expect(result.output).toContain(`Run 'gatekeeper explain ${name}@1.0.0' or ask for a waiver: gatekeeper request ${name}@1.0.0`);
  });

  it('follows the unknown setting for licenses that cannot be evaluated', async () => {
    expect((await gatekeeper('license', 'unknown', 'allow')).code).toBe(0);
    expect((await install('lic-missing')).code).toBe(0);
    expect((await install('lic-see-file')).code).toBe(0);
    // UNLICENSED is a statement (proprietary), not an unknown license.
    expect((await install('lic-unlicensed')).code).not.toBe(0);
    expect((await gatekeeper('license', 'unknown', 'block')).code).toBe(0);
    expect((await install('lic-missing')).code).not.toBe(0);
  });

  it('resolves a package whose license changed to its newest allowed version, and refuses the other tarball', async () => {
    const project = await makeProject(s.npm.dir, { name: 'changes' });
    const result = await s.npm.run(['install', 'lic-changes'], { cwd: project });
    expect(result.code).toBe(0);
    expect(require(path.join(project, 'node_modules/lic-changes'))).toBe('lic-changes@1.0.0');
    expect(result.output).toContain('npm notice gatekeeper: lic-changes@2.0.0 (latest) is blocked [ELICENSE]');
    expect(result.output).toContain('lic-changes@1.0.0 installs instead');
    const tarball = await fetch(new URL('lic-changes/-/lic-changes-2.0.0.tgz', s.t.url));
    expect(tarball.status).toBe(403);
    expect(await tarball.json()).toMatchObject({
      error: expect.stringMatching(
        /^\[ELICENSE\] lic-changes@2\.0\.0 is licensed BUSL-1\.1, which the license policy does not allow\. Run 'gatekeeper explain lic-changes@2\.0\.0' or ask for a waiver: gatekeeper request lic-changes@2\.0\.0/,
      ),
      code: 'ELICENSE',
    });
  });

  it('explains the raw field, the parsed expression, any correction and which ids failed', async () => {
    const and = await s.t.api('GET', '/decisions/lic-and/1.0.0');
    const match = and.body.decision.matches.find((m: { rule: string }) => m.rule === 'license');
    expect(match.details).toMatchObject({ raw: 'MIT AND BUSL-1.1', kind: 'spdx', expression: 'MIT AND BUSL-1.1', failedIds: ['BUSL-1.1'] });
    const corrected = await s.t.api('GET', '/decisions/lic-misspelled/1.0.0');
    expect(corrected.body.decision.matches.find((m: { rule: string }) => m.rule === 'license').details).toMatchObject({
      raw: 'Apache 2.0',
      kind: 'corrected',
      expression: 'Apache-2.0',
      correctedFrom: 'Apache 2.0',
    });
    const legacy = await s.t.api('GET', '/decisions/lic-legacy-array/1.0.0');
    expect(legacy.body.decision.matches.find((m: { rule: string }) => m.rule === 'license').details.raw).toEqual([{ type: 'MIT', url: 'https://example.invalid/mit' }]);
    const cli = await gatekeeper('explain', 'lic-denied@1.0.0');
    expect(cli.out).toContain('lic-denied@1.0.0: BLOCKED [ELICENSE]');
  });

  it('lets a waived version install, and blocks it again once the waiver has expired', async () => {
    // Long enough for an install on a busy machine; the loop below waits for the expiry.
    const waiver = await s.t.api('POST', '/licenses/waivers', { name: 'lic-changes', range: '2.0.0', reason: 'legal signed off', expiresAt: new Date(Date.now() + 8000).toISOString() });
    expect(waiver.status).toBe(201);
    expect((await fetch(new URL('lic-changes/-/lic-changes-2.0.0.tgz', s.t.url))).status).toBe(200);
    const project = await makeProject(s.npm.dir, { name: 'waived' });
    const result = await s.npm.run(['install', 'lic-changes@2.0.0'], { cwd: project });
    expect(result.code).toBe(0);
    const explained = await s.t.api('GET', '/decisions/lic-changes/2.0.0');
    expect(explained.body.decision.matches.map((m: { rule: string; effect: string }) => `${m.rule}:${m.effect}`)).toEqual(['license:deny', 'waiver:allow', 'mode:allow']);
    let status = 200;
    for (let i = 0; i < 300 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(new URL('lic-changes/-/lic-changes-2.0.0.tgz', s.t.url))).status;
    }
    expect(status).toBe(403);
    const cli = await gatekeeper('license', 'waive', 'lic-changes@2.0.0', '--reason', 'renewed', '--expires', '90d');
    expect(cli.out).toMatch(/^waived the license of lic-changes@2\.0\.0 \(waiver \d+, expires /);
    expect((await fetch(new URL('lic-changes/-/lic-changes-2.0.0.tgz', s.t.url))).status).toBe(200);
    const id = /waiver (\d+)/.exec(cli.out)?.[1] as string;
    expect((await gatekeeper('license', 'unwaive', id)).code).toBe(0);
    expect((await fetch(new URL('lic-changes/-/lic-changes-2.0.0.tgz', s.t.url))).status).toBe(403);
    const audit = await s.t.api('GET', '/audit?package=lic-changes');
    expect(audit.body.items.map((i: { action: string }) => i.action)).toEqual(expect.arrayContaining(['license.waiver.create', 'license.waiver.delete']));
  });

  it('keeps one waiver per name and range: a second one, also sent concurrently, is a 409 naming the first', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => s.t.api('POST', '/licenses/waivers', { name: 'lic-changes', range: '^9.0.0', reason: 'one of eight' })));
    const made = answers.filter((a) => a.status === 201);
    expect(made).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 201)) {
      expect([refused.status, refused.body.code]).toEqual([409, 'ECONFLICT']);
      expect(refused.body.error).toBe(`[ECONFLICT] lic-changes@^9.0.0 has a live waiver already (waiver ${made[0].body.id}). Remove it with 'gatekeeper license unwaive ${made[0].body.id}' to replace it`);
    }
    const listed = (await s.t.api('GET', '/licenses/waivers?limit=500')).body.items as Array<{ name: string; range: string }>;
    expect(listed.filter((w) => w.name === 'lic-changes' && w.range === '^9.0.0')).toHaveLength(1);
    expect((await s.t.api('DELETE', `/licenses/waivers/${made[0].body.id}`)).status).toBe(200);
  });

  it("reports a lockfile's licenses grouped by license, with violations marked, as text and JSON", async () => {
    // A lockfile made while everything was allowed, then checked against the policy.
    const saved = (await s.t.api('GET', '/licenses')).body;
    await s.t.api('PUT', '/licenses', { allow: [] });
    const project = await makeProject(s.npm.dir, {
      name: 'reported',
      dependencies: { 'lic-mit': '1.0.0', 'lic-object': '1.0.0', 'lic-legacy-array': '1.0.0', 'lic-and': '1.0.0', 'lic-changes': '2.0.0', 'lic-misspelled': '1.0.0' },
    });
    expect((await s.npm.run(['install'], { cwd: project })).code).toBe(0);
    await s.t.api('PUT', '/licenses', { allow: saved.allow });

    const io = captureIo();
    const cwd = process.cwd();
    process.chdir(project);
    let code: number;
    try {
      code = await main(['license', 'report'], io, env());
    } finally {
      process.chdir(cwd);
    }
    expect(io.errText()).toBe('');
    expect(code).toBe(1);
    expect(io.outText()).toBe(
      [
        `${path.join(project, 'package-lock.json')} (npm-v3): 6 packages, 5 licenses`,
        '',
        'VIOLATION BUSL-1.1 (1)',
        '  ✗ lic-changes@2.0.0',
        '',
        'VIOLATION MIT AND BUSL-1.1 (1)',
        '  ✗ lic-and@1.0.0',
        '',
        'Apache-2.0 (corrected from "Apache 2.0") (1)',
        '    lic-misspelled@1.0.0',
        '',
        'ISC (1)',
        '    lic-object@1.0.0',
        '',
        'MIT (2)',
        '    lic-legacy-array@1.0.0',
        '    lic-mit@1.0.0',
      ].join('\n'),
    );
    const asJson = captureIo();
    expect(await main(['license', 'report', path.join(project, 'package-lock.json'), '--json'], asJson, env())).toBe(1);
    const report = JSON.parse(asJson.outText());
    expect(report.groups.map((g: { license: string; violation: boolean }) => [g.license, g.violation])).toEqual([
      ['BUSL-1.1', true],
      ['MIT AND BUSL-1.1', true],
      ['Apache-2.0 (corrected from "Apache 2.0")', false],
      ['ISC', false],
      ['MIT', false],
    ]);
    fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
  });
});

/**
 * Quarantine of fresh releases, install scripts, known-vulnerable versions and deprecated
 * versions, each in enforce, warn and off, through the real npm CLI and a fixture advisory
 * endpoint.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { consolePackageUrl } from '../../src/core/policy';
import { captureIo, runGatekeeper } from '../support/cli';
import { startFixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, tempDir } from '../support/gatekeeper';
import { createNpmEnv, makeProject } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const GHSA = 'GHSA-8fxw-76j4-5wqw';
const HOSTILE = '\u001b[31mRED\u001b[0m\u0000NUL\r\nnpm error 403 Injected: header\u2028line\u202eevil';

describe('supply-chain rules', () => {
  const s = gatekeeperSuite({
    packages: () => [
      { name: 'fresh-fixture', versions: [{ version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR) }, { version: '1.1.0', license: 'MIT', publishedAt: ago(1 * HOUR) }] },
      { name: 'exempt-fixture', versions: [{ version: '2.0.0', license: 'MIT', publishedAt: ago(1 * HOUR) }] },
      { name: 'notime-fixture', versions: [{ version: '1.0.0', license: 'MIT', omitTime: true }] },
      { name: 'script-fixture', versions: [{ version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR), scripts: { postinstall: 'node -e "process.exit(0)"' } }] },
      { name: 'gyp-fixture', versions: [{ version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR), files: { 'binding.gyp': '{"targets":[]}' } }] },
      { name: 'vuln-fixture', versions: [{ version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR) }, { version: '1.0.1', license: 'MIT', publishedAt: ago(1 * HOUR) }] },
      { name: 'osv-fixture', versions: [{ version: '3.0.0', license: 'MIT', publishedAt: ago(240 * HOUR) }, { version: '3.0.1', license: 'MIT', publishedAt: ago(240 * HOUR) }] },
      { name: 'deprecated-fixture', versions: [{ version: '0.9.0', license: 'MIT', publishedAt: ago(240 * HOUR) }, { version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR), deprecated: 'do not use' }] },
      { name: 'p_dep', versions: [{ version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR), deprecated: HOSTILE }] },
      { name: 'p_adv', versions: [{ version: '1.0.0', license: 'MIT', publishedAt: ago(240 * HOUR) }] },
      // Its bundled dependency's postinstall (inside its tarball) writes a file where BUNDLE_MARKER says.
      {
        name: 'bundler-fixture',
        versions: [
          {
            version: '1.0.0',
            license: 'MIT',
            publishedAt: ago(240 * HOUR),
            dependencies: { 'bundled-child': '1.0.0' },
            bundleDependencies: ['bundled-child'],
            files: {
              'node_modules/bundled-child/package.json': JSON.stringify({ name: 'bundled-child', version: '1.0.0', scripts: { postinstall: 'node mark.js' } }),
              'node_modules/bundled-child/mark.js': "require('fs').writeFileSync(process.env.BUNDLE_MARKER, 'ran')",
            },
          },
        ],
      },
      {
        name: 'hijacked-fixture',
        versions: [
          { version: '1.0.0', license: 'MIT', publishedAt: ago(400 * HOUR) },
          { version: '1.0.1', license: 'MIT', publishedAt: ago(300 * HOUR) },
          { version: '1.0.2', license: 'MIT', publishedAt: ago(1 * HOUR) },
        ],
      },
    ],
  });
  const gatekeeper = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);
  const install = async (spec: string) => {
    const project = await makeProject(s.npm.dir, { name: `p-${spec.replace(/[^a-z0-9]/g, '-')}` });
    const result = await s.npm.run(['install', spec, '--prefer-online', '--ignore-scripts'], { cwd: project });
    const installed = result.code === 0 ? (JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8')).packages[`node_modules/${spec.split('@')[0]}`]?.version as string) : undefined;
    return { ...result, installed };
  };
  const tarball = (name: string, version: string) => fetch(new URL(`${name}/-/${name}-${version}.tgz`, s.t.url));

  beforeAll(() => {
    s.upstream.setAdvisories({
      'vuln-fixture': [{ id: 1001, url: `https://github.com/advisories/${GHSA}`, title: 'Prototype pollution', severity: 'critical', vulnerable_versions: '<1.0.1' }],
    });
  });

  describe('minimum release age', () => {
    it('is off at 0 (the default): the newest version installs', async () => {
      expect((await install('fresh-fixture')).installed).toBe('1.1.0');
    });

    it('enforce: hides a version published an hour ago, so its predecessor installs; refuses its tarball', async () => {
      const set = await gatekeeper('policy', 'set', 'release-age', '3d');
      expect(set.out).toContain('release-age: enforce (minimum 3 days; unknown age: allow)');
      const result = await install('fresh-fixture');
      expect(result.installed).toBe('1.0.0');
      expect(result.output).toMatch(/npm notice gatekeeper: fresh-fixture@1\.1\.0 \(latest\) is blocked \[EQUARANTINED\]: fresh-fixture@1\.1\.0 was published .*; fresh-fixture@1\.0\.0 installs instead\. Run 'gatekeeper explain fresh-fixture@1\.1\.0'/);
      const refused = await tarball('fresh-fixture', '1.1.0');
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as any).error).toMatch(
        /^\[EQUARANTINED\] fresh-fixture@1\.1\.0 was published \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; new versions install after 3 days, so it is installable after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\. /,
      );
    });

    it('lets an exempted package pass', async () => {
      expect((await install('exempt-fixture')).code).not.toBe(0);
      expect((await gatekeeper('policy', 'exempt', 'release-age', 'exempt-fixture', '--reason', 'internal mirror of a trusted vendor')).code).toBe(0);
      expect((await install('exempt-fixture')).installed).toBe('2.0.0');
      const explain = await s.t.api('GET', '/decisions/exempt-fixture/2.0.0');
      expect(explain.body.decision.matches).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'release-age', effect: 'info' })]));
    });

    it('treats a version without a publish time by the unknown-age setting', async () => {
      expect((await install('notime-fixture')).installed).toBe('1.0.0');
      await gatekeeper('policy', 'set', 'release-age.unknown', 'block');
      const blocked = await tarball('notime-fixture', '1.0.0');
      expect(((await blocked.json()) as any).error).toMatch(/^\[EQUARANTINED\] notime-fixture@1\.0\.0 has no publish time, so its age is unknown/);
      await gatekeeper('policy', 'set', 'release-age.unknown', 'allow');
    });

    it('warn: installs the new version, prints a warning and audits it', async () => {
      await gatekeeper('policy', 'set', 'release-age.mode', 'warn');
      const result = await install('fresh-fixture');
      expect(result.installed).toBe('1.1.0');
      expect(result.output).toMatch(/npm notice gatekeeper: warning for fresh-fixture@1\.1\.0: fresh-fixture@1\.1\.0 was published \d{4}-\d\d-\d\dT[\d:]+Z; new versions install after 3 days, so it is installable after \d{4}-\d\d-\d\dT[\d:]+Z \[EQUARANTINED; the release-age rule is in warn mode, so it is not enforced\]/);
      let actions: string[] = [];
      for (let i = 0; i < 50 && !actions.includes('install.warned'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        actions = (await s.t.api('GET', '/audit?package=fresh-fixture')).body.items.map((a: { action: string }) => a.action);
      }
      expect(actions).toContain('install.warned');
    });

    it('off: no hiding and no warning', async () => {
      await gatekeeper('policy', 'set', 'release-age.mode', 'off');
      const result = await install('fresh-fixture');
      expect(result.installed).toBe('1.1.0');
      expect(result.output).not.toContain('npm notice gatekeeper');
      await gatekeeper('policy', 'set', 'release-age.mode', 'enforce');
    });
  });

  describe('install scripts', () => {
    it('warn (the default): serves the version with a notice', async () => {
      const result = await install('script-fixture');
      expect(result.installed).toBe('1.0.0');
      expect(result.output).toMatch(/npm notice gatekeeper: warning for script-fixture@1\.0\.0: script-fixture@1\.0\.0 runs install scripts \(postinstall: node -e/);
    });

    it('enforce: blocks a postinstall script, and a binding.gyp, until approved for scripts', async () => {
      await gatekeeper('policy', 'set', 'scripts', 'enforce');
      const blocked = await install('script-fixture');
      expect(blocked.code).not.toBe(0);
      expect(blocked.output).toContain('[EINSTALLSCRIPTS] script-fixture@1.0.0 runs install scripts (postinstall: node -e');
      expect(blocked.output).toContain('Ask for its scripts to be allowed: gatekeeper request script-fixture@1.0.0');
      const gyp = await tarball('gyp-fixture', '1.0.0');
      expect(gyp.status).toBe(403);
      expect(((await gyp.json()) as any).error).toContain('gyp-fixture@1.0.0 runs install scripts (install: node-gyp rebuild');

      const approved = await gatekeeper('approve', 'script-fixture', '--allow-scripts', '--reason', 'reviewed the script');
      expect(approved.out).toMatch(/approved script-fixture@\* \(approval \d+, install scripts allowed\)/);
      expect((await install('script-fixture')).installed).toBe('1.0.0');
      // A plain approval does not allow scripts.
      await s.t.api('POST', '/approvals', { name: 'gyp-fixture', reason: 'no scripts' });
      expect((await tarball('gyp-fixture', '1.0.0')).status).toBe(403);
    });

    it("enforce: blocks a package with bundled dependencies, whose install scripts come inside its tarball, and npm runs none of them", async () => {
      const marker = path.join(tempDir('gk-bundle-'), 'ran');
      const project = await makeProject(s.npm.dir, { name: 'p-bundler' });
      // Scripts on, as npm runs them by default: the gate, not --ignore-scripts, keeps the bundled postinstall from running.
      const result = await s.npm.run(['install', 'bundler-fixture', '--prefer-online'], { cwd: project, env: { BUNDLE_MARKER: marker } });
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('[EINSTALLSCRIPTS] bundler-fixture@1.0.0 runs install scripts (whatever its bundled dependencies run (bundled-child))');
      expect(fs.existsSync(marker)).toBe(false);
      const decision = await s.t.api('GET', '/decisions/bundler-fixture/1.0.0');
      expect([decision.body.decision.allowed, decision.body.decision.code]).toEqual([false, 'EINSTALLSCRIPTS']);
    });

    it('off: no check at all', async () => {
      await gatekeeper('policy', 'set', 'scripts', 'off');
      expect((await tarball('gyp-fixture', '1.0.0')).status).toBe(200);
      const packument = await fetch(new URL('gyp-fixture', s.t.url));
      expect(packument.headers.get('npm-notice')).toBeNull();
    });
  });

  describe('advisories', () => {
    it('enforce: blocks a critical advisory, while its fixed version passes although it is young', async () => {
      expect((await gatekeeper('policy', 'show')).out).toContain('release-age: enforce (minimum 3 days');
      const result = await install('vuln-fixture');
      expect(result.installed).toBe('1.0.1');
      const refused = await tarball('vuln-fixture', '1.0.0');
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as any).error).toBe(
        `[EADVISORY] vuln-fixture@1.0.0: ${GHSA} (critical) Prototype pollution, fixed in 1.0.1. Use a fixed version; run 'gatekeeper explain vuln-fixture@1.0.0' for the advisories; or open ${consolePackageUrl(s.t.url, 'vuln-fixture', '1.0.0')} to see why and request it`,
      );
      const fix = await s.t.api('GET', '/decisions/vuln-fixture/1.0.1');
      expect(fix.body.decision.allowed).toBe(true);
      expect(fix.body.decision.matches).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'release-age', ruleId: `fix:${GHSA}` })]));
      const health = await s.t.api('GET', '/health', undefined, null);
      expect(health.body.advisories).toMatchObject({ ok: true, mode: 'enforce' });
    });

    it('respects the severity threshold', async () => {
      s.upstream.setAdvisories({
        'vuln-fixture': [{ id: 1001, url: `https://github.com/advisories/${GHSA}`, title: 'Prototype pollution', severity: 'critical', vulnerable_versions: '<1.0.1' }],
        'osv-fixture': [{ id: 1002, url: 'https://github.com/advisories/GHSA-2222-3333-4444', title: 'Minor issue', severity: 'moderate', vulnerable_versions: '<3.0.1' }],
      });
      expect((await tarball('osv-fixture', '3.0.0')).status).toBe(200);
      await gatekeeper('policy', 'set', 'advisories.severity', 'moderate');
      expect((await tarball('osv-fixture', '3.0.0')).status).toBe(403);
      await gatekeeper('policy', 'set', 'advisories.severity', 'critical');
      expect((await tarball('osv-fixture', '3.0.0')).status).toBe(200);
    });

    it('imports OSV advisories offline', async () => {
      const file = path.join(tempDir('gk-osv-'), 'osv.json');
      fs.writeFileSync(
        file,
        JSON.stringify({
          id: 'GHSA-7777-8888-9999',
          summary: 'Remote code execution in osv-fixture',
          aliases: ['CVE-2099-1234'],
          affected: [{ package: { ecosystem: 'npm', name: 'osv-fixture' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '3.0.1' }] }] }],
          database_specific: { severity: 'CRITICAL' },
          references: [{ type: 'ADVISORY', url: 'https://github.com/advisories/GHSA-7777-8888-9999' }],
        }),
      );
      const imported = await gatekeeper('advisories', 'import', file);
      expect(imported.out).toBe('imported 1 advisories for osv-fixture');
      const refused = await tarball('osv-fixture', '3.0.0');
      expect(((await refused.json()) as any).error).toMatch(/^\[EADVISORY\] osv-fixture@3\.0\.0: GHSA-7777-8888-9999 \(critical\) Remote code execution in osv-fixture, fixed in 3\.0\.1/);
      expect((await install('osv-fixture')).installed).toBe('3.0.1');
    });

    it("a malware entry gives the version after it no way around the release age: the hijacker's next release waits, the one before installs", async () => {
      const file = path.join(tempDir('gk-osv-'), 'mal.json');
      fs.writeFileSync(file, JSON.stringify({ id: 'MAL-2099-9001', summary: 'Malicious code in hijacked-fixture (npm)', affected: [{ package: { ecosystem: 'npm', name: 'hijacked-fixture' }, versions: ['1.0.1'] }] }));
      expect((await gatekeeper('advisories', 'import', file)).code).toBe(0);
      expect((await install('hijacked-fixture')).installed).toBe('1.0.0');
      const next = await s.t.api('GET', '/decisions/hijacked-fixture/1.0.2');
      expect([next.body.decision.allowed, next.body.decision.code]).toEqual([false, 'EQUARANTINED']);
    });

    it('warn: installs the vulnerable version with a notice; off: silently', async () => {
      await gatekeeper('policy', 'set', 'advisories', 'warn');
      const warned = await install('vuln-fixture@1.0.0');
      expect(warned.installed).toBe('1.0.0');
      expect(warned.output).toContain(`${GHSA} (critical)`);
      await gatekeeper('policy', 'set', 'advisories', 'off');
      const off = await install('vuln-fixture@1.0.0');
      expect(off.installed).toBe('1.0.0');
      expect(off.output).not.toContain(GHSA);
      await gatekeeper('policy', 'set', 'advisories', 'enforce');
    });

    it('npm audit through the gatekeeper returns the fixture advisories', async () => {
      await gatekeeper('policy', 'set', 'advisories', 'off');
      const project = await makeProject(s.npm.dir, { name: 'audited', dependencies: { 'vuln-fixture': '1.0.0' } });
      expect((await s.npm.run(['install', '--ignore-scripts'], { cwd: project })).code).toBe(0);
      await gatekeeper('policy', 'set', 'advisories', 'enforce');
      const audit = await s.npm.run(['audit', '--json'], { cwd: project, env: { npm_config_audit: 'true' } });
      const report = JSON.parse(audit.stdout);
      expect(report.vulnerabilities['vuln-fixture']).toMatchObject({ severity: 'critical' });
      expect(report.vulnerabilities['vuln-fixture'].via[0]).toMatchObject({ url: `https://github.com/advisories/${GHSA}`, title: 'Prototype pollution' });
    });
  });

  describe('deprecated versions', () => {
    it('enforce hides them; off (the default) serves them', async () => {
      expect((await install('deprecated-fixture@1.0.0')).installed).toBe('1.0.0');
      await gatekeeper('policy', 'set', 'deprecated', 'enforce');
      const result = await install('deprecated-fixture');
      expect(result.installed).toBe('0.9.0');
      expect(((await (await tarball('deprecated-fixture', '1.0.0')).json()) as any).error).toMatch(/^\[EDEPRECATED\] deprecated-fixture@1\.0\.0 is deprecated: do not use/);
      await gatekeeper('policy', 'set', 'deprecated', 'off');
    });

    it("quotes a hostile deprecation message on one line, without escape sequences, controls or separators", async () => {
      await gatekeeper('policy', 'set', 'deprecated', 'enforce');
      try {
        const refused = await tarball('p_dep', '1.0.0');
        expect(refused.status).toBe(403);
        const error = ((await refused.json()) as any).error as string;
        expect(error).toBe(
          `[EDEPRECATED] p_dep@1.0.0 is deprecated: RED NUL npm error 403 Injected: header lineevil. Run 'gatekeeper explain p_dep@1.0.0'; or open ${consolePackageUrl(s.t.url, 'p_dep', '1.0.0')} to see why and request it`,
        );
      } finally {
        await gatekeeper('policy', 'set', 'deprecated', 'off');
      }
    });

    it('quotes a 3,000-character advisory title cut to 200 characters: the next step survives in body and status text', async () => {
      s.upstream.setAdvisories({ p_adv: [{ id: 1003, url: 'https://github.com/advisories/GHSA-5555-6666-7777', title: `Bad\r\n${'Z'.repeat(3000)}`, severity: 'critical', vulnerable_versions: '*' }] });
      try {
        const refused = await tarball('p_adv', '1.0.0');
        expect(refused.status).toBe(403);
        const next = `no fixed version yet. Use a fixed version; run 'gatekeeper explain p_adv@1.0.0' for the advisories; or open ${consolePackageUrl(s.t.url, 'p_adv', '1.0.0')} to see why and request it`;
        // The status text is the brief form: the fix before the title, quoted shorter, then the whole next step.
        // The cut title's ellipsis ends the sentence: no full stop of its own after it.
        expect(refused.statusText).toMatch(/^\[EADVISORY\] p_adv@1\.0\.0: GHSA-5555-6666-7777 \(critical\), no fixed version yet: Bad Z+\.\.\. Use a fixed version; /);
        expect(refused.statusText.endsWith(next.slice('no fixed version yet. '.length))).toBe(true);
        const error = ((await refused.json()) as any).error as string;
        expect(error).toMatch(/^\[EADVISORY\] p_adv@1\.0\.0: GHSA-5555-6666-7777 \(critical\) Bad Z+…, /);
        expect(error.endsWith(next)).toBe(true);
        expect(error.length).toBeLessThan(600);
      } finally {
        s.upstream.setAdvisories({
          'vuln-fixture': [{ id: 1001, url: `https://github.com/advisories/${GHSA}`, title: 'Prototype pollution', severity: 'critical', vulnerable_versions: '<1.0.1' }],
        });
      }
    });
  });

  it('validates policy settings', async () => {
    for (const body of [{ scripts: { mode: 'sometimes' } }, { releaseAge: { minimum: 'soon' } }, { advisories: { severity: 'extreme' } }, { colour: 'blue' }, { scripts: { volume: 11 } }]) {
      const res = await s.t.api('PATCH', '/policy', body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status: 400, code: 'EVALIDATION' });
    }
    const audit = await s.t.api('GET', '/audit?action=policy.rules');
    expect(audit.body.items.length).toBeGreaterThan(5);
  });
});

describe('an unreachable advisory source', () => {
  it('neither lets everything through silently nor blocks everything; shows in /health and the log, and in one short notice per install', async () => {
    const upstream = await startFixtureRegistry([
      { name: 'offline-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'offline-other', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
      { name: 'offline-third', versions: [{ version: '2.0.0', license: 'MIT' }] },
    ]);
    // The upstream, except that its advisory endpoint is down.
    const proxy = http.createServer((req, res) => {
      if (req.url?.startsWith('/-/npm/v1/security/')) {
        res.statusCode = 503;
        res.end('{"error":"down"}');
        return;
      }
      const forward = http.request(new URL(req.url ?? '/', upstream.url), { method: req.method, headers: { ...req.headers, host: new URL(upstream.url).host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(forward);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const t = await startTestGatekeeper({
      upstream: `http://127.0.0.1:${(proxy.address() as { port: number }).port}/`,
      // The fixture's tarball URLs name its own origin, behind the proxy.
      settings: { tarballHosts: [new URL(upstream.url).origin] },
    });
    try {
      await t.api('PATCH', '/policy', { mode: 'open' });
      // Not a notice about the package: one short notice for the install (npm's session), never one per package.
      const session = { 'npm-session': 'session-one' };
      const served = await fetch(new URL('offline-fixture', t.url), { headers: session });
      expect(served.status).toBe(200);
      expect(served.headers.get('npm-notice')).toBe('gatekeeper: the advisory source is unreachable, so advisories may be out of date; the operator sees it in /-/gatekeeper/v1/health');
      for (const name of ['offline-other', 'offline-fixture']) {
        const again = await fetch(new URL(name, t.url), { headers: session });
        expect([name, again.status, again.headers.get('npm-notice')]).toEqual([name, 200, null]);
      }
      const other = await fetch(new URL('offline-other', t.url), { headers: { 'npm-session': 'session-two' } });
      expect(other.headers.get('npm-notice')).toContain('the advisory source is unreachable');
      const health = await t.api('GET', '/health', undefined, null);
      expect(health.body.advisories).toMatchObject({ ok: false, lastError: expect.stringContaining("the upstream's advisory endpoint answered 503.") });
      expect(fs.readFileSync(t.logFile, 'utf8')).toContain('advisory source unreachable');

      // Through npm: an install of three packages prints the notice once.
      const npm = await createNpmEnv(t.url);
      try {
        const project = await makeProject(npm.dir, { name: 'offline-install' });
        const installed = await npm.run(['install', 'offline-third', 'offline-other', 'offline-fixture', '--prefer-online'], { cwd: project });
        expect(installed.code).toBe(0);
        expect(installed.output.match(/the advisory source is unreachable/g)).toHaveLength(1);
        expect(installed.output).not.toContain('could not be checked recently');
      } finally {
        await npm.cleanup();
      }

      await t.api('PATCH', '/policy', { advisories: { unavailable: 'block' } });
      const blocked = await fetch(new URL('offline-fixture/-/offline-fixture-1.0.0.tgz', t.url));
      expect(blocked.status).toBe(403);
      expect(((await blocked.json()) as any).error).toMatch(/^\[EADVISORY\] offline-fixture@1\.0\.0: its advisories could not be checked \(the advisory source is unreachable\)/);
    } finally {
      await t.close();
      proxy.close();
      await upstream.close();
    }
  });
});

/**
 * Nothing from the upstream is trusted: messy version keys, broken documents, tarballs whose
 * bytes or package.json disagree with the packument, tarball URLs on other hosts, trickling
 * answers, and publishes whose tarball disagrees with their manifest. Through the real npm
 * and pnpm CLIs against the fixture upstream with its fault hooks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Store } from '../../src/db/store';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { loginToken, startTestGatekeeper, tempDir } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { publishDocument } from '../support/publish';
import { runTool, toolEnv } from '../support/tools';
import { gatekeeperSuite } from '../support/suite';

const LEGACY = ['1.0.0beta', '1.0.0beta2', '1.0.0rc3', '2.0.0rc'];
const MARKER = 'PWNED-BY-POSTINSTALL';

describe('trusting nothing from the upstream', () => {
  let elsewhere: FixtureRegistry;
  let pnpmHome: string;

  const get = async (p: string, headers: Record<string, string> = {}) => {
    const res = await fetch(new URL(p.slice(1), s.t.url), { headers });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, statusText: res.statusText, body, text };
  };

  const pnpm = async (project: string, args: string[]) => runTool('pnpm', [...args, '--registry', s.t.url, '--reporter', 'append-only'], { cwd: project, env: toolEnv(pnpmHome, s.t.url) });

  beforeAll(async () => {
    elsewhere = await startFixtureRegistry([{ name: 'elsewhere', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
  });

  // The first test needs the policy as a gatekeeper starts (no mode set).
  const s = gatekeeperSuite({
    packages: [
      {
        name: 'legacy-keys',
        versions: [
          ...LEGACY.map((version) => ({ version, legacy: true, license: 'MIT' })),
          { version: '1.0.0', license: 'MIT' },
          { version: '2.0.0', license: 'MIT' },
          { version: '3.0.0', license: 'MIT' },
        ],
      },
      { name: 'half-broken', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
      {
        name: 'confused',
        versions: [
          { version: '1.0.0', license: 'MIT' },
          ...['1.1.0', '1.2.0'].map((version) => ({
            version,
            license: 'MIT',
            tarballPackageJson: { scripts: { postinstall: `node -e "require('fs').writeFileSync('${MARKER}', '1')"` } },
          })),
        ],
      },
      { name: 'tampered', versions: [{ version: '1.0.0', license: 'MIT', wrongIntegrity: true }] },
      { name: 'elsewhere', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'slow', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'garbage', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'hostile-advice', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.0.1', license: 'MIT' }] },
      { name: 'constructor', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'staged', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ],
    settings: { upstreamTimeout: '2s', publishRules: [{ pattern: '@acme/*', roles: ['publisher'], shadowUpstream: false }] },
    policyMode: 'none',
  });

  beforeAll(() => {
    // The packument names a tarball on another service on this machine.
    s.upstream.addVersion('elsewhere', { version: '1.0.0', license: 'MIT', dist: { tarball: `${elsewhere.url}elsewhere/-/elsewhere-1.0.0.tgz` } });
    pnpmHome = tempDir('gk-pnpm-');
    fs.writeFileSync(path.join(pnpmHome, '.npmrc'), `registry=${s.t.url}\n`);
  });

  afterAll(async () => {
    await elsewhere?.close();
    if (pnpmHome) fs.rmSync(pnpmHome, { recursive: true, force: true });
  });

  it("installs a package with express-like legacy version keys under a range approval, with versions hidden", async () => {
    expect((await s.t.api('POST', '/approvals', { name: 'legacy-keys', range: '^1.0.0 || ^2.0.0', reason: 'range' })).status).toBe(201);
    const packument = await get('/legacy-keys');
    expect(packument.status).toBe(200);
    // A range never matches a legacy key: they are hidden with 3.0.0, and the notice sorts them without throwing.
    expect(Object.keys(packument.body.versions).sort()).toEqual(['1.0.0', '2.0.0']);
    expect(packument.body['dist-tags'].latest).toBe('2.0.0');

    const project = await makeProject(s.npm.dir, { name: 'uses-legacy' });
    const installed = await s.npm.run(['install', 'legacy-keys'], { cwd: project });
    expect(installed.output).not.toContain('EPOLICYUNAVAILABLE');
    expect(installed.code).toBe(0);
    expect(require(path.join(project, 'node_modules/legacy-keys/package.json')).version).toBe('2.0.0');

    // Only an exact approval of a legacy key allows it.
    expect((await s.t.api('POST', '/approvals', { name: 'legacy-keys', range: '1.0.0beta', reason: 'exactly this one' })).status).toBe(201);
    const after = await get('/legacy-keys');
    expect(Object.keys(after.body.versions).sort()).toEqual(['1.0.0', '1.0.0beta', '2.0.0']);
    const tarball = await fetch(new URL('legacy-keys/-/legacy-keys-1.0.0beta.tgz', s.t.url));
    expect(tarball.status).toBe(200);
    expect(Buffer.from(await tarball.arrayBuffer()).equals(s.upstream.tarball('legacy-keys', '1.0.0beta'))).toBe(true);
  });

  it('survives malformed version entries and installs the valid versions beside them', async () => {
    await s.t.api('PATCH', '/policy', { mode: 'open' });
    const normal = (await (await fetch(new URL('half-broken', s.upstream.url))).json()) as any;
    normal.versions['2.0.0'] = null;
    normal.versions['3.0.0'] = 'not an entry';
    normal.versions['4.0.0'] = { name: 'half-broken', version: '4.0.0', dist: { tarball: 42 } };
    normal['dist-tags'].latest = '2.0.0';
    s.upstream.fault({ packument: 'half-broken' }, { body: JSON.stringify(normal), status: 200, headers: { 'content-type': 'application/json' } });

    const packument = await get('/half-broken');
    expect(packument.status).toBe(200);
    expect(Object.keys(packument.body.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(packument.body['dist-tags'].latest).toBe('1.1.0');

    const project = await makeProject(s.npm.dir, { name: 'uses-half-broken' });
    const installed = await s.npm.run(['install', 'half-broken'], { cwd: project });
    expect(installed.code).toBe(0);
    expect(require(path.join(project, 'node_modules/half-broken/package.json')).version).toBe('1.1.0');

    // explain names the dropped entry and why.
    const explained = await s.t.api('GET', '/decisions/half-broken/2.0.0');
    expect(explained.body.dropped).toMatch(/null/);
    expect((await get('/-/ping')).status).toBe(200);
  });

  it('answers upstream garbage with EUPSTREAM, not "not found"', async () => {
    for (const body of ['{"name":"garbage","versions":{', '<html>oops</html>', '[]', 'null']) {
      s.upstream.fault({ packument: 'garbage' }, { body, status: 200, headers: { 'content-type': 'application/json' } });
      const answer = await get('/garbage');
      expect({ body, status: answer.status }).toEqual({ body, status: 502 });
      expect(answer.body.code).toBe('EUPSTREAM');
      expect(answer.statusText).toMatch(/^\[EUPSTREAM\] /);
    }
    s.upstream.clearFaults();
  });

  it("reads the upstream's advisories as hostile text, and answers a package named constructor", async () => {
    // NUL in every text field (jsonb cannot hold it), a terminal escape and a line break in the
    // title, an id that is no id, the severity in capitals; the answer names no `constructor`.
    const answer = {
      'hostile-advice': [{ id: '7\u0000', title: '\u001b[31mRCE\u0000 here\r\nnpm error Injected: x', url: 'https://advisories.example.test/\u0000', severity: 'CRITICAL', vulnerable_versions: '<1.0.1' }],
    };
    for (const name of ['hostile-advice', 'constructor']) expect((await s.t.api('POST', '/approvals', { name, reason: 'hostile advisories test' })).status).toBe(201);
    s.upstream.fault({ path: '/-/npm/v1/security/advisories/bulk' }, { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer) });
    try {
      const doc = await get('/hostile-advice');
      expect({ status: doc.status, text: doc.status === 200 ? '' : doc.text }).toEqual({ status: 200, text: '' });
      expect(Object.keys(doc.body.versions)).toEqual(['1.0.1']);
      const refused = await get('/hostile-advice/-/hostile-advice-1.0.0.tgz');
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('EADVISORY');
      expect(refused.body.error).toContain('RCE');
      expect(refused.body.error).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
      const ctor = await get('/constructor');
      expect({ status: ctor.status, text: ctor.status === 200 ? '' : ctor.text }).toEqual({ status: 200, text: '' });
      expect(Object.keys(ctor.body.versions)).toEqual(['1.0.0']);
      const health = (await s.t.api('GET', '/health')).body.advisories;
      expect({ ok: health.ok, lastError: health.lastError }).toEqual({ ok: true, lastError: null });
    } finally {
      s.upstream.clearFaults();
    }
  });

  it('refuses a tarball whose package.json adds an install script (manifest confusion), in npm and pnpm', async () => {
    // Each client meets a version whose tarball nobody has fetched yet, so the refusal happens on the tarball.
    const project = await makeProject(s.npm.dir, { name: 'uses-confused', dependencies: { confused: '1.1.0' } });
    const viaNpm = await s.npm.run(['install'], { cwd: project });
    expect(viaNpm.code).not.toBe(0);
    expect(viaNpm.output).toContain('EMANIFESTMISMATCH');
    expect(fs.existsSync(path.join(project, MARKER))).toBe(false);

    const pnpmProject = await makeProject(s.npm.dir, { name: 'uses-confused-pnpm', dependencies: { confused: '1.2.0' } });
    const viaPnpm = await pnpm(pnpmProject, ['install']);
    expect(viaPnpm.code).not.toBe(0);
    expect(viaPnpm.output).toContain('EMANIFESTMISMATCH');
    expect(fs.existsSync(path.join(pnpmProject, MARKER))).toBe(false);
    expect(fs.existsSync(path.join(pnpmProject, 'node_modules/confused', MARKER))).toBe(false);

    // The inspection is recorded once, the version is hidden from then on, and explain says why.
    const rows = await s.t.gk.database.knex('tarball_inspections').where({ package: 'confused', version: '1.1.0' });
    expect(rows).toHaveLength(1);
    expect(rows[0].mismatches).toEqual([expect.objectContaining({ field: 'installScripts' })]);
    const packument = await get('/confused');
    expect(Object.keys(packument.body.versions)).toEqual(['1.0.0']);
    const explained = await s.t.api('GET', '/decisions/confused/1.1.0');
    expect(explained.body.decision.code).toBe('EMANIFESTMISMATCH');
    // Its tarball was never stored.
    expect(fs.existsSync(path.join(s.t.dataDir, 'storage', 'confused', 'confused-1.1.0.tgz'))).toBe(false);
    // A lockfile check before an install knows it too (a fresh process loads inspections in bulk).
    const second = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db });
    try {
      const check = await second.api('POST', '/lockfile/check', { entries: [{ name: 'confused', version: '1.1.0' }, { name: 'confused', version: '1.0.0' }] });
      expect(check.status).toBe(200);
      expect(check.body).toMatchObject({ ok: false, checked: 2, blocked: [expect.objectContaining({ name: 'confused', version: '1.1.0', code: 'EMANIFESTMISMATCH' })] });
      expect(check.body.blocked).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('refuses and never stores a tarball whose bytes do not match its integrity, in npm and pnpm', async () => {
    const project = await makeProject(s.npm.dir, { name: 'uses-tampered', dependencies: { tampered: '1.0.0' } });
    const viaNpm = await s.npm.run(['install'], { cwd: project });
    expect(viaNpm.code).not.toBe(0);
    expect(viaNpm.output).toContain('EINTEGRITY');
    const pnpmProject = await makeProject(s.npm.dir, { name: 'uses-tampered-pnpm', dependencies: { tampered: '1.0.0' } });
    const viaPnpm = await pnpm(pnpmProject, ['install']);
    expect(viaPnpm.code).not.toBe(0);
    expect(viaPnpm.output).toContain('EINTEGRITY');
    expect(fs.existsSync(path.join(s.t.dataDir, 'storage', 'tampered', 'tampered-1.0.0.tgz'))).toBe(false);
    await eventually(async () => (await s.t.api('GET', '/audit?action=install.blocked&package=tampered')).body.items.length > 0, 'the refusal is audited');
    const audit = await s.t.api('GET', '/audit?action=install.blocked&package=tampered');
    expect(audit.body.items[0]).toMatchObject({ package: 'tampered', version: '1.0.0', details: expect.objectContaining({ code: 'EINTEGRITY' }) });
  });

  it('never requests a tarball URL on another host, and says why', async () => {
    const project = await makeProject(s.npm.dir, { name: 'uses-elsewhere', dependencies: { elsewhere: '1.0.0' } });
    const viaNpm = await s.npm.run(['install'], { cwd: project });
    expect(viaNpm.code).not.toBe(0);
    expect(viaNpm.output).toContain('ETARBALLORIGIN');
    expect(elsewhere.requests).toEqual([]);
    // The version stays visible; only its tarball is refused.
    expect(Object.keys((await get('/elsewhere')).body.versions)).toEqual(['1.0.0']);
    await eventually(async () => (await s.t.api('GET', '/audit?action=install.blocked&package=elsewhere')).body.items.length > 0, 'the refusal is audited');
    const audit = await s.t.api('GET', '/audit?action=install.blocked&package=elsewhere');
    expect(audit.body.items[0].details).toMatchObject({ code: 'ETARBALLORIGIN', url: expect.stringContaining(elsewhere.url) });
  });

  it("never passes on the upstream's staged versions or policy restrictions, which npm would act on", async () => {
    // Staged versions install under --include-staged, from wherever their manifest points, with nothing deciding them;
    // an upstream's policy restrictions would refuse versions the gatekeeper allows, in the upstream's words.
    // (Verdaccio's stored copy keeps neither; the validator and the gate drop them whatever the path.)
    const doc = (await (await fetch(new URL('staged', s.upstream.url))).json()) as any;
    const other = (await (await fetch(new URL('elsewhere', elsewhere.url))).json()) as any;
    const asked = elsewhere.requests.length;
    doc.stagedVersions = { versions: { '2.0.0': { name: 'staged', version: '2.0.0', dist: other.versions['1.0.0'].dist } } };
    doc.policyRestrictions = { message: 'THE UPSTREAM REFUSES THIS', versions: { '1.0.0': { version: '1.0.0' } } };
    s.upstream.fault({ packument: 'staged' }, { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } });
    try {
      const served = await get('/staged');
      expect(served.status).toBe(200);
      expect(served.body).not.toHaveProperty('stagedVersions');
      expect(served.body).not.toHaveProperty('policyRestrictions');
      const project = await makeProject(s.npm.dir, { name: 'uses-staged' });
      const staged = await s.npm.run(['install', 'staged@2.0.0', '--include-staged'], { cwd: project });
      expect(staged.code).not.toBe(0);
      expect(staged.output).toContain('No matching version found for staged@2.0.0');
      expect(elsewhere.requests).toHaveLength(asked);
      const allowed = await s.npm.run(['install', 'staged@1.0.0'], { cwd: project });
      expect(allowed.output).not.toContain('THE UPSTREAM REFUSES THIS');
      expect(allowed.code).toBe(0);
    } finally {
      s.upstream.clearFaults();
    }
  });

  it('cuts a trickling upstream at the deadline while the rest of the registry answers', async () => {
    s.upstream.fault({ packument: 'slow' }, { trickle: { bytes: 1, intervalMs: 400 } });
    const order: string[] = [];
    const slow = get('/slow').then((r) => {
      order.push('slow');
      return r;
    });
    const ping = await get('/-/ping');
    order.push('ping');
    expect(ping.status).toBe(200);
    const answer = await slow;
    expect(order).toEqual(['ping', 'slow']);
    expect(answer.status).toBe(504);
    expect(answer.body.code).toBe('EUPSTREAMTIMEOUT');
    s.upstream.clearFaults();
  });

  it('refuses a publish whose tarball disagrees with its manifest, before reserving the version', async () => {
    await s.t.api('POST', '/users', { username: 'pub', password: 'pub-password', role: 'publisher' });
    const token = await loginToken(s.t.url, 'pub', 'pub-password');
    const body = publishDocument('@acme/sneaky', '1.0.0', {
      packageJson: { name: '@acme/other', version: '9.9.9', license: 'GPL-3.0-only', scripts: { postinstall: 'node evil.js' } },
    });
    const res = await fetch(new URL('@acme%2fsneaky', s.t.url), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as { code: string; error: string };
    expect(res.status).toBe(403);
    expect(answer.code).toBe('EMANIFESTMISMATCH');
    for (const field of ['name', 'version', 'installScripts', 'license']) expect(answer.error).toContain(field);
    expect(res.statusText).toMatch(/^\[EMANIFESTMISMATCH\] /);
    expect(await s.t.gk.database.knex('published_versions').where({ name: '@acme/sneaky' })).toEqual([]);
    const audit = await s.t.api('GET', '/audit?action=package.publish_refused&package=@acme/sneaky');
    expect(audit.body.items[0].details.code).toBe('EMANIFESTMISMATCH');
  });

  it('refuses a publish whose tarball declares other dependencies or bins than its manifest, naming the field; normalised spellings agree', async () => {
    const token = await loginToken(s.t.url, 'pub', 'pub-password');
    const put = async (name: string, packageJson: Record<string, unknown>, manifest: Record<string, unknown>) => {
      const res = await fetch(new URL(name.replace('/', '%2f'), s.t.url), {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(publishDocument(name, '1.0.0', { packageJson: { name, version: '1.0.0', license: 'MIT', ...packageJson }, manifest })),
      });
      const body = (await res.json()) as { code?: string; error?: string };
      return { status: res.status, code: body.code, error: body.error ?? '' };
    };
    const refusals: Array<[string, Record<string, unknown>, Record<string, unknown>, string]> = [
      ['@acme/deps', { dependencies: { evil: '^1.0.0' } }, { dependencies: {} }, 'dependencies: the manifest says {"dependencies.evil":null}, the tarball {"dependencies.evil":"^1.0.0"}'],
      ['@acme/optional', { optionalDependencies: { evil: '1.0.0' } }, {}, '"optionalDependencies.evil":"1.0.0"'],
      ['@acme/peer', { peerDependencies: { react: '*' } }, { peerDependencies: { react: '>=18' } }, '"peerDependencies.react":"*"'],
      ['@acme/bundled', { bundledDependencies: ['evil'], dependencies: { evil: '1.0.0' } }, { dependencies: { evil: '1.0.0' } }, '"bundleDependencies.evil":"bundled"'],
      ['@acme/bins', { bin: { bins: './evil.js' } }, { bin: { bins: 'cli.js' } }, 'bin: the manifest says {"bins":"cli.js"}, the tarball {"bins":"evil.js"}'],
      ['@acme/extra-bin', { bin: { ls: 'evil.js' } }, {}, 'bin: the manifest says {"ls":null}, the tarball {"ls":"evil.js"}'],
    ];
    for (const [name, tarball, manifest, says] of refusals) {
      const answer = await put(name, tarball, manifest);
      expect([name, answer.status, answer.code]).toEqual([name, 403, 'EMANIFESTMISMATCH']);
      expect([name, answer.error]).toEqual([name, expect.stringContaining(`[EMANIFESTMISMATCH] the tarball of ${name}@1.0.0 disagrees with the manifest published with it (`)]);
      expect([name, answer.error]).toEqual([name, expect.stringContaining(says)]);
      expect(await s.t.gk.database.knex('published_versions').where({ name })).toEqual([]);
      const audit = await s.t.api('GET', `/audit?action=package.publish_refused&package=${encodeURIComponent(name)}`);
      expect([name, audit.body.items[0]?.details.code]).toEqual([name, 'EMANIFESTMISMATCH']);
    }
    // What clients send for the same package.json: a normalised bin and bundleDependencies; a
    // scripts.prepare the manifest leaves out (npm runs it before packing, never on install).
    const agreeing: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['@acme/string-bin', { bin: './cli.js', scripts: { prepare: 'node build.js' } }, { bin: { 'string-bin': 'cli.js' } }],
      ['@acme/bundle-spelling', { bundledDependencies: ['a'], dependencies: { a: '1.0.0' } }, { bundleDependencies: ['a'], dependencies: { a: '1.0.0' } }],
    ];
    for (const [name, tarball, manifest] of agreeing) expect([name, (await put(name, tarball, manifest)).status]).toEqual([name, 201]);
  });
});

describe('version keys the upstream sends that normalisation drops', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'nul-keys', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'nul-neighbour', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ],
    npm: false,
  });

  it('asks the advisory source about the kept versions only: a NUL in a dropped key reaches no SQL, and no package asked with it fails', async () => {
    // The upstream knows an advisory for each (none affecting 1.0.0), so the answer is stored in a transaction.
    s.upstream.setAdvisories({
      'nul-keys': [{ id: 7001, url: 'https://advisories.example/7001', title: 'old', severity: 'low', vulnerable_versions: '<0.0.1 || >=1.0.0 <1.0.0' }],
      'nul-neighbour': [{ id: 7002, url: 'https://advisories.example/7002', title: 'old', severity: 'low', vulnerable_versions: '<0.0.1 || >=1.0.0 <1.0.0' }],
    });
    // The packument as the upstream serves it, plus a version whose key holds a NUL (dropped as broken).
    const served = (await (await fetch(new URL('nul-keys', s.upstream.url))).json()) as { versions: Record<string, unknown> };
    const body = JSON.stringify({ ...served, versions: { '2.0.0\u0000evil': { name: 'nul-keys', version: '2.0.0\u0000evil' }, ...served.versions } });
    s.upstream.fault({ packument: 'nul-keys' }, { body, headers: { 'content-type': 'application/json' } });
    const asked = s.upstream.requests.length;
    const [hostile, neighbour] = await Promise.all(['nul-keys', 'nul-neighbour'].map((name) => fetch(new URL(name, s.t.url))));
    expect([hostile.status, neighbour.status]).toEqual([200, 200]);
    expect(Object.keys(((await hostile.json()) as { versions: object }).versions)).toEqual(['1.0.0']);
    const bulk = s.upstream.requests.slice(asked).filter((r) => r.url.includes('advisories/bulk'));
    expect(bulk.length).toBeGreaterThan(0);
    for (const request of bulk) expect(request.body).not.toContain('evil');
    const health = await s.t.api('GET', '/health', undefined, null);
    expect(health.body.advisories).toMatchObject({ ok: true });
  });

  it('stores an advisory check whose versions or error hold what jsonb and text refuse, without them', async () => {
    const repos = new Store(s.t.gk.database.knex).repos;
    await repos.advisories.saveChecks([
      { package: 'nul-stored', versions: ['1.0.0', '2.0.0\u0000x', '3.0.0\ud800'], ok: true, error: null },
      { package: 'nul-failed', versions: ['1.0.0'], ok: false, error: 'bad\u0000answer' },
    ]);
    const rows = await s.t.gk.database.knex('advisory_checks').whereIn('package', ['nul-stored', 'nul-failed']).orderBy('package').select('package', 'versions', 'error');
    expect(rows).toEqual([
      { package: 'nul-failed', versions: ['1.0.0'], error: 'badanswer' },
      { package: 'nul-stored', versions: ['1.0.0', '2.0.0x', '3.0.0'], error: null },
    ]);
  });
});

describe("the upstream's later documents: dist-tags moved back, versions unpublished, legacy tags", () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'taken-down', versions: [{ version: '2.0.0', license: 'MIT' }, { version: '2.0.1', license: 'MIT' }] },
      { name: 'later-deprecated', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
    ],
    settings: { upstreamMaxage: '1s' },
    npm: false,
  });
  const read = async (name: string) => (await (await fetch(new URL(name, s.t.url))).json()) as { 'dist-tags': Record<string, string>; versions: Record<string, unknown> };
  const upstreamDocument = async (name: string) => (await (await fetch(new URL(name, s.upstream.url))).json()) as Record<string, any>;
  const afterMaxage = () => new Promise((resolve) => setTimeout(resolve, 1_200));

  it('follows a takedown: the version the upstream unpublished goes, and latest moves back with the upstream', async () => {
    expect((await read('taken-down'))['dist-tags'].latest).toBe('2.0.1');
    // Its tarball is stored here before the takedown.
    expect((await fetch(new URL('taken-down/-/taken-down-2.0.1.tgz', s.t.url))).status).toBe(200);
    await eventually(async () => fs.existsSync(path.join(s.t.dataDir, 'storage', 'taken-down', 'taken-down-2.0.1.tgz')), 'the tarball stored');
    // npm's registry after an unpublish of one version: gone from versions, still in time.
    const doc = await upstreamDocument('taken-down');
    delete doc.versions['2.0.1'];
    doc['dist-tags'] = { latest: '2.0.0' };
    expect(doc.time['2.0.1']).toEqual(expect.any(String));
    s.upstream.fault({ packument: 'taken-down' }, { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } });
    await afterMaxage();
    await eventually(async () => (await read('taken-down'))['dist-tags'].latest === '2.0.0', 'latest moved back');
    expect(Object.keys((await read('taken-down')).versions)).toEqual(['2.0.0']);
    const pinned = await fetch(new URL('taken-down/2.0.1', s.t.url));
    expect(pinned.status).toBe(404);
    const tarball = await fetch(new URL('taken-down/-/taken-down-2.0.1.tgz', s.t.url));
    expect([tarball.status, tarball.statusText]).toEqual([404, expect.stringMatching(/^\[[A-Z]+\] /)]);
    // Its stored copy goes too, so no other instance on this storage serves it from a decision it still holds.
    await eventually(async () => !fs.existsSync(path.join(s.t.dataDir, 'storage', 'taken-down', 'taken-down-2.0.1.tgz')), 'the stored tarball removed');
  });

  it('takes a deprecation the upstream makes after the version was stored, and its removal: the deprecated rule sees both', async () => {
    const tgz = 'later-deprecated/-/later-deprecated-1.1.0.tgz';
    expect((await fetch(new URL(tgz, s.t.url))).status).toBe(200);
    await eventually(async () => fs.existsSync(path.join(s.t.dataDir, 'storage', 'later-deprecated', 'later-deprecated-1.1.0.tgz')), 'the tarball stored');
    expect((await s.t.api('PATCH', '/policy', { deprecated: { mode: 'enforce' } })).status).toBe(200);
    try {
      expect(Object.keys((await read('later-deprecated')).versions)).toEqual(['1.0.0', '1.1.0']);
      const doc = await upstreamDocument('later-deprecated');
      doc.versions['1.1.0'].deprecated = 'broken: use 1.0.0';
      s.upstream.fault({ packument: 'later-deprecated' }, { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } });
      await afterMaxage();
      await eventually(async () => !Object.keys((await read('later-deprecated')).versions).includes('1.1.0'), 'the deprecated version hidden');
      const refused = await fetch(new URL(tgz, s.t.url));
      expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([403, 'EDEPRECATED']);
      const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage', 'later-deprecated', 'package.json'), 'utf8'));
      expect(stored.versions['1.1.0'].deprecated).toBe('broken: use 1.0.0');
      // npm's un-deprecation leaves an empty text.
      doc.versions['1.1.0'].deprecated = '';
      s.upstream.fault({ packument: 'later-deprecated' }, { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } });
      await afterMaxage();
      await eventually(async () => Object.keys((await read('later-deprecated')).versions).includes('1.1.0'), 'the version listed again');
      expect((await fetch(new URL(tgz, s.t.url))).status).toBe(200);
    } finally {
      expect((await s.t.api('PATCH', '/policy', { deprecated: { mode: 'off' } })).status).toBe(200);
    }
  });

  it('moves a dist-tag off a legacy version (which semver cannot compare), and every tag after it', async () => {
    const entry = (version: string) => ({ name: 'legacy-tagged', version, license: 'MIT', dist: { tarball: `${s.upstream.url}legacy-tagged/-/legacy-tagged-${version}.tgz` } });
    const document = (versions: string[], tags: Record<string, string>) =>
      JSON.stringify({ name: 'legacy-tagged', 'dist-tags': tags, versions: Object.fromEntries(versions.map((v) => [v, entry(v)])), time: Object.fromEntries(versions.map((v, i) => [v, `202${i}-01-01T00:00:00.000Z`])) });
    s.upstream.fault({ path: '/legacy-tagged' }, { status: 200, body: document(['1.0.0beta', '1.0.0'], { old: '1.0.0beta', latest: '1.0.0' }), headers: { 'content-type': 'application/json' } });
    expect((await read('legacy-tagged'))['dist-tags']).toEqual({ old: '1.0.0beta', latest: '1.0.0' });
    s.upstream.fault({ path: '/legacy-tagged' }, { status: 200, body: document(['1.0.0beta', '1.0.0', '2.0.0'], { old: '1.0.0', latest: '2.0.0' }), headers: { 'content-type': 'application/json' } });
    await afterMaxage();
    await eventually(async () => (await read('legacy-tagged'))['dist-tags'].latest === '2.0.0', 'the tags moved');
    expect((await read('legacy-tagged'))['dist-tags']).toEqual({ old: '1.0.0', latest: '2.0.0' });
  });
});

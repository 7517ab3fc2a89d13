/**
 * `gatekeeper start`: it refuses to start without every gate plugin, and it runs on the
 * embedded default database (no PostgreSQL server needed), shutting down cleanly.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, tempDir } from '../support/gatekeeper';
import { createTestDatabase } from '../support/database';
import { createNpmEnv, makeProject } from '../support/npm';
import { copyBuild, runCli, spawnGatekeeper, REPO } from '../support/process';

const verdaccioVersion = (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules/verdaccio/package.json'), 'utf8')) as { version: string }).version;

/** A fixture upstream with one package and a fresh data directory for an embedded database, and the env to start on them. */
async function embeddedSetup(label: string): Promise<{ env: Record<string, string>; dataDir: string; close(): Promise<void> }> {
  const upstream = await startFixtureRegistry([{ name: `${label}-fixture`, versions: [{ version: '1.0.0', license: 'MIT' }] }]);
  const dataDir = tempDir(`gk-embedded-${label}-`);
  const env = { GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url, GATEKEEPER_ADMIN_PASSWORD: 'admin-password-for-tests' };
  return {
    env,
    dataDir,
    close: async () => {
      await upstream.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe('gate plugins', () => {
  let upstream: FixtureRegistry;
  let build: string;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    build = copyBuild(tempDir('gk-build-'));
  });

  afterAll(async () => {
    await upstream?.close();
    fs.rmSync(build, { recursive: true, force: true });
  });

  it('runs on the pinned Verdaccio 6.8.x, and all four plugins load into it', async () => {
    expect(verdaccioVersion).toMatch(/^6\.8\.\d+$/);
    const t = await startTestGatekeeper({ upstream: upstream.url, pluginsDir: path.join(build, 'dist/plugins') });
    try {
      const health = await t.api('GET', '/health', undefined, null);
      expect(health.body.plugins).toEqual({ ok: true, loaded: expect.arrayContaining(['gatekeeper-auth', 'gatekeeper-filter', 'gatekeeper-middleware', 'gatekeeper-storage']), missing: [] });
    } finally {
      await t.close();
    }
  });

  it('refuses to start, naming the plugin, when a plugin is missing', async () => {
    // A sibling of dist/plugins, so the copies resolve their imports (../../src) as the originals do.
    const plugins = path.join(build, 'dist/plugins-missing-filter');
    fs.cpSync(path.join(build, 'dist/plugins'), plugins, { recursive: true });
    fs.rmSync(path.join(plugins, 'verdaccio-gatekeeper-filter'), { recursive: true });
    const db = await createTestDatabase();
    try {
      await expect(startTestGatekeeper({ upstream: upstream.url, db, pluginsDir: plugins })).rejects.toThrow(
        /refusing to start: the gate plugin\(s\) verdaccio-gatekeeper-filter did not load/,
      );
    } finally {
      await db.drop();
    }
  });

  it('refuses to start when the storage plugin is missing (Verdaccio would write with its own storage, without the package lock)', async () => {
    const plugins = path.join(build, 'dist/plugins-missing-storage');
    fs.cpSync(path.join(build, 'dist/plugins'), plugins, { recursive: true });
    fs.rmSync(path.join(plugins, 'verdaccio-gatekeeper-storage'), { recursive: true });
    const db = await createTestDatabase();
    try {
      await expect(startTestGatekeeper({ upstream: upstream.url, db, pluginsDir: plugins })).rejects.toThrow(
        /refusing to start: the gate plugin\(s\) verdaccio-gatekeeper-storage did not load/,
      );
    } finally {
      await db.drop();
    }
  });

  it('refuses to start, naming the plugin, when a plugin throws in its constructor', async () => {
    const broken = path.join(build, 'dist/plugins-broken');
    fs.cpSync(path.join(build, 'dist/plugins'), broken, { recursive: true });
    const file = path.join(broken, 'verdaccio-gatekeeper-auth/index.js');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('this.runtime = (0, runtime_1.runtimeFor)', "throw new Error('injected constructor failure'); this.runtime = (0, runtime_1.runtimeFor)"));
    expect(fs.readFileSync(file, 'utf8')).toContain('injected constructor failure');
    const db = await createTestDatabase();
    try {
      const start = startTestGatekeeper({ upstream: upstream.url, db, pluginsDir: broken });
      await expect(start).rejects.toThrow(/refusing to start: the gate plugin\(s\) verdaccio-gatekeeper-auth did not load/);
    } finally {
      await db.drop();
    }
  });

  it('gatekeeper start exits non-zero with a message naming a deleted plugin', async () => {
    fs.rmSync(path.join(build, 'dist/plugins/verdaccio-gatekeeper-middleware'), { recursive: true });
    const db = await createTestDatabase();
    try {
      const result = await runCli(['start'], {
        GATEKEEPER_DATABASE_URL: db.url,
        GATEKEEPER_DATA_DIR: tempDir('gk-data-'),
        GATEKEEPER_PORT: '0',
        GATEKEEPER_UPSTREAM: upstream.url,
        GATEKEEPER_ADMIN_PASSWORD: 'admin-password-for-tests',
      }, build);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('verdaccio-gatekeeper-middleware did not load');
    } finally {
      await db.drop();
    }
  });

  it('gatekeeper start exits non-zero naming the cause when the database is unreachable or the config is invalid', async () => {
    const unreachable = await runCli(['start'], {
      GATEKEEPER_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      GATEKEEPER_DATA_DIR: tempDir('gk-data-'),
      GATEKEEPER_PORT: '0',
      GATEKEEPER_UPSTREAM: upstream.url,
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.output).toMatch(/the governance database cannot be opened: cannot connect to the database at postgres:\/\/nobody@127\.0\.0\.1:1\/none/);

    const invalid = await runCli(['start'], { GATEKEEPER_PORT: 'not-a-port', GATEKEEPER_UPSTREAM: upstream.url });
    expect(invalid.code).toBe(2);
    expect(invalid.output).toContain("GATEKEEPER_PORT must be a port number from 0 to 65535, not 'not-a-port'");
  });
});

describe('the embedded default database', () => {
  it('starts with no database server configured, serves installs, keeps its data, and stops on SIGTERM', async () => {
    const upstream = await startFixtureRegistry([{ name: 'plain-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    const dataDir = tempDir('gk-embedded-');
    const env = { GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url };
    const npm = await createNpmEnv(upstream.url);
    try {
      const first = await spawnGatekeeper(env);
      // The generated admin password is printed once and stored with mode 0600.
      const passwordFile = path.join(dataDir, 'admin-password');
      const password = fs.readFileSync(passwordFile, 'utf8').trim();
      expect(fs.statSync(passwordFile).mode & 0o777).toBe(0o600);
      expect(first.output()).toContain(password);
      expect(fs.existsSync(path.join(dataDir, 'db/PG_VERSION'))).toBe(true);

      const health = (await (await fetch(new URL('-/gatekeeper/v1/health', first.url))).json()) as any;
      expect(health).toMatchObject({ ok: true, database: { ok: true, kind: 'embedded' } });

      const { loginToken, apiClient } = await import('../support/gatekeeper');
      const token = await loginToken(first.url, 'admin', password);
      expect((await apiClient(first.url, token)('POST', '/approvals', { name: 'plain-fixture', reason: 'smoke' })).status).toBe(201);
      const project = await makeProject(npm.dir, { name: 'embedded-consumer' });
      const install = await npm.run(['install', 'plain-fixture', `--registry=${first.url}`], { cwd: project });
      expect(install.code).toBe(0);

      expect(await first.stop('SIGTERM')).toBe(0);
      expect(first.output()).toContain('shutting down');
      // The embedded server stopped with us: its lock file is gone.
      expect(fs.existsSync(path.join(dataDir, 'db/postmaster.pid'))).toBe(false);

      // A second start finds the same data: the approval is still there, no new admin password.
      const second = await spawnGatekeeper(env);
      try {
        expect(second.output()).not.toContain('First start');
        const approvals = await apiClient(second.url, await loginToken(second.url, 'admin', password))('GET', '/approvals');
        expect(approvals.body.items.map((a: { pattern: string }) => a.pattern)).toEqual(['plain-fixture']);
      } finally {
        expect(await second.stop('SIGINT')).toBe(0);
      }
    } finally {
      await npm.cleanup();
      await upstream.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('two starts on one fresh data directory at once (two replicas on one volume): one serves, the other refuses, and the directory starts again', async () => {
    const { env, close } = await embeddedSetup('race');
    const started: Array<Awaited<ReturnType<typeof spawnGatekeeper>>> = [];
    try {
      const results = await Promise.allSettled([spawnGatekeeper(env), spawnGatekeeper(env)]);
      for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
      expect(started).toHaveLength(1);
      expect(await started.pop()!.stop('SIGTERM')).toBe(0);
      // The password file names the cluster's password (the refused start did not write its own over it).
      const again = await spawnGatekeeper(env);
      expect(await again.stop('SIGTERM')).toBe(0);
    } finally {
      for (const gk of started) await gk.stop('SIGTERM');
      await close();
    }
  });

  it('its embedded server killed under it (as the OOM killer does): the gatekeeper says why and exits 1 for its supervisor, and the directory starts again', async () => {
    const { env, dataDir, close } = await embeddedSetup('oom');
    try {
      const gk = await spawnGatekeeper(env);
      expect((await fetch(new URL('-/gatekeeper/v1/ready', gk.url))).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => gk.proc.once('exit', (code) => resolve(code)));
      const postmaster = Number(fs.readFileSync(path.join(dataDir, 'db', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(postmaster, 'SIGKILL');
      expect(await exited).toBe(1);
      expect(gk.output()).toContain('[EDATABASE] the embedded PostgreSQL server exited (signal SIGKILL)');
      const again = await spawnGatekeeper(env);
      expect((await fetch(new URL('-/gatekeeper/v1/ready', again.url))).status).toBe(200);
      expect(await again.stop('SIGTERM')).toBe(0);
    } finally {
      await close();
    }
  });

  it('a SIGTERM while its embedded server starts (a supervisor giving up, Ctrl-C) leaves no server running, and the directory starts again', async () => {
    const upstream = await startFixtureRegistry([{ name: 'sig-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    const dataDir = tempDir('gk-embedded-sig-');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url, GATEKEEPER_ADMIN_PASSWORD: 'admin-password-for-tests' };
    /** The embedded servers running on this data directory, by their command lines. */
    const servers = () =>
      fs.readdirSync('/proc').filter((entry) => {
        if (!/^\d+$/.test(entry)) return false;
        try {
          const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
          return argv.includes(path.join(dataDir, 'db')) && /postgres/.test(argv[0]);
        } catch {
          return false;
        }
      });
    try {
      // Initialised by a first start, stopped: the next one is a plain restart.
      expect(await (await spawnGatekeeper(env)).stop('SIGTERM')).toBe(0);
      const proc = spawn(process.execPath, [path.join(REPO, 'bin/gatekeeper.js'), 'start'], { env, stdio: 'ignore' });
      const closed = new Promise((resolve) => proc.on('close', resolve));
      // The signal as soon as the server has written its pid file: while its start is still under way.
      const pidFile = path.join(dataDir, 'db', 'postmaster.pid');
      for (const until = Date.now() + 60_000; !fs.existsSync(pidFile) && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 5));
      proc.kill('SIGTERM');
      await closed;
      expect(servers()).toEqual([]);
      expect(await (await spawnGatekeeper(env)).stop('SIGTERM')).toBe(0);
    } finally {
      for (const pid of servers()) process.kill(Number(pid), 'SIGINT');
      await upstream.close();
    }
  });
});

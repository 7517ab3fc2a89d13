/**
 * A gatekeeper on the embedded database that dies with SIGKILL (the OOM killer, a container
 * runtime) is started again on the same data by a supervisor: it comes up with everything
 * intact, and no second PostgreSQL is left running. While the first one lives, a second one
 * on the same data is refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { loginToken, tempDir } from '../support/gatekeeper';
import { spawnGatekeeper, GatekeeperProcess } from '../support/process';
import { publishDocument } from '../support/publish';
import { eventually } from '../support/assert';

const PASSWORD = 'admin-password-for-tests';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function postmasterPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'db', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** Processes whose command line mentions `needle` (Linux /proc). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(needle)) found.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return found;
}

/** PostgreSQL servers (postmasters) whose data directory is `dir`. */
function postmastersOn(dir: string): number[] {
  return processesMentioning(dir).filter((pid) => {
    try {
      return /postgres/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });
}

describe('restart after a crash on the embedded database', () => {
  let upstream: FixtureRegistry;
  let dataDir: string;
  let env: Record<string, string>;
  const running: GatekeeperProcess[] = [];

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'crash-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    dataDir = tempDir('gk-crash-');
    env = { GATEKEEPER_DATA_DIR: dataDir, GATEKEEPER_PORT: '0', GATEKEEPER_UPSTREAM: upstream.url, GATEKEEPER_ADMIN_PASSWORD: PASSWORD };
  });

  afterAll(async () => {
    for (const gk of running) if (gk.proc.exitCode === null && gk.proc.signalCode === null) await gk.stop('SIGTERM');
    await upstream?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const gk = await spawnGatekeeper(env, undefined, 120_000);
    running.push(gk);
    return gk;
  };

  it('comes back after SIGKILL with its data, stopping the orphaned server, and never runs two', async () => {
    const first = await start();
    const admin = await loginToken(first.url, 'admin', PASSWORD);
    const api = (base: string, method: string, p: string, body?: unknown, token = admin) =>
      fetch(new URL(`-/gatekeeper/v1${p}`, base), { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await api(first.url, 'POST', '/approvals', { name: 'crash-fixture', reason: 'survives' })).status).toBe(201);
    expect((await api(first.url, 'POST', '/approvals', { name: '@acme/*', reason: 'ours' })).status).toBe(201);
    expect((await api(first.url, 'POST', '/users', { username: 'dev', password: 'dev-password', role: 'publisher' })).status).toBe(201);
    expect((await api(first.url, 'POST', '/publish-rules', { pattern: '@acme/*', role: 'publisher' })).status).toBe(201);
    const devToken = await loginToken(first.url, 'dev', 'dev-password');
    const published = await fetch(new URL('@acme%2fsurvivor', first.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${devToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(publishDocument('@acme/survivor', '1.0.0')),
    });
    expect(published.status).toBe(201);

    // A second gatekeeper on the same data is refused while the first one lives.
    await expect(spawnGatekeeper(env, undefined, 120_000)).rejects.toThrow(/already running on .*still running/);

    // Kill it outright, and its watchdog too, so the server is left behind as an orphan.
    const orphan = postmasterPid(dataDir);
    for (const watchdog of processesMentioning(String(first.proc.pid))) if (watchdog !== first.proc.pid) process.kill(watchdog, 'SIGKILL');
    expect(await first.stop('SIGKILL')).toBeNull();
    expect(alive(orphan)).toBe(true);

    const second = await start();
    expect(alive(orphan)).toBe(false);
    expect(second.output()).toMatch(/outlived its gatekeeper/);
    expect(postmastersOn(path.join(dataDir, 'db'))).toEqual([postmasterPid(dataDir)]);

    // Policy, users, tokens and published packages are all there.
    expect(((await (await api(second.url, 'GET', '/whoami', undefined, devToken)).json()) as { username: string }).username).toBe('dev');
    const approvals = (await (await api(second.url, 'GET', '/approvals')).json()) as { items: Array<{ pattern: string }> };
    expect(approvals.items.map((a) => a.pattern)).toContain('crash-fixture');
    const tarball = await fetch(new URL('@acme%2fsurvivor/-/survivor-1.0.0.tgz', second.url));
    expect(tarball.status).toBe(200);

    // Killed with its watchdog alive, the server stops by itself within moments.
    const next = postmasterPid(dataDir);
    expect(await second.stop('SIGKILL')).toBeNull();
    await eventually(async () => !alive(next), 'the watchdog stops the orphaned server', 20_000);
    const third = await start();
    expect(postmastersOn(path.join(dataDir, 'db'))).toEqual([postmasterPid(dataDir)]);
    expect(await third.stop('SIGTERM')).toBe(0);
    expect(postmastersOn(path.join(dataDir, 'db'))).toEqual([]);
  });
});

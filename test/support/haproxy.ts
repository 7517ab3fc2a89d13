/**
 * HAProxy from the machine's packages (Debian's /usr/sbin/haproxy; .ci/run installs it), run
 * with deploy/haproxy.cfg: the deployment's own file, with only its listening address and its
 * three server addresses replaced by a test's.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './process';
import { freePort } from '../../src/db/embedded';

export const HAPROXY_CFG = path.join(REPO, 'deploy/haproxy.cfg');

/** The haproxy binary, or undefined when it is not installed. */
export function haproxyBinary(): string | undefined {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy']) if (fs.existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
}

export function requireHaproxy(): string {
  const bin = haproxyBinary();
  if (!bin) throw new Error('haproxy is not installed: .ci/run installs Debian\'s package (apt-get install -y haproxy)');
  return bin;
}

/** The lines `server <name> <address>` of deploy/haproxy.cfg, in order. */
export function templateServers(text = fs.readFileSync(HAPROXY_CFG, 'utf8')): Array<{ name: string; address: string }> {
  return [...text.matchAll(/^\s*server\s+(\S+)\s+(\S+)/gm)].map((m) => ({ name: m[1], address: m[2] }));
}

/**
 * deploy/haproxy.cfg for a test: its one `bind` address and its server addresses replaced, in
 * order; nothing else changes. Throws when the file no longer has that shape.
 */
export function haproxyConfigFor(bind: string, servers: string[]): string {
  let text = fs.readFileSync(HAPROXY_CFG, 'utf8');
  const binds = text.match(/^\s*bind\s+\S+/gm) ?? [];
  if (binds.length !== 1) throw new Error(`deploy/haproxy.cfg should have one bind line, has ${binds.length}`);
  text = text.replace(/^(\s*bind\s+)\S+/m, `$1${bind}`);
  const template = templateServers(text);
  if (template.length !== servers.length) throw new Error(`deploy/haproxy.cfg has ${template.length} servers, the test ${servers.length}`);
  let i = 0;
  text = text.replace(/^(\s*server\s+\S+\s+)\S+/gm, (_m, head: string) => `${head}${servers[i++]}`);
  return text;
}

export interface HaproxyProcess {
  proc: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts haproxy in the foreground with `config(port)` and waits until it accepts connections. */
export async function startHaproxy(config: (bind: string) => string, timeoutMs = 30_000): Promise<HaproxyProcess> {
  const bin = requireHaproxy();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config(`127.0.0.1:${port}`));
  // -db: foreground, no daemon; -W would fork a master: not wanted, one process to stop.
  const proc = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`haproxy exited before listening:\n${output}`);
    }
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (listening) break;
    if (Date.now() > end) {
      await stop();
      throw new Error(`haproxy did not listen within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url: `http://127.0.0.1:${port}/`, output: () => output, stop };
}

/** `haproxy -c -f <file>`: whether HAProxy accepts a configuration, with its messages. */
export function checkHaproxyConfig(file: string): { ok: boolean; output: string } {
  const result = spawnSync(requireHaproxy(), ['-c', '-f', file], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

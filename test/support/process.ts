import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');

export interface GatekeeperProcess {
  proc: ChildProcess;
  url: string;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(npm_|GATEKEEPER_|GK_TEST_)/i.test(k)) base[k] = v;
  }
  return { ...base, ...env };
}

/** Runs `gatekeeper <args>` from a built tree (the repo's, or a copy) and collects its output. */
export function runCli(args: string[], env: Record<string, string>, root = REPO, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(root, 'bin/gatekeeper.js'), ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c) => (output += c));
    proc.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gatekeeper ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Starts `gatekeeper start` as its own process and waits until it listens. */
export function spawnGatekeeper(env: Record<string, string>, root = REPO, timeoutMs = 60_000): Promise<GatekeeperProcess> {
  const proc = spawn(process.execPath, [path.join(root, 'bin/gatekeeper.js'), 'start'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gatekeeper did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"npm-gatekeeper is listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          proc,
          url: match[1],
          output: () => output,
          stop: (signal = 'SIGTERM') => {
            proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gatekeeper exited with ${code} before listening:\n${output}`));
    });
  });
}

/**
 * A copy of the built tree (dist, bin, package.json, node_modules linked) that a test may
 * break without touching the repository's own build.
 */
export function copyBuild(into: string): string {
  if (!fs.existsSync(path.join(REPO, 'dist/src/cli/main.js'))) {
    throw new Error("the build output is missing: 'npm test' builds first; run 'npm run build'");
  }
  fs.cpSync(path.join(REPO, 'dist'), path.join(into, 'dist'), { recursive: true });
  fs.cpSync(path.join(REPO, 'bin'), path.join(into, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(into, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(into, 'node_modules'), 'dir');
  return into;
}

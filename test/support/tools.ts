/**
 * Runs package managers other than npm (pnpm, yarn) from this repository's node_modules with
 * an isolated home, store and cache, against a given registry.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO } from './process';

export interface ToolResult {
  code: number | null;
  output: string;
}

export function runTool(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string> }, timeoutMs = 120_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The environment for a tool run: our node_modules/.bin first, everything under `home`. */
export function toolEnv(home: string, registry: string): Record<string, string> {
  return {
    PATH: `${path.join(REPO, 'node_modules/.bin')}:${process.env.PATH}`,
    HOME: home,
    npm_config_registry: registry,
    npm_config_userconfig: path.join(home, '.npmrc'),
    YARN_CACHE_FOLDER: path.join(home, 'yarn-cache'),
    npm_config_store_dir: path.join(home, 'pnpm-store'),
    npm_config_cache: path.join(home, 'npm-cache'),
  };
}

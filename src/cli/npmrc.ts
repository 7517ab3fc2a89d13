import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ini from 'ini';
import { npmConfiguredRegistry } from '../server/config';

/**
 * Finds the registry and token the way npm does: npm's user config (NPM_CONFIG_USERCONFIG
 * or ~/.npmrc) and the project's .npmrc hold `//host:port/path/:_authToken=...` keyed by
 * the registry's "nerf dart".
 */

export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.NPM_CONFIG_USERCONFIG ?? env.npm_config_userconfig ?? path.join(os.homedir(), '.npmrc');
}

/** `http://127.0.0.1:4873/` -> `//127.0.0.1:4873/` */
export function nerfDart(registry: string): string {
  const url = new URL(registry);
  const pathname = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  return `//${url.host}${pathname}`;
}

function readIni(file: string): Record<string, unknown> {
  try {
    return ini.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

export function normaliseRegistry(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** --registry, else GATEKEEPER_URL, else npm's configured registry. */
export function resolveRegistry(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return normaliseRegistry(flag);
  if (env.GATEKEEPER_URL) return normaliseRegistry(env.GATEKEEPER_URL);
  return normaliseRegistry(npmConfiguredRegistry(env));
}

/** npm's token for this registry: environment, project .npmrc, then the user config. */
export function findToken(registry: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.GATEKEEPER_TOKEN) return env.GATEKEEPER_TOKEN;
  const key = `${nerfDart(registry)}:_authToken`;
  for (const file of [path.join(cwd, '.npmrc'), userConfigPath(env)]) {
    const value = readIni(file)[key];
    if (typeof value === 'string' && value) return value.replace(/\$\{([^}]+)\}/g, (_, name: string) => env[name] ?? '');
  }
  return undefined;
}

/** Writes the token into npm's user config as `npm login` does, keeping every other line. */
export function saveToken(registry: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = userConfigPath(env);
  const key = `${nerfDart(registry)}:_authToken`;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  const kept = lines.filter((line) => !line.trim().startsWith(`${key}=`) && line !== '');
  kept.push(`${key}=${token}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${kept.join('\n')}\n`, { mode: 0o600 });
  // The mode above applies only to a new file; an existing one may be world-readable.
  fs.chmodSync(file, 0o600);
  return file;
}

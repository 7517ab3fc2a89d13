/**
 * npm's settings for talking to the upstream registry, read the way npm reads them, for
 * `UpstreamClient`'s `npmOptions`.
 *
 * `npm config get` refuses to print protected keys (tokens), so the files are read directly:
 *
 * - the global config file, when `globalconfig` is set (environment, project or user config);
 * - the user config file: `userconfig` from the environment (or the project config), else
 *   `~/.npmrc` (HOME);
 * - the project config: `.npmrc` in the nearest folder from `cwd` up that has a package.json
 *   or a node_modules folder (else `cwd`), as npm finds it, unless it is the user config file;
 * - `npm_config_*` environment variables (the prefix in any case; `_` after the first
 *   character becomes `-`, except in nerf-darted keys). Inside an npm script (`npm start`)
 *   npm_config_user_agent is npm's own, so it is not taken for a setting there.
 *
 * Later layers win: environment > project > user > global. Keys and values have `${VAR}`
 * (and `${VAR?}`) expanded from the environment as npm does; `~/` and relative paths of
 * path settings are resolved against HOME and `cwd`; `cafile` is read into `ca` (and wins
 * over `ca`, as in npm).
 *
 * Only what the client uses is kept: proxy, https-proxy, noproxy (or no-proxy), ca/cafile,
 * cert, key, strict-ssl, user-agent, and the nerf-darted credentials (`_authToken`, `_auth`,
 * `username`, `_password`, `certfile`, `keyfile`) of the registry's own nerf dart
 * (`//host[:port]/path/`) and of the shorter prefixes npm-registry-fetch walks up through.
 * Credentials for any other host are left out, so they can never be sent anywhere.
 *
 * Nothing here logs, and no error message contains a value read from a file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ini from 'ini';
import { GatekeeperError } from '../core/errors';

type Raw = Record<string, unknown>;
type Env = NodeJS.ProcessEnv;

/** The nerf-darted credential fields npm-registry-fetch's getAuth reads. */
export const CREDENTIAL_FIELDS = ['_authToken', '_auth', 'username', '_password', 'certfile', 'keyfile'] as const;

const BOOLEAN_KEYS = new Set(['strict-ssl']);
/** Settings whose type is not a string in npm: 'true', 'false' and 'null' are coerced. */
const COERCED_KEYS = new Set(['strict-ssl', 'proxy', 'https-proxy']);
const PATH_KEYS = new Set(['cafile', 'userconfig', 'globalconfig']);
const LIST_KEYS = new Set(['ca', 'noproxy', 'no-proxy']);
/** npm setting -> the client's option name. */
const OPTION_NAMES: Record<string, string> = {
  proxy: 'proxy',
  'https-proxy': 'httpsProxy',
  noproxy: 'noProxy',
  'no-proxy': 'noProxy',
  cert: 'cert',
  key: 'key',
  'strict-ssl': 'strictSSL',
  'user-agent': 'userAgent',
};

/** npm's `${VAR}` / `${VAR?}` expansion, with `\${VAR}` escaping it (env-replace.js). */
export function expandEnv(text: string, env: Env): string {
  return text.replace(/(?<!\\)(\\*)\$\{([^${}?]+)(\?)?\}/g, (orig: string, esc: string, name: string, modifier: string | undefined) => {
    const fallback = modifier === '?' ? '' : `\${${name}}`;
    const value = env[name] !== undefined ? (env[name] as string) : fallback;
    if (esc.length % 2) return orig.slice((esc.length + 1) / 2);
    return esc.slice(esc.length / 2) + value;
  });
}

/** The keys npm-registry-fetch looks up for a registry: `//host/a/b/`, `//host/a/b`, `//host/a/`, ... `//host`. */
export function nerfDartPrefixes(registry: string): string[] {
  let url: URL;
  try {
    url = new URL(registry);
  } catch {
    return []; // not a URL: no credentials (the client refuses such a registry anyway)
  }
  const prefixes: string[] = [];
  let key = `//${url.host}${url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`}`;
  while (key.length > '//'.length) {
    prefixes.push(key);
    key = key.replace(/([^/]+|\/)$/, '');
  }
  return prefixes;
}

function home(env: Env): string {
  return env.HOME || os.homedir();
}

/** A path setting as npm resolves it: `~/` against HOME, anything relative against cwd. */
function resolvePath(value: string, env: Env, cwd: string): string {
  if (/^~\//.test(value)) return path.resolve(home(env), value.slice(2));
  return path.resolve(cwd, value);
}

/** One value as npm's parseField coerces it (for the keys kept here). */
function parseValue(value: unknown, key: string, env: Env, cwd: string): unknown {
  if (Array.isArray(value)) {
    const items = value.filter((v): v is string => typeof v === 'string').map((v) => parseValue(v, key, env, cwd));
    return LIST_KEYS.has(key) ? items : items[items.length - 1];
  }
  if (typeof value !== 'string') return value;
  let text = value.trim();
  // List settings in the environment are separated by blank lines (a CA can hold newlines).
  if (LIST_KEYS.has(key) && text.includes('\n\n')) return text.split('\n\n').map((v) => parseValue(v, key, env, cwd));
  if (BOOLEAN_KEYS.has(key) && text === '') return true;
  if (COERCED_KEYS.has(key)) {
    if (text === 'true') return true;
    if (text === 'false') return false;
    if (text === 'null') return null;
  }
  text = expandEnv(text, env);
  if (PATH_KEYS.has(key)) return resolvePath(text, env, cwd);
  return text;
}

/** A layer's keys, `${VAR}` expanded in keys and values; later duplicates win. */
function layer(raw: Raw, env: Env, cwd: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [rawKey, value] of Object.entries(raw)) {
    const key = expandEnv(rawKey, env);
    out.set(key, parseValue(value, key, env, cwd));
  }
  return out;
}

/** `npm_config_*` variables as npm names them. */
function envLayer(env: Env, cwd: string): Map<string, unknown> {
  const raw: Raw = Object.create(null) as Raw;
  for (const [envKey, value] of Object.entries(env)) {
    if (!/^npm_config_/i.test(envKey) || value === undefined || value === '') continue;
    let key = envKey.slice('npm_config_'.length);
    if (!key.startsWith('//')) key = key.replace(/(?!^)_/g, '-').toLowerCase();
    // npm sets its own user agent for every script it runs (`npm start`): not a setting.
    if (key === 'user-agent' && env.npm_lifecycle_event !== undefined) continue;
    raw[key] = value;
  }
  return layer(raw, env, cwd);
}

/** An npmrc file's settings; none when it does not exist. An unreadable one refuses. */
function fileLayer(file: string, what: string, env: Env, cwd: string): Map<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Map();
    throw new GatekeeperError(
      'EVALIDATION',
      `npm's ${what} config file ${file} cannot be read (${code ?? 'an error'}), so the upstream's credentials, proxy and CA are unknown. Make it a file the gatekeeper can read, or point ${what === 'user' ? 'NPM_CONFIG_USERCONFIG' : 'NPM_CONFIG_GLOBALCONFIG'} elsewhere.`,
    );
  }
  // Sections ([name]) come back as objects: npm ignores them, and so does everything below.
  return layer(ini.parse(text) as Raw, env, cwd);
}

/** The folder npm takes as the project: the nearest one from cwd up with package.json or node_modules. */
function localPrefix(cwd: string): string {
  for (let dir = path.resolve(cwd); ; ) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    try {
      if (fs.statSync(path.join(dir, 'node_modules')).isDirectory()) return dir;
    } catch {
      // not there
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(cwd);
    dir = parent;
  }
}

/** The certificates in a CA file, split as npm splits them. */
function readCaFile(file: string): string[] {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatekeeperError(
      'EVALIDATION',
      `npm's cafile ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'an error'}), so the upstream's certificate cannot be checked against it. Fix the cafile setting in npm's configuration.`,
    );
  }
  const delim = '-----END CERTIFICATE-----';
  return raw
    .replace(/\r\n/g, '\n')
    .split(delim)
    .filter((section) => section.trim())
    .map((section) => section.trimStart() + delim);
}

/** npm's user-agent placeholders that have a meaning here; the others are dropped. */
function userAgent(template: string): string {
  return template
    .replace(/\{node-version\}/g, process.version)
    .replace(/\{platform\}/g, process.platform)
    .replace(/\{arch\}/g, process.arch)
    .replace(/\{[a-z-]+\}/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The client's npm options for `registry` from npm's configuration (see the file header). */
export function npmOptionsFor(registry: string, env: Env = process.env, cwd: string = process.cwd()): Record<string, unknown> {
  const fromEnv = envLayer(env, cwd);
  const projectFile = path.join(localPrefix(cwd), '.npmrc');
  const defaultUser = path.join(home(env), '.npmrc');
  const envUser = fromEnv.get('userconfig');
  const project = projectFile !== (typeof envUser === 'string' ? envUser : defaultUser) ? fileLayer(projectFile, 'project', env, cwd) : new Map<string, unknown>();
  const projectUser = project.get('userconfig');
  const userFile = typeof envUser === 'string' ? envUser : typeof projectUser === 'string' ? projectUser : defaultUser;
  const user = userFile === projectFile ? new Map<string, unknown>() : fileLayer(userFile, 'user', env, cwd);
  const globalFile = [fromEnv, project, user].map((l) => l.get('globalconfig')).find((v): v is string => typeof v === 'string');
  const global = globalFile ? fileLayer(globalFile, 'global', env, cwd) : new Map<string, unknown>();

  const merged = new Map<string, unknown>();
  for (const l of [global, user, project, fromEnv]) for (const [k, v] of l) merged.set(k, v);

  const options: Record<string, unknown> = {};
  const usable = (v: unknown): boolean => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
  for (const [setting, option] of Object.entries(OPTION_NAMES)) {
    let value = merged.get(setting);
    if (!usable(value)) continue;
    if (setting === 'strict-ssl') {
      if (typeof value !== 'boolean') continue; // npm ignores a value that is not a boolean
    } else if (setting === 'noproxy' || setting === 'no-proxy') {
      value = Array.isArray(value) ? value.join(',') : String(value);
      if (setting === 'no-proxy' && options.noProxy !== undefined) continue; // noproxy is npm's name
    } else if (setting === 'user-agent') {
      value = userAgent(String(value));
    } else if (setting === 'proxy' && value === false) {
      // proxy=false: npm's explicit "no proxy" in the config; the agent still honours env proxies.
      continue;
    } else if (typeof value !== 'string') {
      continue;
    }
    options[option] = value;
  }
  const ca = merged.get('ca');
  if (usable(ca) && (typeof ca === 'string' || Array.isArray(ca))) options.ca = ca;
  const cafile = merged.get('cafile');
  if (typeof cafile === 'string' && cafile !== '') options.ca = readCaFile(cafile);

  for (const prefix of nerfDartPrefixes(registry)) {
    for (const field of CREDENTIAL_FIELDS) {
      const key = `${prefix}:${field}`;
      let value = merged.get(key);
      if (typeof value !== 'string' || value === '') continue;
      // Files are read by getAuth relative to the process: make them absolute against cwd.
      if (field === 'certfile' || field === 'keyfile') value = path.resolve(cwd, value);
      options[key] = value;
    }
  }
  return options;
}

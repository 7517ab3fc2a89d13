import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, requirePositional, stringFlag, UsageError } from '../../src/cli/args';
import { findToken, nerfDart, normaliseRegistry, resolveRegistry, saveToken, userConfigPath } from '../../src/cli/npmrc';

let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatekeeper-cli-'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** A project directory (cwd) and a user config path, both fresh, with optional contents. */
function setup(opts: { project?: string; user?: string } = {}): { cwd: string; userConfig: string; env: NodeJS.ProcessEnv } {
  const dir = fs.mkdtempSync(path.join(root, 't-'));
  const cwd = path.join(dir, 'project');
  fs.mkdirSync(cwd);
  const userConfig = path.join(dir, 'home', '.npmrc');
  if (opts.project !== undefined) fs.writeFileSync(path.join(cwd, '.npmrc'), opts.project);
  if (opts.user !== undefined) {
    fs.mkdirSync(path.dirname(userConfig), { recursive: true });
    fs.writeFileSync(userConfig, opts.user);
  }
  return { cwd, userConfig, env: { NPM_CONFIG_USERCONFIG: userConfig } };
}

const REGISTRY = 'http://127.0.0.1:4873/';
const KEY = '//127.0.0.1:4873/:_authToken';

describe('parseArgs', () => {
  it('separates positionals from --key value flags', () => {
    expect(parseArgs(['approve', 'left-pad@^1', '--reason', 'vetted by security', 'extra'])).toEqual({
      positionals: ['approve', 'left-pad@^1', 'extra'],
      flags: { reason: 'vetted by security' },
    });
  });

  it('reads --key=value, keeping any further = in the value', () => {
    expect(parseArgs(['--expires-in=30d', '--filter=a=b', '--empty='])).toEqual({
      positionals: [],
      flags: { 'expires-in': '30d', filter: 'a=b', empty: '' },
    });
  });

  it('does not let a --key=value flag consume the next argument', () => {
    expect(parseArgs(['--registry=http://x/', 'pos'])).toEqual({ positionals: ['pos'], flags: { registry: 'http://x/' } });
  });

  it('treats declared boolean flags as true without consuming the next argument', () => {
    expect(parseArgs(['--yes', 'left-pad', '--json'], ['yes', 'json'])).toEqual({
      positionals: ['left-pad'],
      flags: { yes: true, json: true },
    });
  });

  it('lets an undeclared flag consume the next argument', () => {
    expect(parseArgs(['--yes', 'left-pad'])).toEqual({ positionals: [], flags: { yes: 'left-pad' } });
  });

  it('sets a flag to true when it is last or followed by another flag', () => {
    expect(parseArgs(['--force', '--reason', 'x', '--dry-run'])).toEqual({
      positionals: [],
      flags: { force: true, reason: 'x', 'dry-run': true },
    });
  });

  it('takes a value that starts with a single dash', () => {
    expect(parseArgs(['--offset', '-5']).flags.offset).toBe('-5');
  });

  it('treats single-dash arguments as positionals', () => {
    expect(parseArgs(['-h', 'x'])).toEqual({ positionals: ['-h', 'x'], flags: {} });
  });

  it('keeps the last value of a repeated flag', () => {
    expect(parseArgs(['--reason', 'a', '--reason', 'b']).flags.reason).toBe('b');
  });

  it('treats everything after -- as positionals', () => {
    expect(parseArgs(['ban', '--reason', 'r', '--', '--not-a-flag', '-x', 'last'])).toEqual({
      positionals: ['ban', '--not-a-flag', '-x', 'last'],
      flags: { reason: 'r' },
    });
  });

  it('does not use -- as the value of a preceding flag', () => {
    expect(parseArgs(['--reason', '--', 'pos'])).toEqual({ positionals: ['pos'], flags: { reason: true } });
  });

  it('handles no arguments', () => {
    expect(parseArgs([])).toEqual({ positionals: [], flags: {} });
  });

  it('does not modify argv', () => {
    const argv = ['a', '--b', 'c', '--', 'd'];
    parseArgs(argv);
    expect(argv).toEqual(['a', '--b', 'c', '--', 'd']);
  });
});

describe('stringFlag and requirePositional', () => {
  it('returns a string flag or undefined', () => {
    const args = parseArgs(['--reason', 'ok']);
    expect(stringFlag(args, 'reason')).toBe('ok');
    expect(stringFlag(args, 'missing')).toBeUndefined();
  });

  it('rejects a string flag given without a value', () => {
    const args = parseArgs(['--reason']);
    expect(() => stringFlag(args, 'reason')).toThrow(UsageError);
    expect(() => stringFlag(args, 'reason')).toThrow('--reason needs a value');
  });

  it('returns a positional or throws a UsageError naming what is missing', () => {
    const args = parseArgs(['left-pad']);
    expect(requirePositional(args, 0, 'a package spec')).toBe('left-pad');
    expect(() => requirePositional(args, 1, 'a reason')).toThrow(new UsageError('missing a reason'));
  });
});

describe('nerfDart', () => {
  it.each([
    ['http://127.0.0.1:4873/', '//127.0.0.1:4873/'],
    ['http://127.0.0.1:4873', '//127.0.0.1:4873/'],
    ['https://registry.example.test/', '//registry.example.test/'],
    ['https://registry.example.test/npm/', '//registry.example.test/npm/'],
    ['https://registry.example.test:443/', '//registry.example.test/'],
    ['https://user:pass@registry.example.test/npm/?q=1#frag', '//registry.example.test/npm/'],
  ])('%s -> %s', (url, nerf) => {
    expect(nerfDart(url)).toBe(nerf);
  });

  it('throws on something that is not a URL', () => {
    expect(() => nerfDart('not a url')).toThrow();
  });
});

describe('normaliseRegistry and resolveRegistry', () => {
  it('adds a trailing slash once', () => {
    expect(normaliseRegistry('http://h:1')).toBe('http://h:1/');
    expect(normaliseRegistry('http://h:1/')).toBe('http://h:1/');
  });

  it('prefers the --registry flag', () => {
    expect(resolveRegistry('http://flag.test:1', { GATEKEEPER_URL: 'http://env.test:2/' })).toBe('http://flag.test:1/');
  });

  it('falls back to GATEKEEPER_URL', () => {
    expect(resolveRegistry(undefined, { GATEKEEPER_URL: 'http://env.test:2/npm' })).toBe('http://env.test:2/npm/');
    expect(resolveRegistry('', { GATEKEEPER_URL: 'http://env.test:2/' })).toBe('http://env.test:2/');
  });
});

describe('userConfigPath', () => {
  it('uses NPM_CONFIG_USERCONFIG, then npm_config_userconfig, then ~/.npmrc', () => {
    expect(userConfigPath({ NPM_CONFIG_USERCONFIG: '/a/.npmrc', npm_config_userconfig: '/b/.npmrc' })).toBe('/a/.npmrc');
    expect(userConfigPath({ npm_config_userconfig: '/b/.npmrc' })).toBe('/b/.npmrc');
    expect(userConfigPath({})).toBe(path.join(os.homedir(), '.npmrc'));
  });
});

describe('findToken', () => {
  it('prefers GATEKEEPER_TOKEN over any .npmrc', () => {
    const { cwd, env } = setup({ project: `${KEY}=from-project\n`, user: `${KEY}=from-user\n` });
    expect(findToken(REGISTRY, { ...env, GATEKEEPER_TOKEN: 'from-env' }, cwd)).toBe('from-env');
  });

  it('reads the project .npmrc in cwd before the user config', () => {
    const { cwd, env } = setup({ project: `${KEY}=from-project\n`, user: `${KEY}=from-user\n` });
    expect(findToken(REGISTRY, env, cwd)).toBe('from-project');
  });

  it('reads the user config named by NPM_CONFIG_USERCONFIG', () => {
    const { cwd, env } = setup({ user: `registry=${REGISTRY}\n${KEY}=from-user\n` });
    expect(findToken(REGISTRY, env, cwd)).toBe('from-user');
  });

  it('falls through to the user config when the project .npmrc has no token for this registry', () => {
    const { cwd, env } = setup({ project: '//other.test/:_authToken=other\nsave-exact=true\n', user: `${KEY}=from-user\n` });
    expect(findToken(REGISTRY, env, cwd)).toBe('from-user');
  });

  it('only returns a token keyed by this registry', () => {
    const { cwd, env } = setup({ user: '//127.0.0.1:9999/:_authToken=wrong-port\n//127.0.0.1:4873/npm/:_authToken=wrong-path\n' });
    expect(findToken(REGISTRY, env, cwd)).toBeUndefined();
    expect(findToken('http://127.0.0.1:4873/npm/', env, cwd)).toBe('wrong-path');
  });

  it('matches a registry given without a trailing slash', () => {
    const { cwd, env } = setup({ user: `${KEY}=tok\n` });
    expect(findToken('http://127.0.0.1:4873', env, cwd)).toBe('tok');
  });

  it('expands ${VAR} from the environment', () => {
    const { cwd, env } = setup({ user: `${KEY}=\${MY_GK_TOKEN}\n` });
    expect(findToken(REGISTRY, { ...env, MY_GK_TOKEN: 'expanded-secret' }, cwd)).toBe('expanded-secret');
  });

  it('expands ${VAR} inside a longer value', () => {
    const { cwd, env } = setup({ project: `${KEY}=gk_\${PART_A}_\${PART_B}\n` });
    expect(findToken(REGISTRY, { ...env, PART_A: 'one', PART_B: 'two' }, cwd)).toBe('gk_one_two');
  });

  it('returns undefined when there is no .npmrc at all', () => {
    const { cwd, env } = setup();
    expect(findToken(REGISTRY, env, cwd)).toBeUndefined();
  });

  it('ignores an empty token', () => {
    const { cwd, env } = setup({ project: `${KEY}=\n`, user: `${KEY}=from-user\n` });
    expect(findToken(REGISTRY, env, cwd)).toBe('from-user');
  });
});

describe('saveToken', () => {
  it('creates the user config (and its directory) with mode 0600', () => {
    const { userConfig, env } = setup();
    expect(fs.existsSync(path.dirname(userConfig))).toBe(false);
    const file = saveToken(REGISTRY, 'new-token', env);
    expect(file).toBe(userConfig);
    expect(fs.readFileSync(userConfig, 'utf8')).toBe(`${KEY}=new-token\n`);
    expect(fs.statSync(userConfig).mode & 0o777).toBe(0o600);
  });

  it('keeps the other lines of an existing file and appends the token', () => {
    const { userConfig, env } = setup({
      user: ['registry=http://127.0.0.1:4873/', '; a comment', '//other.test/:_authToken=other', 'save-exact=true'].join('\n') + '\n',
    });
    saveToken(REGISTRY, 'new-token', env);
    const lines = fs.readFileSync(userConfig, 'utf8').split('\n');
    expect(lines).toEqual([
      'registry=http://127.0.0.1:4873/',
      '; a comment',
      '//other.test/:_authToken=other',
      'save-exact=true',
      `${KEY}=new-token`,
      '',
    ]);
  });

  it('replaces an existing token for the same registry', () => {
    const { cwd, userConfig, env } = setup({ user: `${KEY}=old-token\nfund=false\n` });
    saveToken(REGISTRY, 'new-token', env);
    const text = fs.readFileSync(userConfig, 'utf8');
    expect(text).not.toContain('old-token');
    expect(text.split('\n').filter((l) => l.startsWith(`${KEY}=`))).toEqual([`${KEY}=new-token`]);
    expect(text).toContain('fund=false');
    expect(findToken(REGISTRY, env, cwd)).toBe('new-token');
  });

  it('does not touch tokens for other paths on the same host', () => {
    const other = '//127.0.0.1:4873/npm/:_authToken=keep-me';
    const { userConfig, env } = setup({ user: `${other}\n` });
    saveToken(REGISTRY, 'new-token', env);
    expect(fs.readFileSync(userConfig, 'utf8')).toContain(other);
  });

  it('round-trips through findToken for a registry with a path', () => {
    const { cwd, env } = setup();
    saveToken('https://registry.example.test/npm/', 'path-token', env);
    expect(findToken('https://registry.example.test/npm/', env, cwd)).toBe('path-token');
    expect(findToken('https://registry.example.test/', env, cwd)).toBeUndefined();
  });

  it('makes an existing world-readable user config 0600, as npm login does', () => {
    // writeFileSync's mode only applies when the file is created (src/cli/npmrc.ts:62);
    // npm itself chmods the user config to 0600 after writing it.
    const { userConfig, env } = setup({ user: 'fund=false\n' });
    fs.chmodSync(userConfig, 0o644);
    saveToken(REGISTRY, 'secret-token', env);
    expect(fs.statSync(userConfig).mode & 0o777).toBe(0o600);
  });
});

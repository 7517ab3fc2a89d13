import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closestFlag, parseArgs, requirePositional, stringFlag, UsageError } from '../../src/cli/args';
import { Command, FlagSpecs, usageOf } from '../../src/cli/command';
import { COMMANDS, main } from '../../src/cli/main';
import { captureIo } from '../support/cli';
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

/** The flags the parseArgs tests declare. */
const FLAGS: FlagSpecs = {
  reason: { value: 'R' },
  expires: { value: '30d' },
  'expires-in': { value: '30d' },
  filter: { value: 'F' },
  empty: { value: 'E' },
  registry: { value: 'URL' },
  offset: { value: 'N' },
  advisory: { value: 'URL' },
  colour: { value: 'C' },
  color: { value: 'C', aliasOf: 'colour' },
  yes: {},
  json: {},
  force: {},
  'dry-run': {},
  'with-dependencies': {},
};

describe('parseArgs', () => {
  it('separates positionals from --key value flags', () => {
    expect(parseArgs(['approve', 'left-pad@^1', '--reason', 'vetted by security', 'extra'], FLAGS)).toEqual({
      positionals: ['approve', 'left-pad@^1', 'extra'],
      flags: { reason: 'vetted by security' },
    });
  });

  it('reads --key=value, keeping any further = in the value', () => {
    expect(parseArgs(['--expires-in=30d', '--filter=a=b', '--empty='], FLAGS)).toEqual({
      positionals: [],
      flags: { 'expires-in': '30d', filter: 'a=b', empty: '' },
    });
  });

  it('does not let a --key=value flag consume the next argument', () => {
    expect(parseArgs(['--registry=http://x/', 'pos'], FLAGS)).toEqual({ positionals: ['pos'], flags: { registry: 'http://x/' } });
  });

  it('treats switches as true without consuming the next argument', () => {
    expect(parseArgs(['--yes', 'left-pad', '--json'], FLAGS)).toEqual({
      positionals: ['left-pad'],
      flags: { yes: true, json: true },
    });
    expect(parseArgs(['--force', '--reason', 'x', '--dry-run'], FLAGS)).toEqual({ positionals: [], flags: { force: true, reason: 'x', 'dry-run': true } });
  });

  it('refuses a flag that takes a value when it is last or followed by another flag', () => {
    expect(() => parseArgs(['left-pad', '--reason'], FLAGS)).toThrow(new UsageError('--reason needs a value: --reason R'));
    expect(() => parseArgs(['--reason', '--json'], FLAGS)).toThrow(new UsageError('--reason needs a value: --reason R'));
    expect(() => parseArgs(['--reason', '--', 'pos'], FLAGS)).toThrow(UsageError);
  });

  it('refuses a value given to a switch', () => {
    expect(() => parseArgs(['--json=false'], FLAGS)).toThrow(new UsageError('--json is a switch and takes no value; give it as --json'));
  });

  it('refuses a flag the command does not declare, suggesting the declared one it is close to', () => {
    // A misspelt --expires made a permanent approval: it was ignored.
    expect(() => parseArgs(['left-pad@1.0.0', '--expire', '30d', '--reason', 'typo-test'], FLAGS)).toThrow(new UsageError('unknown flag --expire; did you mean --expires?'));
    expect(() => parseArgs(['--advisry', 'https://x.test/'], FLAGS)).toThrow(new UsageError('unknown flag --advisry; did you mean --advisory?'));
    expect(() => parseArgs(['--jsno'], FLAGS)).toThrow(new UsageError('unknown flag --jsno; did you mean --json?'));
    expect(() => parseArgs(['--with-dep'], FLAGS)).toThrow(new UsageError('unknown flag --with-dep; did you mean --with-dependencies?'));
    expect(() => parseArgs(['--REASON', 'x'], FLAGS)).toThrow(new UsageError('unknown flag --REASON; did you mean --reason?'));
  });

  it('lists the declared flags when none is close', () => {
    expect(() => parseArgs(['--bogusflag'], { name: { value: 'N' }, json: {}, registry: { value: 'URL' }, help: {} })).toThrow(
      new UsageError('unknown flag --bogusflag; this command takes --name N, --json, --registry URL'),
    );
    expect(() => parseArgs(['--x'], {})).toThrow(new UsageError('unknown flag --x; this command takes no flags'));
  });

  it('shows an unknown flag as printable ASCII', () => {
    expect(() => parseArgs(['--a\u001b[2Jb\u202e'], {})).toThrow(new UsageError('unknown flag --a?[2Jb?; this command takes no flags'));
  });

  it('reads no prototype key as a declared flag', () => {
    expect(() => parseArgs(['--constructor'], {})).toThrow(UsageError);
    expect(() => parseArgs(['--__proto__', 'x'], {})).toThrow(UsageError);
  });

  it('parses an alias as the flag it spells', () => {
    expect(parseArgs(['--color', '#fff'], FLAGS).flags).toEqual({ colour: '#fff' });
  });

  it('takes a value that starts with a single dash', () => {
    expect(parseArgs(['--offset', '-5'], FLAGS).flags.offset).toBe('-5');
  });

  it('treats single-dash arguments as positionals', () => {
    expect(parseArgs(['-h', 'x'], FLAGS)).toEqual({ positionals: ['-h', 'x'], flags: {} });
  });

  it('keeps the last value of a repeated flag', () => {
    expect(parseArgs(['--reason', 'a', '--reason', 'b'], FLAGS).flags.reason).toBe('b');
  });

  it('treats everything after -- as positionals, undeclared flags included', () => {
    expect(parseArgs(['ban', '--reason', 'r', '--', '--not-a-flag', '-x', 'last'], FLAGS)).toEqual({
      positionals: ['ban', '--not-a-flag', '-x', 'last'],
      flags: { reason: 'r' },
    });
  });

  it('handles no arguments', () => {
    expect(parseArgs([], FLAGS)).toEqual({ positionals: [], flags: {} });
  });

  it('does not modify argv', () => {
    const argv = ['a', '--reason', 'c', '--', 'd'];
    parseArgs(argv, FLAGS);
    expect(argv).toEqual(['a', '--reason', 'c', '--', 'd']);
  });
});

describe('closestFlag', () => {
  it('finds a flag within a small edit distance, or the only one an abbreviation begins', () => {
    expect(closestFlag('expire', ['reason', 'expires'])).toBe('expires');
    expect(closestFlag('raeson', ['reason', 'expires'])).toBe('reason');
    expect(closestFlag('allow', ['allow-scripts', 'with-dependencies'])).toBe('allow-scripts');
    expect(closestFlag('bogusflag', ['name', 'tag', 'json', 'registry'])).toBeUndefined();
    expect(closestFlag('a', ['all', 'json'])).toBeUndefined();
  });
});

describe('the commands declare their flags, and the help text is written from the declaration', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s', (_, command) => {
    const usage = usageOf(command);
    expect(usage.length).toBe(command.forms.length);
    for (const form of usage) expect(form.startsWith(`gatekeeper ${command.name}`)).toBe(true);
    // Every declared flag but --registry (every API command takes it) and aliases is shown in a form.
    const named = new Set(command.forms.join(' ').match(/--[a-z][a-z0-9-]*/g)?.map((f) => f.slice(2)).filter((f) => f !== 'registry') ?? []);
    const declared = Object.keys(command.flags).filter((f) => f !== 'registry' && !command.flags[f].aliasOf);
    expect([...named].sort()).toEqual(declared.sort());
    for (const [flag, spec] of Object.entries(command.flags)) {
      if (spec.aliasOf) expect(command.flags[spec.aliasOf]).toEqual({ value: spec.value });
      if (spec.value) for (const form of usage) if (new RegExp(`--${flag}(?![a-z-])`).test(form)) expect(form).toContain(`--${flag} ${spec.value}`);
    }
  });

  it('usageOf refuses a form that names an undeclared flag', () => {
    expect(() => usageOf({ name: 'x', forms: ['[--nope]'], flags: {} })).toThrow("x: the form '[--nope]' names --nope, which is not declared");
  });
});

describe('main refuses an unknown flag before the command runs', () => {
  it.each([
    [['approve', 'left-pad@1.0.0', '--expire', '30d', '--reason', 'typo-test'], 'unknown flag --expire; did you mean --expires?'],
    [['ban', 'left-pad', '--reason', 'r', '--advisry', 'https://x.test/'], 'unknown flag --advisry; did you mean --advisory?'],
    [['approvals', '--bogusflag'], 'unknown flag --bogusflag; this command takes --name N, --tag T, --json, --registry URL'],
  ])('%j', async (argv, message) => {
    const io = captureIo();
    // No server at this address: a command that ran would fail to reach it (exit 1), not exit 2.
    const code = await main(argv, io, { GATEKEEPER_URL: 'http://127.0.0.1:9/', GATEKEEPER_TOKEN: 'gk_unused' });
    expect({ code, out: io.outText() }).toEqual({ code: 2, out: '' });
    expect(io.errText()).toBe(`gatekeeper ${argv[0]}: ${message}\nusage: ${usageOf(COMMANDS.find((c) => c.name === argv[0]) as Command).join('\n       ')}`);
  });

  it('shows a command\'s usage for --help, exit 0', async () => {
    const io = captureIo();
    expect(await main(['approve', '--help'], io, {})).toBe(0);
    expect(io.outText()).toContain('usage: gatekeeper approve <name>[@range] [--reason R] [--expires 30d] [--allow-scripts]');
  });
});

describe('explain without a version', () => {
  it('is a usage error naming the expected form, sent to no server', async () => {
    const io = captureIo();
    expect(await main(['explain', 'lodash'], io, { GATEKEEPER_URL: 'http://127.0.0.1:9/' })).toBe(2);
    expect(io.errText()).toContain("gatekeeper explain: 'lodash' names no version: explain takes one version, <name>@<version> (e.g. lodash@1.0.0)");
    const scoped = captureIo();
    expect(await main(['explain', '@acme/widgets@'], scoped, { GATEKEEPER_URL: 'http://127.0.0.1:9/' })).toBe(2);
    expect(scoped.errText()).toContain('(e.g. @acme/widgets@1.0.0)');
  });
});

describe('stringFlag and requirePositional', () => {
  it('returns a string flag or undefined', () => {
    const args = parseArgs(['--reason', 'ok'], FLAGS);
    expect(stringFlag(args, 'reason')).toBe('ok');
    expect(stringFlag(args, 'missing')).toBeUndefined();
  });

  it('rejects a switch read as a string flag', () => {
    const args = parseArgs(['--json'], FLAGS);
    expect(() => stringFlag(args, 'json')).toThrow(new UsageError('--json needs a value'));
  });

  it('returns a positional or throws a UsageError naming what is missing', () => {
    const args = parseArgs(['left-pad'], FLAGS);
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

import { readFileSync, readdirSync, statSync } from 'fs';
import path from 'path';
import { GatekeeperError } from '../../../src/core/errors';
import {
  LOCKFILE_NAMES,
  detectLockfileFormat,
  parseLockfile,
  type LockfileEntry,
  type LockfileFormat,
  type ParsedLockfile,
} from '../../../src/core/lockfile';
import { caught } from '../../support/assert';

/**
 * The fixtures under test/support/lockfiles were written by the real tools (npm 11,
 * pnpm 7/8/9, yarn 1 and 4) against a local fixture registry; see its README.md.
 */
const FIXTURES = path.join(__dirname, '../../support/lockfiles');

function fixture(dir: string, file: string): string {
  return readFileSync(path.join(FIXTURES, dir, file), 'utf8');
}


function ids(parsed: ParsedLockfile): string[] {
  return parsed.entries.map((e) => `${e.name}@${e.version}`);
}

// The fixture registry's tarballs are deterministic, so every tool records the same hashes.
const INTEGRITY: Record<string, string> = {
  '@fx/core@1.0.0': 'sha512-griec6Hn+DokIWNZIYZBjkEE5iGvEmzHb09XyLGTB2vhMkAY1x49b3ixx7H2gGJpBqeRo26kUueQWB8tXhQCBA==',
  '@fx/plugin@1.0.0': 'sha512-wdYblPJ4wjIEUU0W3Hrz+svo6pxK3M9WK8nLrd9vDM9WvM3tqT66zm9grzaArNwP9HEZ50xao0tk4/QUdSvNVw==',
  'app-lib@1.0.0': 'sha512-cj5iNFvy/00isuCfHmirwK6dM0ValZ2c2oJ4WaslF/wua0ViRtsh9fnz2MkeQRO7tj3SVuGnpnuliBMHh1hCmA==',
  'dev-helper@1.0.0': 'sha512-sFAYb3GUnmHBlIq4dy6SlXxA6tGOdXpmyQfuKDD+j3fjKmr1dXGd0ubaihCtYyVNMhRt4wMyXHzW3HmHn2k3pw==',
  'dev-tool@1.0.0': 'sha512-qSQqXsP6w2mWw5VanjaRbzYH5m+aWXF68K0kAPpWZyS0MCayHl7fsmfXD8nqlRc0ZGZQn2C7Fey24LPIq+ykkQ==',
  'opt-native@1.0.0': 'sha512-uxBIzo6tnCggHWPjQwFW+mmUBipXVEe5HGvUYy+fAzfEG808aNxKmZXnA0wnxif032PIXAT2OOJc5lD1220Vuw==',
  'peer-only@1.0.0': 'sha512-NYkemC+co4iFhkwW2t3UU3zl/G+qQOoD10DDW+UYRf6m+fgh1qUkfZA/iEsUsbRWOxVw2zHoGk3Y5G+FtlpU+A==',
  'shared@1.0.0': 'sha512-1rDU/X8OxViEj1M6XBYM4h2EYQUc4LezHEJdT6MV/OieBy1ceDC9MjS3+NL12GFubN1EatNCW0oeryxZxtpp8g==',
  'shared@2.0.0': 'sha512-514zhNJ+DGe0kbsQJTeYoYlINsxApoM8qFmoFVFl5kvtIzQO2jmeoYXpTtpR1ADOIH6ZVoz1Br7ftxbLvdTSlw==',
};

const FLAGS: Record<string, { dev?: true; optional?: true }> = {
  'dev-helper@1.0.0': { dev: true },
  'dev-tool@1.0.0': { dev: true },
  'opt-native@1.0.0': { optional: true },
};

/** The main fixture project: scoped packages, shared@1 hoisted and shared@2 nested, an
 * alias (shared-alias -> shared@2.0.0), a peer-only package, optional and dev trees. */
const MAIN = [
  '@fx/core@1.0.0',
  '@fx/plugin@1.0.0',
  'app-lib@1.0.0',
  'dev-helper@1.0.0',
  'dev-tool@1.0.0',
  'opt-native@1.0.0',
  'peer-only@1.0.0',
  'shared@1.0.0',
  'shared@2.0.0',
];
/** yarn does not install peer dependencies: peer-only is not in its lockfiles. */
const MAIN_YARN = MAIN.filter((id) => id !== 'peer-only@1.0.0');
/** The workspaces project: ws-a -> (ws-b, shared@^2), ws-b -> @fx/core -> shared@^1, root dev -> dev-tool. */
const WORKSPACES = ['@fx/core@1.0.0', 'dev-helper@1.0.0', 'dev-tool@1.0.0', 'shared@1.0.0', 'shared@2.0.0'];

interface Recorded {
  integrity: boolean;
  resolved: boolean;
  flags: boolean;
}

function tarballUrl(id: string): string {
  const at = id.lastIndexOf('@');
  const name = id.slice(0, at);
  const base = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return `http://registry.invalid/${name}/-/${base}-${id.slice(at + 1)}.tgz`;
}

function expectedEntries(list: string[], recorded: Recorded): LockfileEntry[] {
  return list.map((id) => {
    const at = id.lastIndexOf('@');
    const entry: LockfileEntry = { name: id.slice(0, at), version: id.slice(at + 1) };
    if (recorded.integrity) entry.integrity = INTEGRITY[id];
    if (recorded.resolved) entry.resolved = tarballUrl(id);
    if (recorded.flags) Object.assign(entry, FLAGS[id] ?? {});
    return entry;
  });
}

const NPM: Recorded = { integrity: true, resolved: true, flags: true };
const PNPM: Recorded = { integrity: true, resolved: false, flags: true };
const YARN1: Recorded = { integrity: true, resolved: true, flags: false };
const BERRY: Recorded = { integrity: false, resolved: false, flags: false };
/** bun records the tarball and its integrity, but not which packages are dev or optional. */
const BUN: Recorded = { integrity: true, resolved: true, flags: false };
const URL_DEP = { name: 'url-dep', reason: 'url', source: 'http://registry.invalid/downloads/url-dep.tgz' };

interface FixtureCase {
  dir: string;
  file: string;
  format: LockfileFormat;
  entries: LockfileEntry[];
  root?: ParsedLockfile['root'];
  skipped: unknown[];
}

const CASES: FixtureCase[] = [
  { dir: 'npm-v1', file: 'package-lock.json', format: 'npm-v1', entries: expectedEntries(MAIN, NPM), root: { name: 'fixture-npm-v1', version: '1.0.0' }, skipped: [URL_DEP] },
  { dir: 'npm-v2', file: 'package-lock.json', format: 'npm-v2', entries: expectedEntries(MAIN, NPM), root: { name: 'fixture-npm-v2', version: '1.0.0' }, skipped: [URL_DEP] },
  { dir: 'npm-v3', file: 'package-lock.json', format: 'npm-v3', entries: expectedEntries(MAIN, NPM), root: { name: 'fixture-npm-v3', version: '1.0.0' }, skipped: [URL_DEP] },
  { dir: 'npm-shrinkwrap-v3', file: 'npm-shrinkwrap.json', format: 'npm-v3', entries: expectedEntries(MAIN, NPM), root: { name: 'fixture-npm-shrinkwrap-v3', version: '1.0.0' }, skipped: [URL_DEP] },
  { dir: 'npm-v3-workspaces', file: 'package-lock.json', format: 'npm-v3', entries: expectedEntries(WORKSPACES, NPM), root: { name: 'fixture-npm-v3-workspaces', version: '1.0.0' }, skipped: [] },
  { dir: 'pnpm7-v5', file: 'pnpm-lock.yaml', format: 'pnpm-v5', entries: expectedEntries(MAIN, PNPM), skipped: [URL_DEP] },
  { dir: 'pnpm8-v6', file: 'pnpm-lock.yaml', format: 'pnpm-v6', entries: expectedEntries(MAIN, PNPM), skipped: [URL_DEP] },
  { dir: 'pnpm9-v9', file: 'pnpm-lock.yaml', format: 'pnpm-v9', entries: expectedEntries(MAIN, PNPM), skipped: [URL_DEP] },
  { dir: 'pnpm9-v9-workspaces', file: 'pnpm-lock.yaml', format: 'pnpm-v9', entries: expectedEntries(WORKSPACES, PNPM), skipped: [] },
  { dir: 'yarn1-classic', file: 'yarn.lock', format: 'yarn-classic', entries: expectedEntries(MAIN_YARN, YARN1), skipped: [URL_DEP] },
  { dir: 'yarn1-classic-workspaces', file: 'yarn.lock', format: 'yarn-classic', entries: expectedEntries(WORKSPACES, YARN1), skipped: [] },
  { dir: 'yarn4-berry', file: 'yarn.lock', format: 'yarn-berry', entries: expectedEntries(MAIN_YARN, BERRY), root: { name: 'fixture-yarn4-berry' }, skipped: [URL_DEP] },
  { dir: 'yarn4-berry-workspaces', file: 'yarn.lock', format: 'yarn-berry', entries: expectedEntries(WORKSPACES, BERRY), root: { name: 'fixture-yarn4-berry-workspaces' }, skipped: [] },
  { dir: 'bun', file: 'bun.lock', format: 'bun', entries: expectedEntries(MAIN, BUN), root: { name: 'fixture-bun' }, skipped: [URL_DEP] },
  { dir: 'bun-workspaces', file: 'bun.lock', format: 'bun', entries: expectedEntries(WORKSPACES, BUN), root: { name: 'fixture-bun-workspaces' }, skipped: [] },
];

describe('real lockfiles written by npm, pnpm, yarn and bun', () => {
  it('covers every fixture directory', () => {
    const dirs = readdirSync(FIXTURES).filter((d) => d !== 'generate' && statSync(path.join(FIXTURES, d)).isDirectory());
    expect(dirs.sort()).toEqual(CASES.map((c) => c.dir).sort());
  });

  describe.each(CASES)('$dir/$file', ({ dir, file, format, entries, root, skipped }) => {
    const text = fixture(dir, file);

    it(`is detected as ${format}`, () => {
      expect(detectLockfileFormat(file, text)).toBe(format);
      expect(detectLockfileFormat(`/some/project/${file}`, text)).toBe(format);
    });

    it('parses to the exact registry entries, flags and hashes', () => {
      const parsed = parseLockfile(file, text);
      expect(parsed.format).toBe(format);
      expect(parsed.entries).toStrictEqual(entries);
      expect(parsed.skipped).toStrictEqual(skipped);
      if (root) expect(parsed.root).toStrictEqual(root);
      else expect(parsed.root).toBeUndefined();
    });

    it('never reports aliases, local packages, workspaces or the root project as entries', () => {
      const names = parseLockfile(file, text).entries.map((e) => e.name);
      for (const name of ['shared-alias', 'local-pkg', 'ws-a', 'ws-b', 'url-dep', 'lockfile-fixture', `fixture-${dir}`]) {
        expect(names).not.toContain(name);
      }
    });

    it('was rewritten to the neutral registry host', () => {
      expect(text).not.toMatch(/127\.0\.0\.1/);
      for (const entry of parseLockfile(file, text).entries) {
        if (entry.resolved) expect(entry.resolved.startsWith('http://registry.invalid/')).toBe(true);
      }
    });
  });

  it('gives the same packages for one project whichever tool locked it (yarn has no peer installs)', () => {
    const lists = CASES.filter((c) => !c.dir.includes('workspaces')).map((c) => ids(parseLockfile(c.file, fixture(c.dir, c.file))));
    for (const list of lists) expect([MAIN, MAIN_YARN]).toContainEqual(list);
  });

  it('shows the format quirks the parser relies on', () => {
    // pnpm 7 (lockfile 5.4) hashes the peer suffix of a package with scoped peers.
    expect(fixture('pnpm7-v5', 'pnpm-lock.yaml')).toMatch(/^ {2}\/@fx\/plugin\/1\.0\.0_[a-z0-9]+:$/m);
    // pnpm 8 (6.0) writes peers in parentheses after a leading slash; pnpm 9 drops the slash.
    expect(fixture('pnpm8-v6', 'pnpm-lock.yaml')).toContain('/@fx/plugin@1.0.0(@fx/core@1.0.0)(peer-only@1.0.0):');
    expect(fixture('pnpm9-v9', 'pnpm-lock.yaml')).toContain("'@fx/plugin@1.0.0(@fx/core@1.0.0)(peer-only@1.0.0)':");
    // pnpm 9 no longer records dev: the flag is computed from importers and snapshots.
    expect(fixture('pnpm9-v9', 'pnpm-lock.yaml')).not.toMatch(/^\s+dev: /m);
    // npm v3 names an alias in "name"; v1 spells it in "version".
    expect(fixture('npm-v3', 'package-lock.json')).toContain('"name": "shared"');
    expect(fixture('npm-v1', 'package-lock.json')).toContain('"version": "npm:shared@2.0.0"');
    // yarn 1 appends the sha1 to resolved URLs and records no integrity for URL dependencies.
    expect(fixture('yarn1-classic', 'yarn.lock')).toMatch(/shared-1\.0\.0\.tgz#[0-9a-f]{40}"/);
    // yarn 4 writes a non-SRI checksum and __metadata version 10.
    expect(fixture('yarn4-berry', 'yarn.lock')).toMatch(/checksum: 10c0\//);
    expect(parseLockfile('yarn.lock', fixture('yarn4-berry', 'yarn.lock')).entries.every((e) => e.integrity === undefined)).toBe(true);
  });
});

describe('bun.lock: cases the fixtures do not cover', () => {
  const bunLock = (packages: string) => `{\n  "lockfileVersion": 1,\n  "workspaces": {\n    "": {\n      "name": "app",\n    },\n  },\n  "packages": {\n${packages}\n  }\n}\n`;

  it('reads the default registry ("") and keeps commas inside strings', () => {
    const parsed = parseLockfile('bun.lock', bunLock('    "left-pad": ["left-pad@1.3.0", "", { "bin": { "x,": "y," } }, "sha512-abc"],'));
    expect(parsed.entries).toEqual([{ name: 'left-pad', version: '1.3.0', integrity: 'sha512-abc' }]);
    expect(detectLockfileFormat('lock.txt', bunLock(''))).toBe('bun');
  });

  it('skips git and tarball sources with their reason', () => {
    const parsed = parseLockfile('bun.lock', bunLock('    "g": ["g@github:owner/g#abc", {}, "owner-g-abc"],\n    "t": ["t@https://example.invalid/t.tgz", {}],'));
    expect(parsed.entries).toEqual([]);
    expect(parsed.skipped).toEqual([
      { name: 'g', reason: 'git', source: 'github:owner/g#abc' },
      { name: 't', reason: 'url', source: 'https://example.invalid/t.tgz' },
    ]);
  });

  it('refuses what it cannot read', () => {
    expect(() => parseLockfile('bun.lock', '{ "lockfileVersion": 1, ')).toThrow(/not a bun\.lock/);
    expect(() => parseLockfile('bun.lock', '{ "lockfileVersion": 9, "packages": {} }')).toThrow(/lockfileVersion 9 is not supported/);
    expect(() => parseLockfile('bun.lock', '{ "packages": {} }')).toThrow(/numeric "lockfileVersion"/);
  });
});

describe('LOCKFILE_NAMES', () => {
  it('lists the lockfile names in priority order, shrinkwrap first as npm does', () => {
    expect(LOCKFILE_NAMES).toEqual(['npm-shrinkwrap.json', 'package-lock.json', 'pnpm-lock.yaml', 'yarn.lock', 'bun.lock']);
    expect(Object.isFrozen(LOCKFILE_NAMES)).toBe(true);
  });
});

describe('detectLockfileFormat', () => {
  const v3 = fixture('npm-v3', 'package-lock.json');
  const pnpm9 = fixture('pnpm9-v9', 'pnpm-lock.yaml');
  const yarn1 = fixture('yarn1-classic', 'yarn.lock');
  const berry = fixture('yarn4-berry', 'yarn.lock');

  it('recognises content under other names (hidden lockfile, copies, Windows paths)', () => {
    expect(detectLockfileFormat('node_modules/.package-lock.json', v3)).toBe('npm-v3');
    expect(detectLockfileFormat('C:\\work\\app\\package-lock.json', v3)).toBe('npm-v3');
    expect(detectLockfileFormat('lock.yaml', pnpm9)).toBe('pnpm-v9');
    expect(detectLockfileFormat('lock.txt', yarn1)).toBe('yarn-classic');
    expect(detectLockfileFormat('berry.lock', berry)).toBe('yarn-berry');
    expect(detectLockfileFormat('', v3)).toBe('npm-v3');
  });

  it('reads lockfileVersion 5.x, 6.x and unreleased 7.x/8.x by shape', () => {
    expect(detectLockfileFormat('pnpm-lock.yaml', "lockfileVersion: '7.0'\nimporters: {}\npackages: {}\nsnapshots: {}\n")).toBe('pnpm-v9');
    expect(detectLockfileFormat('pnpm-lock.yaml', "lockfileVersion: '6.1'\npackages: {}\n")).toBe('pnpm-v6');
    expect(detectLockfileFormat('pnpm-lock.yaml', 'lockfileVersion: 5.3\n')).toBe('pnpm-v5');
  });

  it('reads a legacy npm-shrinkwrap.json without lockfileVersion as npm-v1', () => {
    expect(detectLockfileFormat('npm-shrinkwrap.json', '{"name":"x","dependencies":{}}')).toBe('npm-v1');
  });

  it('strips a byte order mark', () => {
    expect(detectLockfileFormat('package-lock.json', `\ufeff${v3}`)).toBe('npm-v3');
  });

  it('rejects content it cannot place with EVALIDATION', () => {
    const err = caught(() => detectLockfileFormat('Gemfile.lock', 'GEM\n  remote: x\n'));
    expect(err.code).toBe('EVALIDATION');
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      'cannot tell which lockfile format Gemfile.lock is: expected npm-shrinkwrap.json, package-lock.json, pnpm-lock.yaml, yarn.lock, bun.lock (npm, pnpm, yarn or bun)',
    );
    expect(caught(() => detectLockfileFormat('data.json', '{"a": 1}')).code).toBe('EVALIDATION');
    expect(caught(() => detectLockfileFormat('data.json', '[1, 2]')).code).toBe('EVALIDATION');
  });
});

describe('bad input', () => {
  it.each<[string, string, RegExp]>([
    ['package-lock.json', '{"lockfileVersion": 3, ', /^package-lock\.json is not valid JSON: /],
    ['npm-shrinkwrap.json', 'not json', /^npm-shrinkwrap\.json is not valid JSON: /],
    ['package-lock.json', '[]', /^package-lock\.json must hold a JSON object$/],
    ['package-lock.json', '{}', /^package-lock\.json has neither "packages" nor "dependencies": it is not an npm lockfile$/],
    ['package-lock.json', '{"name": "x", "version": "1.0.0"}', /has neither "packages" nor "dependencies"/],
    ['package-lock.json', '{"lockfileVersion": 3}', /^package-lock\.json \(lockfileVersion 3\) has no "packages" object$/],
    ['package-lock.json', '{"lockfileVersion": 2}', /^package-lock\.json \(lockfileVersion 2\) has no "packages" object$/],
    ['package-lock.json', '{"lockfileVersion": 4, "packages": {}}', /^package-lock\.json has lockfileVersion 4; supported are 1, 2 and 3$/],
    ['package-lock.json', '{"lockfileVersion": 1, "dependencies": []}', /"dependencies" must be an object/],
    ['pnpm-lock.yaml', 'packages:\n  - a\n  b: c\n', /^pnpm-lock\.yaml is not valid YAML: /],
    ['pnpm-lock.yaml', 'packages: {}\n', /^pnpm-lock\.yaml has no lockfileVersion: it is not a pnpm lockfile$/],
    ['pnpm-lock.yaml', "lockfileVersion: '4.0'\n", /^pnpm-lock\.yaml has lockfileVersion "4\.0"; supported are 5\.x, 6\.x and 9\.x$/],
    ['pnpm-lock.yaml', '- just\n- a list\n', /^pnpm-lock\.yaml must hold a YAML mapping$/],
    ['pnpm-lock.yaml', "lockfileVersion: '9.0'\npackages: [a]\n", /"packages" must be a mapping/],
    ['yarn.lock', '__metadata:\n  version: 8\n"a@npm:^1": [unclosed\n', /^yarn\.lock is not valid YAML: /],
    ['yarn.lock', '__metadata: 3\n', /"__metadata" must be a mapping/],
    ['yarn.lock', 'a@^1.0.0:\n  version "1.0.0\n', /^yarn\.lock line 2: unterminated string: /],
    ['yarn.lock', 'a@^1.0.0:\n\tversion "1.0.0"\n', /^yarn\.lock line 2: tabs are not allowed for indentation/],
    ['yarn.lock', 'a@^1.0.0:\n   version "1.0.0"\n', /^yarn\.lock line 2: indentation must be a multiple of two spaces/],
    ['yarn.lock', 'a@^1.0.0:\n  version "1.0.0"\n      x y\n', /^yarn\.lock line 3: unexpected indentation/],
    ['yarn.lock', '  version "1.0.0"\n', /^yarn\.lock line 1: unexpected indentation/],
    ['yarn.lock', 'a@^1.0.0\n', /^yarn\.lock line 1: expected a header like "name@range:"/],
    ['yarn.lock', 'a@^1.0.0: b\n', /^yarn\.lock line 1: unexpected text after ":"/],
    ['yarn.lock', 'a@^1.0.0:\n  version "1.0.0" "1.0.1"\n', /^yarn\.lock line 2: expected one value after the field name/],
    ['yarn.lock', '<<<<<<< HEAD\na@^1.0.0:\n  version "1.0.0"\n', /^yarn\.lock line 1: unresolved merge conflict/],
    ['yarn.lock', 'a@^1.0.0:\n  resolved "http://r/a/-/a-1.0.0.tgz"\n', /^yarn\.lock: line 1: "a@\^1\.0\.0" has no version$/],
  ])('%s %j -> EVALIDATION', (file, text, message) => {
    const err = caught(() => parseLockfile(file, text));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toMatch(message);
    expect(err.details).toMatchObject({ file });
  });

  it('rejects entries with invalid names or versions, naming the entry', () => {
    const lock = (key: string, value: object) => JSON.stringify({ lockfileVersion: 3, packages: { '': {}, [key]: value } });
    expect(caught(() => parseLockfile('package-lock.json', lock('node_modules/Bad Name', { version: '1.0.0' }))).message).toBe(
      `package-lock.json: packages["node_modules/Bad Name"]: 'Bad Name' is not a valid npm package name`,
    );
    expect(caught(() => parseLockfile('package-lock.json', lock('node_modules/a', { version: '1.0' }))).message).toBe(
      `package-lock.json: packages["node_modules/a"]: '1.0' is not a valid semver version`,
    );
    expect(caught(() => parseLockfile('package-lock.json', lock('node_modules/a', {}))).message).toBe(
      'package-lock.json: packages["node_modules/a"] has no version',
    );
    expect(caught(() => parseLockfile('package-lock.json', lock('node_modules/a', [] as unknown as object))).message).toBe(
      'package-lock.json: packages["node_modules/a"] must be an object',
    );
    expect(caught(() => parseLockfile('pnpm-lock.yaml', "lockfileVersion: '6.0'\npackages:\n  /nonsense:\n    resolution: {integrity: x}\n")).message).toBe(
      'pnpm-lock.yaml: cannot read the package key "/nonsense"',
    );
    expect(caught(() => parseLockfile('yarn.lock', '__metadata:\n  version: 8\n"a@npm:^1.0.0":\n  version: 1.0.0\n')).message).toBe(
      'yarn.lock: entry "a@npm:^1.0.0" has no readable resolution',
    );
  });

  it('rejects text that is not a string', () => {
    expect(caught(() => parseLockfile('package-lock.json', undefined as unknown as string)).code).toBe('EVALIDATION');
  });
});

describe('npm lockfiles: cases the fixtures do not cover', () => {
  const v3 = (packages: Record<string, object>) =>
    JSON.stringify({ name: 'app', version: '2.0.0', lockfileVersion: 3, packages: { '': { name: 'app' }, ...packages } });

  it('takes names from nested and scoped node_modules paths, and the alias "name" field', () => {
    const parsed = parseLockfile(
      'package-lock.json',
      v3({
        'node_modules/@a/b': { version: '1.0.0' },
        'node_modules/@a/b/node_modules/@c/d': { version: '2.0.0' },
        'node_modules/x/node_modules/y/node_modules/z': { version: '3.0.0' },
        'node_modules/alias': { name: '@real/pkg', version: '4.0.0' },
        'packages/ws/node_modules/q': { version: '5.0.0' },
      }),
    );
    expect(ids(parsed)).toEqual(['@a/b@1.0.0', '@c/d@2.0.0', '@real/pkg@4.0.0', 'q@5.0.0', 'z@3.0.0']);
    expect(parsed.root).toEqual({ name: 'app', version: '2.0.0' });
  });

  it('keeps legacy versions (express 1.0.0beta) as registry entries and sorts them without throwing', () => {
    const parsed = parseLockfile(
      'package-lock.json',
      v3({
        'node_modules/express': { version: '1.0.0', resolved: 'http://registry.test/express/-/express-1.0.0.tgz' },
        'node_modules/a/node_modules/express': { version: '1.0.0rc', resolved: 'http://registry.test/express/-/express-1.0.0rc.tgz' },
        'node_modules/b/node_modules/express': { version: '1.0.0beta' },
        'node_modules/c/node_modules/express': { version: '0.14.1' },
      }),
    );
    expect(ids(parsed)).toEqual(['express@0.14.1', 'express@1.0.0beta', 'express@1.0.0rc', 'express@1.0.0']);
  });

  it('sorts versions in semver order and merges duplicates (dev only when every copy is dev)', () => {
    const parsed = parseLockfile(
      'package-lock.json',
      v3({
        'node_modules/a': { version: '10.0.0', dev: true },
        'node_modules/b/node_modules/a': { version: '9.0.0', dev: true, optional: true },
        'node_modules/c/node_modules/a': { version: '10.0.0' },
        'node_modules/d/node_modules/a': { version: '9.0.0', dev: true, optional: true, integrity: 'sha512-x' },
      }),
    );
    expect(parsed.entries).toStrictEqual([
      { name: 'a', version: '9.0.0', integrity: 'sha512-x', dev: true, optional: true },
      { name: 'a', version: '10.0.0' },
    ]);
  });

  it('keeps git, URL and bundled packages out of entries and lists them as skipped', () => {
    const parsed = parseLockfile(
      'package-lock.json',
      v3({
        'node_modules/from-git': { version: '1.0.0', resolved: 'git+ssh://git@example.invalid/acme/from-git.git#0123abc' },
        'node_modules/from-url': { version: '1.0.0', resolved: 'https://cdn.example.invalid/from-url.tgz', integrity: 'sha512-u' },
        'node_modules/parent': { version: '1.0.0', resolved: 'https://r.invalid/parent/-/parent-1.0.0.tgz' },
        'node_modules/parent/node_modules/inner': { version: '1.0.0', inBundle: true },
        'node_modules/local-tgz': { version: '1.0.0', resolved: 'file:vendor/local-tgz-1.0.0.tgz' },
        'node_modules/linked': { resolved: 'packages/linked', link: true },
        'packages/linked': { name: 'linked', version: '1.0.0' },
        'node_modules/no-resolved': { version: '1.0.0', integrity: 'sha512-n' },
        'node_modules/dev-opt': { version: '1.0.0', devOptional: true },
      }),
    );
    expect(parsed.entries).toStrictEqual([
      { name: 'dev-opt', version: '1.0.0' },
      { name: 'no-resolved', version: '1.0.0', integrity: 'sha512-n' },
      { name: 'parent', version: '1.0.0', resolved: 'https://r.invalid/parent/-/parent-1.0.0.tgz' },
    ]);
    expect(parsed.skipped).toStrictEqual([
      { name: 'from-git', reason: 'git', source: 'git+ssh://git@example.invalid/acme/from-git.git#0123abc' },
      { name: 'from-url', reason: 'url', source: 'https://cdn.example.invalid/from-url.tgz' },
      { name: 'inner', reason: 'bundled' },
    ]);
  });

  it('accepts scoped tarball paths with an encoded slash', () => {
    const parsed = parseLockfile('package-lock.json', v3({ 'node_modules/@s/p': { version: '1.0.0', resolved: 'https://r.invalid/@s%2fp/-/p-1.0.0.tgz' } }));
    expect(ids(parsed)).toEqual(['@s/p@1.0.0']);
  });

  it('walks v1 trees: aliases, git, file, URL and bundled versions', () => {
    const text = JSON.stringify({
      name: 'legacy',
      lockfileVersion: 1,
      dependencies: {
        alias: { version: 'npm:@real/thing@2.1.0', resolved: 'https://r.invalid/@real/thing/-/thing-2.1.0.tgz', integrity: 'sha512-a' },
        gitdep: { version: 'git+https://example.invalid/acme/gitdep.git#abcdef', from: 'git+https://example.invalid/acme/gitdep.git' },
        short: { version: 'github:acme/short#abcdef' },
        local: { version: 'file:../local' },
        tarball: { version: 'https://cdn.example.invalid/tarball.tgz' },
        odd: { version: 'latest-and-greatest' },
        parent: {
          version: '1.0.0',
          dev: true,
          dependencies: { bundled: { version: '1.0.0', bundled: true }, nested: { version: '3.0.0', dev: true, optional: true } },
        },
      },
    });
    const parsed = parseLockfile('package-lock.json', text);
    expect(parsed.format).toBe('npm-v1');
    expect(parsed.entries).toStrictEqual([
      { name: '@real/thing', version: '2.1.0', integrity: 'sha512-a', resolved: 'https://r.invalid/@real/thing/-/thing-2.1.0.tgz' },
      { name: 'nested', version: '3.0.0', dev: true, optional: true },
      { name: 'parent', version: '1.0.0', dev: true },
    ]);
    expect(parsed.skipped).toStrictEqual([
      { name: 'bundled', reason: 'bundled' },
      { name: 'gitdep', reason: 'git', source: 'git+https://example.invalid/acme/gitdep.git#abcdef' },
      { name: 'odd', reason: 'other', source: 'latest-and-greatest' },
      { name: 'short', reason: 'git', source: 'github:acme/short#abcdef' },
      { name: 'tarball', reason: 'url', source: 'https://cdn.example.invalid/tarball.tgz' },
    ]);
    expect(parsed.root).toEqual({ name: 'legacy' });
  });

  it('reads an empty v1 lockfile (npm 6 writes no "dependencies" when there are none)', () => {
    expect(parseLockfile('package-lock.json', '{"name":"x","version":"1.0.0","lockfileVersion":1}')).toStrictEqual({
      format: 'npm-v1',
      entries: [],
      root: { name: 'x', version: '1.0.0' },
      skipped: [],
    });
  });

  it('falls back to "dependencies" for a v2 file without "packages"', () => {
    const parsed = parseLockfile('package-lock.json', '{"lockfileVersion":2,"dependencies":{"a":{"version":"1.0.0"}}}');
    expect(parsed.format).toBe('npm-v2');
    expect(ids(parsed)).toEqual(['a@1.0.0']);
  });
});

describe('pnpm lockfiles: cases the fixtures do not cover', () => {
  it('strips v5 peer suffixes (readable and scoped) and reads host-prefixed keys of old pnpm', () => {
    const text = [
      'lockfileVersion: 5.3',
      'packages:',
      '  /@a/b/1.0.0_@c+d@2.0.0+e@3.0.0:',
      '    resolution: {integrity: sha512-ab}',
      '    dev: true',
      '  /plain/2.0.0:',
      '    resolution: {integrity: sha512-p}',
      '    dev: false',
      '    optional: true',
      '  registry.example.invalid/hosted/3.0.0:',
      '    resolution: {integrity: sha512-h}',
      '  github.com/acme/repo/0123abc:',
      '    resolution: {tarball: https://codeload.github.com/acme/repo/tar.gz/0123abc}',
      '    name: repo',
      '    version: 1.0.0',
      '  file:../local:',
      '    resolution: {directory: ../local, type: directory}',
      '    name: local',
      '',
    ].join('\n');
    const parsed = parseLockfile('pnpm-lock.yaml', text);
    expect(parsed.format).toBe('pnpm-v5');
    expect(parsed.entries).toStrictEqual([
      { name: '@a/b', version: '1.0.0', integrity: 'sha512-ab', dev: true },
      { name: 'hosted', version: '3.0.0', integrity: 'sha512-h' },
      { name: 'plain', version: '2.0.0', integrity: 'sha512-p', optional: true },
    ]);
    expect(parsed.skipped).toStrictEqual([{ name: 'repo', reason: 'git', source: 'https://codeload.github.com/acme/repo/tar.gz/0123abc' }]);
  });

  it('reads v6 keys with several peers, patches and git resolutions', () => {
    const text = [
      "lockfileVersion: '6.0'",
      'packages:',
      '  /@a/b@1.0.0(@c/d@2.0.0)(e@3.0.0(f@1.0.0)):',
      '    resolution: {integrity: sha512-ab, tarball: https://r.invalid/@a/b/-/b-1.0.0.tgz}',
      '  /patched@1.0.0(patch_hash=abc123):',
      '    resolution: {integrity: sha512-pa}',
      '  /patched@1.0.0:',
      '    resolution: {integrity: sha512-pa}',
      '    dev: true',
      '  github.com/acme/g/abc:',
      '    resolution: {commit: abc, repo: https://example.invalid/acme/g.git, type: git}',
      '    name: g',
      '',
    ].join('\n');
    const parsed = parseLockfile('pnpm-lock.yaml', text);
    expect(parsed.entries).toStrictEqual([
      { name: '@a/b', version: '1.0.0', integrity: 'sha512-ab', resolved: 'https://r.invalid/@a/b/-/b-1.0.0.tgz' },
      { name: 'patched', version: '1.0.0', integrity: 'sha512-pa' },
    ]);
    expect(parsed.skipped).toStrictEqual([{ name: 'g', reason: 'git', source: 'https://example.invalid/acme/g.git' }]);
  });

  it('computes v9 dev/optional flags over aliases, peers and several snapshots, and skips git', () => {
    const text = [
      "lockfileVersion: '9.0'",
      'importers:',
      '  .:',
      '    dependencies:',
      '      al:',
      '        specifier: npm:@real/al@^1',
      "        version: '@real/al@1.0.0'",
      '      p:',
      '        specifier: ^1',
      '        version: 1.0.0(q@1.0.0)',
      '      g:',
      '        specifier: github:acme/g',
      '        version: git+https://example.invalid/acme/g.git#abc',
      '    devDependencies:',
      '      d:',
      '        specifier: ^1',
      '        version: 1.0.0',
      '      p:',
      '        specifier: ^1',
      '        version: 1.0.0(q@2.0.0)',
      '  packages/w:',
      '    optionalDependencies:',
      '      o:',
      '        specifier: ^1',
      '        version: 1.0.0',
      'packages:',
      "  '@real/al@1.0.0': {resolution: {integrity: sha512-al}}",
      '  p@1.0.0: {resolution: {integrity: sha512-p}}',
      '  q@1.0.0: {resolution: {integrity: sha512-q1}}',
      '  q@2.0.0: {resolution: {integrity: sha512-q2}}',
      '  d@1.0.0: {resolution: {integrity: sha512-d}}',
      '  o@1.0.0: {resolution: {integrity: sha512-o}}',
      '  g@git+https://example.invalid/acme/g.git#abc: {resolution: {commit: abc, repo: https://example.invalid/acme/g.git, type: git}, version: 1.0.0}',
      'snapshots:',
      "  '@real/al@1.0.0': {}",
      '  p@1.0.0(q@1.0.0): {dependencies: {q: 1.0.0}}',
      '  p@1.0.0(q@2.0.0): {dependencies: {q: 2.0.0}}',
      '  q@1.0.0: {}',
      '  q@2.0.0: {}',
      '  d@1.0.0: {}',
      '  o@1.0.0: {optional: true}',
      '  g@git+https://example.invalid/acme/g.git#abc: {}',
      '',
    ].join('\n');
    const parsed = parseLockfile('pnpm-lock.yaml', text);
    expect(parsed.entries).toStrictEqual([
      { name: '@real/al', version: '1.0.0', integrity: 'sha512-al' },
      { name: 'd', version: '1.0.0', integrity: 'sha512-d', dev: true },
      { name: 'o', version: '1.0.0', integrity: 'sha512-o', optional: true },
      { name: 'p', version: '1.0.0', integrity: 'sha512-p' },
      { name: 'q', version: '1.0.0', integrity: 'sha512-q1' },
      { name: 'q', version: '2.0.0', integrity: 'sha512-q2', dev: true },
    ]);
    expect(parsed.skipped).toStrictEqual([{ name: 'g', reason: 'git', source: 'https://example.invalid/acme/g.git' }]);
  });

  it('reads the main document when pnpm 10 writes an env document first', () => {
    const text = [
      '---',
      "lockfileVersion: '9.0'",
      'importers:',
      '  .:',
      '    configDependencies: {}',
      '---',
      "lockfileVersion: '9.0'",
      'packages:',
      '  a@1.0.0: {resolution: {integrity: sha512-a}}',
      'snapshots:',
      '  a@1.0.0: {}',
      '',
    ].join('\n');
    expect(ids(parseLockfile('pnpm-lock.yaml', text))).toEqual(['a@1.0.0']);
  });

  it('reads a lockfile with no packages', () => {
    expect(parseLockfile('pnpm-lock.yaml', "lockfileVersion: '9.0'\nimporters:\n  .: {}\n").entries).toEqual([]);
  });
});

describe('yarn lockfiles: cases the fixtures do not cover', () => {
  it('reads classic headers with several keys, escapes, CRLF, comments and key: value fields', () => {
    const text = [
      '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.',
      '# yarn lockfile v1',
      '',
      '"@s/a@^1.0.0", "@s/a@^1.1.0":',
      '  version "1.2.3"',
      '  resolved "https://r.invalid/@s/a/-/a-1.2.3.tgz#0123456789abcdef0123456789abcdef01234567"',
      '  integrity sha512-sa',
      '  dependencies:',
      '    b "^2.0.0"',
      '    "@s/c" "\\u003e=1"',
      '  optionalDependencies:',
      '    d "*"',
      '',
      'b@^2.0.0, b@^2.1.0:',
      '  version: "2.1.0"',
      '  resolved "https://r.invalid/b/-/b-2.1.0.tgz"',
      '',
      '"alias@npm:@s/a@1.2.3":',
      '  version "1.2.3"',
      '  resolved "https://r.invalid/@s/a/-/a-1.2.3.tgz#0123456789abcdef0123456789abcdef01234567"',
      '  integrity sha512-sa',
      '',
      '"gitdep@github:acme/gitdep":',
      '  version "0.1.0"',
      '  resolved "https://codeload.github.com/acme/gitdep/tar.gz/abc"',
      '',
      'viagit@^1.0.0:',
      '  version "1.0.0"',
      '  resolved "git+https://example.invalid/acme/viagit.git#abc"',
      '',
      '"local@file:../local":',
      '  version "1.0.0"',
      '',
      '"lnk@link:../lnk":',
      '  version "0.0.0"',
      '',
    ].join('\r\n');
    const parsed = parseLockfile('yarn.lock', text);
    expect(parsed.format).toBe('yarn-classic');
    expect(parsed.entries).toStrictEqual([
      { name: '@s/a', version: '1.2.3', integrity: 'sha512-sa', resolved: 'https://r.invalid/@s/a/-/a-1.2.3.tgz' },
      { name: 'b', version: '2.1.0', resolved: 'https://r.invalid/b/-/b-2.1.0.tgz' },
    ]);
    expect(parsed.skipped).toStrictEqual([
      { name: 'gitdep', reason: 'git', source: 'https://codeload.github.com/acme/gitdep/tar.gz/abc' },
      { name: 'viagit', reason: 'git', source: 'git+https://example.invalid/acme/viagit.git#abc' },
    ]);
  });

  it('reads an empty classic lockfile', () => {
    const text = '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n';
    expect(parseLockfile('yarn.lock', text)).toStrictEqual({ format: 'yarn-classic', entries: [], skipped: [] });
    expect(parseLockfile('yarn.lock', '')).toStrictEqual({ format: 'yarn-classic', entries: [], skipped: [] });
  });

  it('judges the package a registry tarball URL names, which the client fetches, not the name or version the entry gives', () => {
    const lock = (packages: Record<string, unknown>) => JSON.stringify({ name: 'app', lockfileVersion: 3, packages: { '': { name: 'app' }, ...packages } });
    const hidden = lock({ 'node_modules/harmless': { version: '1.0.0', resolved: 'https://r.invalid/banned/-/banned-1.0.0.tgz' } });
    expect(ids(parseLockfile('package-lock.json', hidden))).toEqual(['banned@1.0.0']);
    const other = lock({ 'node_modules/@s/a': { version: '1.0.0', resolved: 'https://r.invalid/api/npm/@s/a/-/@s/a-2.0.0.tgz' } });
    expect(ids(parseLockfile('package-lock.json', other))).toEqual(['@s/a@2.0.0']);
    // An alias fetches its real package, as its name says; a URL naming no package readably changes nothing.
    const alias = lock({ 'node_modules/x': { name: 'real', version: '1.0.0', resolved: 'https://r.invalid/real/-/real-1.0.0.tgz' }, 'node_modules/odd': { version: '1.0.0', resolved: 'https://r.invalid/odd/-/something-else.tgz' } });
    expect(ids(parseLockfile('package-lock.json', alias))).toEqual(['odd@1.0.0', 'real@1.0.0']);
    const yarn = ['# yarn lockfile v1', '', 'harmless@^1.0.0:', '  version "1.0.0"', '  resolved "https://r.invalid/banned/-/banned-1.0.0.tgz#abc"', ''].join('\n');
    expect(ids(parseLockfile('yarn.lock', yarn))).toEqual(['banned@1.0.0']);
  });

  it('judges the version a berry resolution names, which yarn fetches, not the entry\'s version field', () => {
    const text = ['__metadata:', '  version: 8', '', '"shared@npm:^1.0.0":', '  version: 1.0.0', '  resolution: "shared@npm:2.0.0"', ''].join('\n');
    expect(ids(parseLockfile('yarn.lock', text))).toEqual(['shared@2.0.0']);
  });

  it('reads berry resolutions: archive URLs, patches, git, exec, portals and workspaces', () => {
    const text = [
      '__metadata:',
      '  version: 6',
      '  cacheKey: 8',
      '',
      '"a@npm:^1.0.0":',
      '  version: 1.0.0',
      '  resolution: "a@npm:1.0.0"',
      '  checksum: 8/abc',
      '',
      '"odd@npm:2.0.0":',
      '  version: 2.0.0',
      '  resolution: "odd@npm:2.0.0::__archiveUrl=https%3A%2F%2Fr.invalid%2Fodd.tgz"',
      '',
      '"resolve@patch:resolve@npm%3A^1.0.0#optional!builtin<compat/resolve>":',
      '  version: 1.22.8',
      '  resolution: "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"',
      '',
      '"resolve@npm:^1.0.0":',
      '  version: 1.22.8',
      '  resolution: "resolve@npm:1.22.8"',
      '',
      '"g@https://example.invalid/acme/g.git#commit=abc":',
      '  version: 0.1.0',
      '  resolution: "g@https://example.invalid/acme/g.git#commit=abc"',
      '',
      '"gen@exec:./gen.js":',
      '  version: 0.0.0',
      '  resolution: "gen@exec:./gen.js::locator=app%40workspace%3A."',
      '',
      '"p@portal:../p::locator=app%40workspace%3A.":',
      '  version: 0.0.0-use.local',
      '  resolution: "p@portal:../p::locator=app%40workspace%3A."',
      '',
      '"app@workspace:.":',
      '  version: 0.0.0-use.local',
      '  resolution: "app@workspace:."',
      '',
      '"@s/w@workspace:packages/w":',
      '  version: 0.0.0-use.local',
      '  resolution: "@s/w@workspace:packages/w"',
      '',
    ].join('\n');
    const parsed = parseLockfile('yarn.lock', text);
    expect(parsed.format).toBe('yarn-berry');
    expect(ids(parsed)).toEqual(['a@1.0.0', 'odd@2.0.0', 'resolve@1.22.8']);
    expect(parsed.entries.every((e) => e.integrity === undefined && e.resolved === undefined)).toBe(true);
    expect(parsed.root).toEqual({ name: 'app' });
    expect(parsed.skipped).toStrictEqual([
      { name: 'g', reason: 'git', source: 'https://example.invalid/acme/g.git#commit=abc' },
      { name: 'gen', reason: 'other', source: 'exec:./gen.js::locator=app%40workspace%3A.' },
    ]);
  });
});

describe('size', () => {
  const N = 2000;

  it(`parses a generated ${N}-entry npm v3 lockfile quickly`, () => {
    const packages: Record<string, object> = { '': { name: 'big', version: '1.0.0' } };
    for (let i = 0; i < N; i++) {
      const name = i % 3 === 0 ? `@scope${i % 7}/pkg-${i}` : `pkg-${i}`;
      const key = i % 5 === 0 ? `node_modules/host-${i}/node_modules/${name}` : `node_modules/${name}`;
      const base = name.slice(name.lastIndexOf('/') + 1);
      packages[key] = {
        version: `1.${i % 10}.${i}`,
        resolved: `http://registry.invalid/${name}/-/${base}-1.${i % 10}.${i}.tgz`,
        integrity: `sha512-${Buffer.from(String(i)).toString('base64')}`,
        dev: i % 4 === 0,
      };
    }
    const text = JSON.stringify({ name: 'big', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2);
    const started = Date.now();
    const parsed = parseLockfile('package-lock.json', text);
    const elapsed = Date.now() - started;
    expect(parsed.entries).toHaveLength(N);
    expect(new Set(ids(parsed)).size).toBe(N);
    expect(parsed.entries.filter((e) => e.dev)).toHaveLength(N / 4);
    expect(elapsed).toBeLessThan(2000);
  });

  it(`parses ${N}-entry pnpm 9 and yarn classic lockfiles with a ${N}-deep dependency chain`, () => {
    const pnpm = [`lockfileVersion: '9.0'`, 'importers:', '  .:', '    devDependencies:', '      p0: {specifier: ^1, version: 1.0.0}', 'packages:'];
    const snapshots = ['snapshots:'];
    const yarn = ['# yarn lockfile v1', ''];
    for (let i = 0; i < N; i++) {
      pnpm.push(`  p${i}@1.0.0: {resolution: {integrity: sha512-${i}}}`);
      snapshots.push(i + 1 < N ? `  p${i}@1.0.0: {dependencies: {p${i + 1}: 1.0.0}}` : `  p${i}@1.0.0: {}`);
      yarn.push(`p${i}@^1.0.0:`, '  version "1.0.0"', `  resolved "http://registry.invalid/p${i}/-/p${i}-1.0.0.tgz#${'0'.repeat(40)}"`, `  integrity sha512-${i}`, '');
    }
    const started = Date.now();
    const fromPnpm = parseLockfile('pnpm-lock.yaml', [...pnpm, ...snapshots, ''].join('\n'));
    const fromYarn = parseLockfile('yarn.lock', yarn.join('\n'));
    expect(Date.now() - started).toBeLessThan(4000);
    expect(fromPnpm.entries).toHaveLength(N);
    expect(fromPnpm.entries.every((e) => e.dev === true)).toBe(true);
    expect(fromYarn.entries).toHaveLength(N);
  });

  it(`walks a ${N}-deep npm v1 tree without recursion`, () => {
    const top: Record<string, unknown> = {};
    let level = top;
    for (let i = 0; i < N; i++) {
      const deps: Record<string, unknown> = {};
      level[`d${i}`] = { version: '1.0.0', dependencies: deps };
      level = deps;
    }
    const parsed = parseLockfile('package-lock.json', JSON.stringify({ lockfileVersion: 1, dependencies: top }));
    expect(parsed.entries).toHaveLength(N);
  });
});

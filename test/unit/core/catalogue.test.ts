import {
  assertColour,
  assertSlug,
  assertTagName,
  declaredDependencies,
  decodeNameCursor,
  edgesAmong,
  encodeNameCursor,
  likePattern,
  recordOfTree,
  resolveAmong,
  slugify,
} from '../../../src/core/catalogue';
import type { Packument } from '../../../src/core/packument';
import { caught } from '../../support/assert';

describe('catalogue core', () => {
  it('reads every declared dependency with its type; optional ones once, aliases as their real package', () => {
    const deps = declaredDependencies({
      dependencies: { a: '^1.0.0', opt: '^2.0.0', alias: 'npm:@real/pkg@^3.1.0', 'Not Valid!': '1.0.0', weird: 5 },
      optionalDependencies: { opt: '^2.0.0' },
      peerDependencies: { react: '>=17' },
      devDependencies: { jest: '^29.0.0', a: '^1.0.0' },
    });
    expect(deps).toEqual([
      { name: 'a', range: '^1.0.0', type: 'runtime' },
      { name: '@real/pkg', range: '^3.1.0', type: 'runtime' },
      { name: 'opt', range: '^2.0.0', type: 'optional' },
      { name: 'react', range: '>=17', type: 'peer' },
      { name: 'jest', range: '^29.0.0', type: 'dev' },
      { name: 'a', range: '^1.0.0', type: 'dev' },
    ]);
    expect(declaredDependencies(undefined)).toEqual([]);
    expect(declaredDependencies({ dependencies: ['x'] })).toEqual([]);
  });

  it('cleans hostile ranges before they reach SQL', () => {
    const [dep] = declaredDependencies({ dependencies: { a: `^1.0.0\u0000${'x'.repeat(1000)}` } });
    expect(dep.range).not.toContain('\u0000');
    expect(dep.range.length).toBeLessThanOrEqual(256);
  });

  it('resolves a range among candidates: exact, highest satisfying, a tag only when unambiguous', () => {
    expect(resolveAmong('^1.0.0', ['1.0.0', '1.2.0', '2.0.0'])).toBe('1.2.0');
    expect(resolveAmong('1.0.0', ['1.0.0', '1.2.0'])).toBe('1.0.0');
    expect(resolveAmong('^3.0.0', ['1.0.0'])).toBeUndefined();
    expect(resolveAmong('latest', ['4.0.0'])).toBe('4.0.0');
    expect(resolveAmong('latest', ['4.0.0', '5.0.0'])).toBeUndefined();
    expect(resolveAmong('1.0.0beta', ['1.0.0beta'])).toBe('1.0.0beta');
    expect(resolveAmong('^1.0.0', [])).toBeUndefined();
    // A URL, a path or a protocol spec names no registry version, one candidate or not.
    for (const spec of ['https://example.com/t-9.9.9.tgz', 'file:vendor/t-9.9.9.tgz', 'git+ssh://git@example.com/o/t.git', 'o/t', 'workspace:^1.0.0']) expect([spec, resolveAmong(spec, ['1.0.0'])]).toEqual([spec, undefined]);
  });

  it('keeps an alias and the real name of one package, and two aliases of it, as separate dependencies', () => {
    const deps = declaredDependencies({ dependencies: { 'my-alias': 'npm:real@^1.0.0', real: '^2.0.0', other: 'npm:real@^3.0.0' } });
    expect(deps).toEqual([
      { name: 'real', range: '^1.0.0', type: 'runtime' },
      { name: 'real', range: '^2.0.0', type: 'runtime' },
      { name: 'real', range: '^3.0.0', type: 'runtime' },
    ]);
  });

  it('resolves a lockfile\'s edges among its members; dev dependencies stay unresolved', () => {
    const edges = edgesAmong([
      { name: 'app-lib', version: '1.0.0', manifest: { dependencies: { base: '^1.0.0', missing: '^1.0.0' }, devDependencies: { base: '^1.0.0' } } },
      { name: 'base', version: '1.1.0', manifest: {} },
      { name: 'base', version: '2.0.0', manifest: {} },
      { name: 'unread', version: '1.0.0' },
    ]);
    expect(edges).toEqual([
      { package: 'app-lib', version: '1.0.0', name: 'base', range: '^1.0.0', type: 'runtime', resolved: '1.1.0' },
      { package: 'app-lib', version: '1.0.0', name: 'missing', range: '^1.0.0', type: 'runtime', resolved: null },
      { package: 'app-lib', version: '1.0.0', name: 'base', range: '^1.0.0', type: 'dev', resolved: null },
    ]);
  });

  it("resolves a tree's edges the way the resolution picked (latest first), only to versions in the tree", () => {
    const packuments = new Map<string, Packument>([
      ['base', { name: 'base', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'base', version: '1.0.0' }, '1.5.0': { name: 'base', version: '1.5.0' } } } as unknown as Packument],
    ]);
    const record = recordOfTree(
      [
        { name: 'top', version: '1.0.0', manifest: { license: 'MIT', dependencies: { base: '^1.0.0' }, peerDependencies: { other: '^1.0.0' } } },
        { name: 'base', version: '1.0.0', manifest: { license: 'ISC' } },
      ],
      packuments,
    );
    expect(record.versions).toEqual([
      { name: 'top', version: '1.0.0', license: 'MIT' },
      { name: 'base', version: '1.0.0', license: 'ISC' },
    ]);
    expect(record.edges).toEqual([
      { package: 'top', version: '1.0.0', name: 'base', range: '^1.0.0', type: 'runtime', resolved: '1.0.0' },
      { package: 'top', version: '1.0.0', name: 'other', range: '^1.0.0', type: 'peer', resolved: null },
    ]);
  });

  it('checks tag names, slugs and colours', () => {
    expect(assertTagName('  Web   Frameworks ')).toBe('Web Frameworks');
    expect(caught(() => assertTagName('')).code).toBe('EVALIDATION');
    expect(caught(() => assertTagName('x'.repeat(65))).code).toBe('EVALIDATION');
    // Characters, not UTF-16 units.
    expect(assertTagName(`x${'😀'.repeat(63)}`)).toBe(`x${'😀'.repeat(63)}`);
    expect(caught(() => assertTagName('😀'.repeat(65))).code).toBe('EVALIDATION');
    expect(slugify('Web Frameworks')).toBe('web-frameworks');
    expect(slugify('Bases de données / SQL')).toBe('bases-de-donnees-sql');
    expect(slugify('!!!')).toBe('');
    expect(assertSlug('http-clients')).toBe('http-clients');
    for (const bad of ['Http', 'a--b', '-a', 'a b', '', 5]) expect(caught(() => assertSlug(bad)).code).toBe('EVALIDATION');
    expect(assertColour('#36C')).toBe('#3366cc');
    expect(assertColour('#AABBCC')).toBe('#aabbcc');
    expect(assertColour('')).toBeNull();
    for (const bad of ['red', '#12345', 'url(x)', 5]) expect(caught(() => assertColour(bad)).code).toBe('EVALIDATION');
  });

  it('round-trips name cursors and refuses forged ones; escapes LIKE patterns', () => {
    expect(decodeNameCursor(encodeNameCursor('@acme/lib'))).toBe('@acme/lib');
    expect(decodeNameCursor(undefined)).toBeUndefined();
    for (const bad of ['!!', Buffer.from('id:5').toString('base64url'), Buffer.from('name:../x').toString('base64url'), 'x'.repeat(500)]) {
      expect(caught(() => decodeNameCursor(bad)).code).toBe('EVALIDATION');
    }
    expect(likePattern('Re_act%')).toBe('%re\\_act\\%%');
    expect(likePattern('  ')).toBeUndefined();
  });
});

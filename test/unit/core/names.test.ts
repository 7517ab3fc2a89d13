import { GatekeeperError } from '../../../src/core/errors';
import {
  assertPackageName,
  assertPackagePattern,
  assertRange,
  assertSemverVersion,
  assertVersion,
  assertDistTag,
  decodePackageName,
  isScopeWildcard,
  isValidDistTag,
  isValidPackageName,
  parseExactSpec,
  parseSpec,
  scopeOf,
  shown,
  versionFromTarball,
} from '../../../src/core/names';
import { caught } from '../../support/assert';


describe('isValidPackageName / assertPackageName', () => {
  it.each(['left-pad', 'lodash.merge', '@acme/widgets', '@a/b', 'a', 'a'.repeat(214), 'JSONStream'])('accepts %s', (name) => {
    expect(isValidPackageName(name)).toBe(true);
    expect(assertPackageName(name)).toBe(name);
  });

  it.each([
    '',
    ' left-pad',
    'left pad',
    '.hidden',
    '_private',
    'node_modules',
    'a/b',
    '@acme',
    '@acme/',
    '../etc/passwd',
    'a'.repeat(215),
    '@acme/' + 'a'.repeat(209),
  ])('rejects %j', (name) => {
    expect(isValidPackageName(name)).toBe(false);
    const err = caught(() => assertPackageName(name));
    expect(err.code).toBe('EINVALIDNAME');
    expect(err.status).toBe(400);
  });

  it('rejects non-strings with EINVALIDNAME', () => {
    for (const value of [undefined, null, 42, {}, ['left-pad']]) {
      expect(caught(() => assertPackageName(value)).code).toBe('EINVALIDNAME');
    }
  });

  it('names the rejected value in the message', () => {
    expect(caught(() => assertPackageName('bad name')).message).toBe("'bad name' is not a valid npm package name. Use a name npm accepts, such as lodash or @scope/name");
  });
});

describe('scope wildcards and assertPackagePattern', () => {
  it('recognises scope wildcards', () => {
    expect(isScopeWildcard('@acme/*')).toBe(true);
    expect(isScopeWildcard('@my-org.io/*')).toBe(true);
    expect(isScopeWildcard('@acme/widgets')).toBe(false);
    expect(isScopeWildcard('acme/*')).toBe(false);
    expect(isScopeWildcard('@/*')).toBe(false);
    expect(isScopeWildcard('@acme/**')).toBe(false);
    expect(isScopeWildcard('@acme/*x')).toBe(false);
    expect(isScopeWildcard('*')).toBe(false);
  });

  it('accepts package names and scope wildcards', () => {
    expect(assertPackagePattern('left-pad')).toBe('left-pad');
    expect(assertPackagePattern('@acme/widgets')).toBe('@acme/widgets');
    expect(assertPackagePattern('@acme/*')).toBe('@acme/*');
  });

  it('never takes a wildcard for a package name (a ban on @evil/* would ban nothing)', () => {
    expect(caught(() => assertPackageName('@evil/*')).code).toBe('EINVALIDNAME');
    expect(caught(() => assertPackageName('*')).code).toBe('EINVALIDNAME');
    expect(caught(() => assertPackagePattern('*')).code).toBe('EINVALIDNAME');
  });

  it.each(['acme/*', '@/*', '', 'bad name', '@acme', '@acme/widgets/*', '*', 'left-*'])('rejects %j', (pattern) => {
    const err = caught(() => assertPackagePattern(pattern));
    expect(err.code).toBe('EINVALIDNAME');
    expect(err.message).toContain('nor a scope wildcard. Use a name such as lodash, or a scope wildcard such as @acme/*');
  });

  it('rejects non-strings', () => {
    expect(caught(() => assertPackagePattern(undefined)).code).toBe('EINVALIDNAME');
    expect(caught(() => assertPackagePattern(7)).code).toBe('EINVALIDNAME');
  });

  it('scopeOf returns the scope of scoped names only', () => {
    expect(scopeOf('@acme/widgets')).toBe('@acme');
    expect(scopeOf('widgets')).toBeUndefined();
  });
});

describe('assertVersion', () => {
  it.each(['1.0.0', '0.0.1', '1.2.3-beta.1', '10.20.30-rc.1.2'])('accepts %s', (v) => {
    expect(assertVersion(v)).toBe(v);
  });

  it.each(['', '1', '1.0', 'v1.0.0', '=1.0.0', ' 1.0.0', '1.0.0 ', '^1.0.0', 'latest', '*', '1.x', 'beta1.0.0', '1.0.0/..', '1.0.0 beta'])('rejects %j', (v) => {
    const err = caught(() => assertVersion(v));
    expect(err.code).toBe('EINVALIDVERSION');
    expect(err.message).toContain('is not a valid semver version');
  });

  it('says a missing version is missing', () => {
    expect(caught(() => assertVersion(undefined)).message).toBe('no version was given. Give a version like 1.2.3');
  });

  it('says build metadata is no part of a registry version instead of calling it invalid semver', () => {
    const err = caught(() => assertVersion('1.0.0+build2'));
    expect(err.code).toBe('EINVALIDVERSION');
    expect(err.message).toBe("'1.0.0+build2' carries build metadata ('+build2'), which is no part of a version on a registry: semver ignores it, and npm publish cleans it off (publishing 1.0.0). Give 1.0.0");
    expect(caught(() => assertSemverVersion('1.2.3-rc.1+sha.5114f85')).message).toMatch(/\(publishing 1\.2\.3-rc\.1\)\. Publish it as 1\.2\.3-rc\.1 \("version": "1\.2\.3-rc\.1" in package\.json\)$/);
    // Not valid semver even without the build: the plain message.
    expect(caught(() => assertSemverVersion('1.0+build')).message).toBe("'1.0+build' is not a valid semver version. Give a version like 1.2.3");
  });

  // express has 28 keys like these; they are versions that can be explained, approved and banned.
  it.each(['1.0.0beta', '1.0.0beta2', '1.0.0rc', '1.0.0rc4', '2.0.0rc', '3.0.0alpha1', '1.0.0.0', '0.1.0-'])('accepts the legacy version %j', (v) => {
    expect(assertVersion(v)).toBe(v);
  });

  it('keeps publishing strict: assertSemverVersion rejects legacy versions', () => {
    expect(assertSemverVersion('1.2.3-beta.1')).toBe('1.2.3-beta.1');
    for (const v of ['1.0.0beta', '1.0.0.0', 'v1.0.0', '1.0', '', 7]) expect(caught(() => assertSemverVersion(v)).code).toBe('EINVALIDVERSION');
  });

  it('rejects non-strings and overlong versions', () => {
    expect(caught(() => assertVersion(`1.0.0beta${'a'.repeat(260)}`)).code).toBe('EINVALIDVERSION');
    expect(caught(() => assertVersion(1)).code).toBe('EINVALIDVERSION');
    expect(caught(() => assertVersion(undefined)).code).toBe('EINVALIDVERSION');
    expect(caught(() => assertVersion(`1.0.0-${'a'.repeat(260)}`)).code).toBe('EINVALIDVERSION');
  });
});

describe('assertRange', () => {
  it('defaults to * when absent or empty', () => {
    expect(assertRange(undefined)).toBe('*');
    expect(assertRange(null)).toBe('*');
    expect(assertRange('')).toBe('*');
  });

  it.each(['*', '^1.0.0', '~2.3', '>=1.0.0 <2.0.0', '1.x', '1.0.0 || 2.0.0', '1.2.3', '1.0.0 - 2.0.0', 'x'])('accepts %j', (r) => {
    expect(assertRange(r)).toBe(r);
  });

  it('trims surrounding whitespace', () => {
    expect(assertRange('  ^1.0.0 ')).toBe('^1.0.0');
  });

  it.each(['1.0.0beta', '2.0.0rc3', '3.0.0alpha1'])('accepts the legacy version %j as an exact range', (r) => {
    expect(assertRange(r)).toBe(r);
  });

  it.each(['^1.0.0beta', '>=1.0.0beta', '1.0.0beta || 2.0.0', '1.0.0beta ', 'beta'])('rejects %j: a legacy version is only ever exact', (r) => {
    expect(caught(() => assertRange(r)).code).toBe('EINVALIDRANGE');
  });

  it.each(['latest', 'not a range', '>>1', '^^1', 'file:../x'])('rejects %j with EINVALIDRANGE', (r) => {
    const err = caught(() => assertRange(r));
    expect(err.code).toBe('EINVALIDRANGE');
    expect(err.message).toContain('is not a valid semver range');
  });

  it.each([' ', '   ', '\t', '\u2028', '\u00a0 '])('rejects the blank range %j, saying to give * for every version', (r) => {
    const err = caught(() => assertRange(r));
    expect(err.code).toBe('EINVALIDRANGE');
    expect(err.message).toContain("Give '*' for every version");
  });

  it('rejects non-strings and overlong ranges', () => {
    expect(caught(() => assertRange(5)).code).toBe('EINVALIDRANGE');
    expect(caught(() => assertRange(`>=1.0.0 ${'<2.0.0 '.repeat(50)}`)).code).toBe('EINVALIDRANGE');
  });
});

describe('parseSpec', () => {
  it('parses an unscoped name without a range', () => {
    expect(parseSpec('left-pad')).toEqual({ name: 'left-pad', range: '*' });
  });

  it('parses an unscoped name with a range', () => {
    expect(parseSpec('left-pad@^1.2.0')).toEqual({ name: 'left-pad', range: '^1.2.0' });
    expect(parseSpec('left-pad@>=1.0.0 <2')).toEqual({ name: 'left-pad', range: '>=1.0.0 <2' });
  });

  it('parses a scoped name without a range', () => {
    expect(parseSpec('@acme/widgets')).toEqual({ name: '@acme/widgets', range: '*' });
  });

  it('parses a scoped name with a range', () => {
    expect(parseSpec('@acme/widgets@~2.1.0')).toEqual({ name: '@acme/widgets', range: '~2.1.0' });
  });

  it('parses a scope wildcard with and without a range', () => {
    expect(parseSpec('@acme/*')).toEqual({ name: '@acme/*', range: '*' });
    expect(parseSpec('@acme/*@1.x')).toEqual({ name: '@acme/*', range: '1.x' });
  });

  it('reads a legacy version as an exact range: gatekeeper approve express@1.0.0beta', () => {
    expect(parseSpec('express@1.0.0beta')).toEqual({ name: 'express', range: '1.0.0beta' });
    expect(parseSpec('@acme/old@2.0.0rc2')).toEqual({ name: '@acme/old', range: '2.0.0rc2' });
  });

  it('treats a trailing @ as the default range', () => {
    expect(parseSpec('left-pad@')).toEqual({ name: 'left-pad', range: '*' });
  });

  it('rejects an empty spec with EVALIDATION', () => {
    expect(caught(() => parseSpec('')).code).toBe('EVALIDATION');
  });

  it('rejects an invalid name or range', () => {
    expect(caught(() => parseSpec('bad name@1.0.0')).code).toBe('EINVALIDNAME');
    expect(caught(() => parseSpec('@acme')).code).toBe('EINVALIDNAME');
    expect(caught(() => parseSpec('left-pad@latest')).code).toBe('EINVALIDRANGE');
    expect(caught(() => parseSpec('@acme/widgets@not-a-range')).code).toBe('EINVALIDRANGE');
  });
});

describe('parseExactSpec', () => {
  it('parses scoped and unscoped name@version', () => {
    expect(parseExactSpec('left-pad@1.3.0')).toEqual({ name: 'left-pad', version: '1.3.0' });
    expect(parseExactSpec('@acme/widgets@2.0.0-beta.1')).toEqual({ name: '@acme/widgets', version: '2.0.0-beta.1' });
  });

  it('parses a legacy version (gatekeeper explain express@1.0.0beta)', () => {
    expect(parseExactSpec('express@1.0.0beta')).toEqual({ name: 'express', version: '1.0.0beta' });
    expect(parseExactSpec('express@3.0.0alpha1')).toEqual({ name: 'express', version: '3.0.0alpha1' });
  });

  it('requires a version', () => {
    expect(caught(() => parseExactSpec('left-pad')).code).toBe('EINVALIDVERSION');
    expect(caught(() => parseExactSpec('@acme/widgets')).code).toBe('EINVALIDVERSION');
  });

  it('rejects ranges where a version is required', () => {
    expect(caught(() => parseExactSpec('left-pad@^1.0.0')).code).toBe('EINVALIDVERSION');
    expect(caught(() => parseExactSpec('left-pad@1.x')).code).toBe('EINVALIDVERSION');
  });

  it('rejects an invalid name', () => {
    expect(caught(() => parseExactSpec('Bad Name@1.0.0')).code).toBe('EINVALIDNAME');
  });
});

describe('decodePackageName', () => {
  it('decodes scoped names written with %2f, %2F or a literal slash', () => {
    expect(decodePackageName('@acme%2fwidgets')).toBe('@acme/widgets');
    expect(decodePackageName('@acme%2Fwidgets')).toBe('@acme/widgets');
    expect(decodePackageName('@acme/widgets')).toBe('@acme/widgets');
    expect(decodePackageName('%40acme%2Fwidgets')).toBe('@acme/widgets');
  });

  it('passes unscoped names through', () => {
    expect(decodePackageName('left-pad')).toBe('left-pad');
  });

  it('rejects malformed percent-encoding with EINVALIDNAME', () => {
    const err = caught(() => decodePackageName('@acme%2widgets%'));
    expect(err.code).toBe('EINVALIDNAME');
    expect(err.message).toContain('@acme%2widgets%');
  });

  it('rejects names that are invalid once decoded', () => {
    expect(caught(() => decodePackageName('foo%2fbar')).code).toBe('EINVALIDNAME');
    expect(caught(() => decodePackageName('..%2f..%2fetc')).code).toBe('EINVALIDNAME');
    expect(caught(() => decodePackageName('left%20pad')).code).toBe('EINVALIDNAME');
  });
});

describe('versionFromTarball', () => {
  it('reads the version of an unscoped tarball', () => {
    expect(versionFromTarball('left-pad', 'left-pad-1.3.0.tgz')).toBe('1.3.0');
    expect(versionFromTarball('left-pad', 'left-pad-2.0.0-beta.1.tgz')).toBe('2.0.0-beta.1');
  });

  it('reads the version of a scoped tarball (file named without the scope)', () => {
    expect(versionFromTarball('@acme/widgets', 'widgets-1.0.0.tgz')).toBe('1.0.0');
  });

  it('returns undefined for a tarball of another package', () => {
    expect(versionFromTarball('left-pad', 'right-pad-1.0.0.tgz')).toBeUndefined();
    expect(versionFromTarball('@acme/widgets', 'gadgets-1.0.0.tgz')).toBeUndefined();
    // A package whose name extends this one's: `left-pad-extra-1.0.0.tgz` is not left-pad@extra-1.0.0.
    expect(versionFromTarball('left-pad', 'left-pad-extra-1.0.0.tgz')).toBeUndefined();
    expect(versionFromTarball('left', 'left-pad-1.0.0.tgz')).toBeUndefined();
  });

  it("reads a legacy version, which the packument's tarball URL names (express-1.0.0beta.tgz)", () => {
    expect(versionFromTarball('express', 'express-1.0.0beta.tgz')).toBe('1.0.0beta');
    expect(versionFromTarball('express', 'express-3.0.0alpha1.tgz')).toBe('3.0.0alpha1');
    expect(versionFromTarball('@acme/old', 'old-2.0.0rc.tgz')).toBe('2.0.0rc');
  });

  it('returns undefined for a non-semver version or a wrong extension', () => {
    expect(versionFromTarball('left-pad', 'left-pad-1.0.tgz')).toBeUndefined();
    expect(versionFromTarball('left-pad', 'left-pad-v1.0.0.tgz')).toBeUndefined();
    expect(versionFromTarball('left-pad', 'left-pad-latest.tgz')).toBeUndefined();
    expect(versionFromTarball('left-pad', 'left-pad-.tgz')).toBeUndefined();
    expect(versionFromTarball('left-pad', 'left-pad-1.0.0.tar.gz')).toBeUndefined();
    expect(versionFromTarball('left-pad', 'left-pad-1.0.0.tgz.sig')).toBeUndefined();
  });
});

describe('hostile names, tags and what messages quote of them', () => {
  it.each(['x\ud800y', '\udfff', 'caf\u00e9', 'a\u0000b', 'tab\tname', '@acme/\ud83d'])('refuses %j without throwing', (name) => {
    expect(isValidPackageName(name)).toBe(false);
    expect(caught(() => assertPackageName(name)).code).toBe('EINVALIDNAME');
  });

  it('quotes at most 60 printable characters of a name in its refusal, and says what to do next', () => {
    const err = caught(() => assertPackageName(`${'A'.repeat(200_000)}\r\n`));
    expect(err.message).toBe(`'${'A'.repeat(57)}...' is not a valid npm package name. Use a name npm accepts, such as lodash or @scope/name`);
    expect(shown('a\r\nb')).toBe("'a??b'");
    expect(shown({ a: 1 })).toBe(`'{"a":1}'`);
    expect(shown(undefined)).toBe("'undefined'");
  });

  it.each(['latest', 'next', 'beta', 'v1-lts', 'canary.2', 'rc_1', 'X'.repeat(128)])('accepts the dist-tag %s', (tag) => {
    expect(isValidDistTag(tag)).toBe(true);
    expect(assertDistTag(tag)).toBe(tag);
  });

  it.each(['', '1.2.3', '^1', 'x', '*', '>=2', 'bad tag', 'a\r\nX: y', 'a/b', 'caf\u00e9', 'X'.repeat(129), 42, null])('refuses the dist-tag %j with EINVALIDTAG', (tag) => {
    expect(isValidDistTag(tag)).toBe(false);
    expect(caught(() => assertDistTag(tag)).code).toBe('EINVALIDTAG');
  });

  it.each(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', 'isPrototypeOf', '__defineGetter__'])(
    'refuses the dist-tag %s, a member every JavaScript object has, saying so',
    (tag) => {
      expect(isValidDistTag(tag)).toBe(false);
      const err = caught(() => assertDistTag(tag));
      expect(err.code).toBe('EINVALIDTAG');
      expect(err.message).toBe(`'${tag}' is not a dist-tag name: every JavaScript object has a member of that name, so registries and clients lose or misread such a tag. Pick another name, such as next or beta`);
    },
  );

  it.each(['Constructor', 'proto', '__proto', 'toStrings'])('accepts the dist-tag %s, which only looks like an object member', (tag) => {
    expect(isValidDistTag(tag)).toBe(true);
  });
});

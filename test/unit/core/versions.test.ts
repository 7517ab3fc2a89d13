import {
  compareVersions,
  compileRange,
  coversEveryRelease,
  isLegacyVersion,
  isNamedVersion,
  isSemverVersion,
  isVersionKey,
  newestBy,
  rangeMatches,
  rcompareVersions,
  sortVersions,
} from '../../../src/core/versions';

/** Keys strict semver rejects, as express has them (28 of them upstream). */
const EXPRESS_LEGACY = [
  '1.0.0beta', '1.0.0beta2', '1.0.0rc', '1.0.0rc2', '1.0.0rc3', '1.0.0rc4',
  '2.0.0beta', '2.0.0beta2', '2.0.0beta3', '2.0.0rc', '2.0.0rc2', '2.0.0rc3',
  '3.0.0alpha1', '3.0.0alpha2', '3.0.0alpha3', '3.0.0alpha4', '3.0.0alpha5',
  '3.0.0beta1', '3.0.0beta2', '3.0.0beta3', '3.0.0beta4', '3.0.0beta5', '3.0.0beta6', '3.0.0beta7',
  '3.0.0rc1', '3.0.0rc2', '3.0.0rc3', '3.0.0rc4',
];
const EXPRESS_STRICT = ['0.14.0', '0.14.1', '1.0.0', '1.0.8', '2.0.0', '2.5.11', '3.0.0', '3.21.2', '4.0.0', '4.18.2', '5.0.0-beta.1'];

describe('version kinds', () => {
  it('tells strict, legacy and impossible keys apart', () => {
    expect(EXPRESS_LEGACY).toHaveLength(28);
    for (const v of EXPRESS_LEGACY) {
      expect([v, isSemverVersion(v), isLegacyVersion(v), isNamedVersion(v), isVersionKey(v)]).toEqual([v, false, true, true, true]);
    }
    for (const v of EXPRESS_STRICT) expect([v, isSemverVersion(v), isLegacyVersion(v)]).toEqual([v, true, false]);
    // Ranges are not legacy versions, though a packument may have such a key.
    for (const v of ['1.0', 'v1.2.3', '=1.0.0', '1.x', '1']) expect([v, isLegacyVersion(v), isVersionKey(v)]).toEqual([v, false, true]);
    for (const v of ['', ' ', '1.0.0 beta', 'a/b', '1.0.0%2f', '__proto__', 'constructor', 'prototype', '1'.repeat(257), 'é1.0.0', 7, null]) {
      expect([v, isVersionKey(v)]).toEqual([v, false]);
    }
  });
});

describe('ordering', () => {
  it('sorts an express-like key set without throwing, legacy keys as their loose reading', () => {
    const keys = [...EXPRESS_STRICT, ...EXPRESS_LEGACY].reverse();
    const sorted = sortVersions(keys);
    expect(sorted.slice(0, 9)).toEqual(['0.14.0', '0.14.1', '1.0.0beta', '1.0.0beta2', '1.0.0rc', '1.0.0rc2', '1.0.0rc3', '1.0.0rc4', '1.0.0']);
    expect(sorted.indexOf('2.0.0rc3') + 1).toBe(sorted.indexOf('2.0.0'));
    expect(sorted.indexOf('3.0.0alpha1')).toBeLessThan(sorted.indexOf('3.0.0beta1'));
    expect(sorted.indexOf('3.0.0rc4') + 1).toBe(sorted.indexOf('3.0.0'));
    expect(sorted.slice(-2)).toEqual(['4.18.2', '5.0.0-beta.1']);
    expect(sortVersions(keys, true)).toEqual([...sorted].reverse());
    expect([...keys].sort(compareVersions)).toEqual(sorted);
    expect([...keys].sort(rcompareVersions)).toEqual([...sorted].reverse());
  });

  it('is total and stable: equal readings order by the string, keys without a reading come first', () => {
    expect(sortVersions(['1.0.0', '1.0.0beta', '1.0.0-beta', 'zzz', 'abc', '1.0', '1.0.0+build', '=1.0.0'])).toEqual([
      'abc',
      'zzz',
      '1.0.0-beta',
      '1.0.0beta',
      '1.0',
      '1.0.0',
      '1.0.0+build',
      '=1.0.0',
    ]);
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
    expect(compareVersions('1.0.0beta', '1.0.0-beta')).toBeGreaterThan(0);
  });

  it('newestBy finds the highest in one pass and tolerates anything', () => {
    expect(newestBy(EXPRESS_LEGACY, (v) => v)).toBe('3.0.0rc4');
    expect(newestBy([...EXPRESS_LEGACY, '2.0.0'], (v) => v)).toBe('3.0.0rc4');
    expect(newestBy([...EXPRESS_LEGACY, '3.0.0'], (v) => v)).toBe('3.0.0');
    expect(newestBy([], (v: string) => v)).toBeUndefined();
    expect(newestBy(['x', '', 'y'.repeat(300)], (v) => v)).toBe('y'.repeat(300));
  });
});

describe('ranges and legacy keys', () => {
  it('a semver range never matches a legacy key', () => {
    for (const range of ['^1.0.0-0', '>=1.0.0-0 <2', '1.x', '<=3.0.0', '1.0.0-beta', '~3.0.0-0']) {
      const m = compileRange(range);
      for (const v of EXPRESS_LEGACY) expect([range, v, m.test(v)]).toEqual([range, v, false]);
    }
    expect(compileRange('*').test('1.0.0beta')).toBe(false);
    expect(compileRange('^1.0.0').test('1.0.8')).toBe(true);
    expect(compileRange('*').test('5.0.0-beta.1')).toBe(true);
  });

  it('an exact legacy range matches exactly that key', () => {
    const m = compileRange('1.0.0beta');
    expect(m.test('1.0.0beta')).toBe(true);
    for (const v of ['1.0.0beta2', '1.0.0-beta', '1.0.0', '1.0.0BETA']) expect(m.test(v)).toBe(false);
  });

  it('a range string equal to a key matches it (a key such as 1.0 or v1.2.3 is read as the range it is)', () => {
    expect(compileRange('1.0').test('1.0')).toBe(true);
    expect(compileRange('1.0').test('1.0.5')).toBe(true);
    expect(compileRange('v1.2.3').test('v1.2.3')).toBe(true);
    expect(compileRange('^1.0.0').test('v1.2.3')).toBe(false);
  });

  it('deny rules covering every release cover legacy keys too (cover-all)', () => {
    for (const range of ['*', 'x', '>=0.0.0', '>=0', '']) {
      expect([range, coversEveryRelease(range)]).toEqual([range, true]);
      expect([range, compileRange(range, { legacy: 'cover-all' }).test('1.0.0beta')]).toEqual([range, true]);
      expect([range, compileRange(range).test('1.0.0beta')]).toEqual([range, false]);
    }
    for (const range of ['<5', '>=1.0.0', '^1.0.0', '1.0.0beta']) {
      expect(coversEveryRelease(range)).toBe(false);
      expect(compileRange(range, { legacy: 'cover-all' }).test('1.0.0rc')).toBe(false);
    }
  });

  it('refuses a stored range that is neither, and rangeMatches never throws', () => {
    for (const bad of ['latest', '^^1', 'not a range', '1.0.0 beta']) {
      expect(() => compileRange(bad)).toThrow(TypeError);
      expect(rangeMatches(bad, '1.0.0')).toBe(false);
    }
    expect(rangeMatches('*', 'constructor')).toBe(false);
    expect(rangeMatches('*', 'constructor', { legacy: 'cover-all' })).toBe(true);
  });
});

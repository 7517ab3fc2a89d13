import spdxSatisfies from 'spdx-satisfies';
import spdxCorrect from 'spdx-correct';
import {
  compileLicensePolicy,
  CompiledLicensePolicy,
  DEFAULT_LICENSE_MEMO_LIMIT,
  describeLicense,
  evaluateLicense,
  isKnownLicenseId,
  licenseIdsOf,
  licensePolicyEntryError,
  LicensePolicy,
  LicenseVerdict,
  ParsedLicense,
  parseLicense,
} from '../../../src/core/license';
import { GatekeeperError } from '../../../src/core/errors';

const PERMISSIVE = ['MIT', 'ISC', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD'];

function policy(allow: string[] = PERMISSIVE, deny: string[] = [], unknown: 'block' | 'allow' = 'block'): CompiledLicensePolicy {
  return compileLicensePolicy({ allow, deny, unknown });
}

/** Parse `license` and evaluate it. */
function check(license: unknown, compiled: CompiledLicensePolicy = policy()): LicenseVerdict {
  return evaluateLicense(parseLicense({ license }), compiled);
}

describe('spdx-satisfies 6, as this module relies on it (pinned)', () => {
  it.each([
    // `+` and -or-later are ranges; -only and the deprecated bare id are one version.
    ['GPL-2.0+', ['GPL-3.0-or-later'], true],
    ['GPL-2.0+', ['GPL-3.0-only'], true],
    ['GPL-2.0-or-later', ['GPL-3.0-only'], true],
    ['GPL-3.0-or-later', ['GPL-3.0-only'], true],
    ['GPL-3.0-only', ['GPL-3.0-or-later'], true],
    ['GPL-3.0', ['GPL-3.0-only'], true],
    ['GPL-2.0-only', ['GPL-3.0-or-later'], false],
    ['GPL-2.0-only', ['GPL-2.0-or-later'], true],
    ['Apache-2.0', ['Apache-1.1+'], true],
    ['Apache-1.0', ['Apache-1.1+'], false],
    // WITH must match exactly, both ways.
    ['Apache-2.0 WITH LLVM-exception', ['Apache-2.0'], false],
    ['Apache-2.0', ['Apache-2.0 WITH LLVM-exception'], false],
    ['Apache-2.0 WITH LLVM-exception', ['Apache-2.0 WITH LLVM-exception'], true],
    // OR needs one branch, AND needs all.
    ['(MIT OR GPL-3.0-only)', ['MIT'], true],
    ['MIT AND ISC', ['MIT'], false],
  ])('satisfies(%s, %j) is %s', (expression, allow, expected) => {
    expect(spdxSatisfies(expression, allow)).toBe(expected);
  });

  it('rejects lower-case operators and UNLICENSED (so it is only given canonical text)', () => {
    expect(() => spdxSatisfies('MIT or ISC', ['MIT'])).toThrow();
    expect(() => spdxSatisfies('UNLICENSED', ['MIT'])).toThrow();
    expect(() => spdxSatisfies('MIT', ['MIT OR ISC'])).toThrow(/cannot be AND or OR/);
  });

  it('has the 8-character quirk this module works around', () => {
    expect(spdxSatisfies('LGPL-2.1', ['LGPL-3.0-only'])).toBe(true);
    expect(spdxSatisfies('LGPL-2.1-only', ['LGPL-3.0-only'])).toBe(false);
    expect(spdxSatisfies('CDDL-1.0', ['CDDL-1.1'])).toBe(true);
  });

  it('spdx-correct maps UNLICENSED to Unlicense and BSD to BSD-2-Clause (why those are special-cased)', () => {
    expect(spdxCorrect('UNLICENSED')).toBe('Unlicense');
    expect(spdxCorrect('BSD')).toBe('BSD-2-Clause');
    expect(spdxCorrect('BSD', { upgrade: false })).toBe('BSD-2-Clause');
    expect(spdxCorrect('GPL 3.0')).toBe('GPL-3.0-or-later');
    expect(spdxCorrect('GPL 3.0', { upgrade: false })).toBe('GPL-3.0');
  });
});

describe('parseLicense: SPDX strings', () => {
  it.each([
    ['MIT', 'MIT'],
    ['(MIT OR Apache-2.0)', 'MIT OR Apache-2.0'],
    ['Apache-2.0 WITH LLVM-exception', 'Apache-2.0 WITH LLVM-exception'],
    ['  ISC  ', 'ISC'],
    ['MIT or ISC', 'MIT OR ISC'],
    ['Apache-2.0 with LLVM-exception', 'Apache-2.0 WITH LLVM-exception'],
    ['MIT AND (ISC OR 0BSD)', 'MIT AND (ISC OR 0BSD)'],
    ['MIT OR ISC AND 0BSD', 'MIT OR (ISC AND 0BSD)'],
    ['((MIT))', 'MIT'],
    ['GPL-2.0+', 'GPL-2.0+'],
    ['GPL-3.0-or-later', 'GPL-3.0-or-later'],
    ['GPL-3.0', 'GPL-3.0'],
    ['LicenseRef-Acme-1', 'LicenseRef-Acme-1'],
    ['Unlicense', 'Unlicense'],
  ])('%j is spdx %j', (license, expression) => {
    const parsed = parseLicense({ license });
    expect(parsed).toEqual({ kind: 'spdx', raw: license, expression });
  });
});

describe('parseLicense: legacy objects and arrays', () => {
  it('reads a {type, url} object by its type', () => {
    const license = { type: 'MIT', url: 'https://opensource.org/licenses/MIT' };
    expect(parseLicense({ license })).toEqual({ kind: 'spdx', raw: license, expression: 'MIT' });
  });

  it('corrects a misspelt type', () => {
    expect(parseLicense({ license: { type: 'apache 2.0' } })).toMatchObject({ kind: 'corrected', expression: 'Apache-2.0', correctedFrom: 'apache 2.0' });
  });

  it('falls back to the url of an object whose type is missing or unrecognised', () => {
    expect(parseLicense({ license: { url: 'https://example.com/L' } })).toMatchObject({ kind: 'url', url: 'https://example.com/L' });
    expect(parseLicense({ license: { type: 'Acme EULA', url: 'http://acme.test/eula' } })).toMatchObject({ kind: 'url', url: 'http://acme.test/eula' });
  });

  it('keeps UNLICENSED and SEE LICENSE IN in a type', () => {
    expect(parseLicense({ license: { type: 'UNLICENSED', url: 'https://acme.test' } }).kind).toBe('unlicensed');
    expect(parseLicense({ license: { type: 'SEE LICENSE IN EULA.txt' } })).toMatchObject({ kind: 'see-file', file: 'EULA.txt' });
  });

  it('treats an object without a usable type or url as invalid', () => {
    expect(parseLicense({ license: {} })).toMatchObject({ kind: 'invalid', text: '{}' });
    expect(parseLicense({ license: { type: 42, url: 'not a url' } }).kind).toBe('invalid');
    expect(parseLicense({ license: { type: 'Foo Public License' } })).toMatchObject({ kind: 'invalid', text: 'Foo Public License' });
  });

  it('combines a legacy licenses array with OR', () => {
    const licenses = [
      { type: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      { type: 'Apache-2.0', url: 'https://opensource.org/licenses/Apache-2.0' },
    ];
    expect(parseLicense({ licenses })).toEqual({ kind: 'spdx', raw: licenses, expression: 'MIT OR Apache-2.0' });
  });

  it('reads arrays of strings, in license or licenses', () => {
    expect(parseLicense({ license: ['MIT', 'ISC'] }).expression).toBe('MIT OR ISC');
    expect(parseLicense({ licenses: ['BSD-3-Clause'] })).toMatchObject({ kind: 'spdx', expression: 'BSD-3-Clause' });
  });

  it('parenthesises compound entries and drops duplicates', () => {
    expect(parseLicense({ licenses: ['MIT AND ISC', { type: 'Apache-2.0' }, 'MIT AND ISC'] }).expression).toBe('(MIT AND ISC) OR Apache-2.0');
  });

  it('records corrections made inside an array', () => {
    expect(parseLicense({ licenses: [{ type: 'mit' }, { type: 'Apache-2.0' }] })).toMatchObject({
      kind: 'corrected',
      expression: 'MIT OR Apache-2.0',
      correctedFrom: 'mit OR Apache-2.0',
    });
  });

  it('drops alternatives that cannot be evaluated, since any one alternative may be taken', () => {
    expect(parseLicense({ licenses: [{ type: 'Acme EULA' }, 'UNLICENSED', { type: 'ISC' }] })).toMatchObject({ kind: 'spdx', expression: 'ISC' });
  });

  it('uses the first present entry when none can be evaluated', () => {
    const licenses = [null, { type: 'SEE LICENSE IN LICENSE' }, 'UNLICENSED'];
    expect(parseLicense({ licenses })).toEqual({ kind: 'see-file', raw: licenses, file: 'LICENSE' });
    expect(parseLicense({ licenses: ['UNLICENSED', 'Foo'] }).kind).toBe('unlicensed');
  });

  it('treats an empty array as missing and a huge one as invalid', () => {
    expect(parseLicense({ licenses: [] }).kind).toBe('missing');
    expect(parseLicense({ licenses: [null, ''] }).kind).toBe('missing');
    expect(parseLicense({ licenses: Array.from({ length: 100 }, () => 'MIT') }).kind).toBe('invalid');
  });

  it('prefers license over licenses, unless license is missing', () => {
    expect(parseLicense({ license: 'ISC', licenses: [{ type: 'MIT' }] }).expression).toBe('ISC');
    expect(parseLicense({ license: 'Foo', licenses: [{ type: 'MIT' }] }).kind).toBe('invalid');
    expect(parseLicense({ license: '', licenses: [{ type: 'MIT' }] }).expression).toBe('MIT');
    expect(parseLicense({ license: null, licenses: 'MIT' }).expression).toBe('MIT');
    expect(parseLicense({ license: [], licenses: ['MIT'] }).expression).toBe('MIT');
  });
});

describe('parseLicense: statements that are not SPDX expressions', () => {
  it.each([
    ['SEE LICENSE IN LICENSE.md', 'LICENSE.md'],
    ['see licence in ./COPYING  ', './COPYING'],
    ['SEE LICENSE IN https://acme.test/eula', 'https://acme.test/eula'],
  ])('%j is see-file %j', (license, file) => {
    expect(parseLicense({ license })).toEqual({ kind: 'see-file', raw: license, file });
  });

  it.each(['https://example.com/LICENSE', 'http://example.com/license.txt'])('%j is a url', (license) => {
    expect(parseLicense({ license })).toEqual({ kind: 'url', raw: license, url: license });
  });

  it('does not treat other schemes as urls', () => {
    expect(parseLicense({ license: 'ftp://example.com/LICENSE' }).kind).toBe('invalid');
  });

  it.each(['UNLICENSED', 'unlicensed', 'Unlicensed', 'UNLICENCED'])('%j is unlicensed, not corrected to Unlicense', (license) => {
    const parsed = parseLicense({ license });
    expect(parsed).toEqual({ kind: 'unlicensed', raw: license });
    expect(parsed.expression).toBeUndefined();
  });

  it.each([
    ['absent', {}],
    ['undefined', { license: undefined }],
    ['null', { license: null }],
    ['empty', { license: '' }],
    ['blank', { license: '   ' }],
    ['both null', { license: null, licenses: null }],
  ])('a %s license is missing', (_label, manifest) => {
    expect(parseLicense(manifest).kind).toBe('missing');
  });
});

describe('parseLicense: corrections', () => {
  it.each([
    ['mit', 'MIT'],
    ['Apache 2.0', 'Apache-2.0'],
    ['apache-2.0', 'Apache-2.0'],
    ['Apache2', 'Apache-2.0'],
    ['Apache License, Version 2.0', 'Apache-2.0'],
    ['MIT License', 'MIT'],
    ['BSD-3', 'BSD-3-Clause'],
    ['BSD 3-Clause', 'BSD-3-Clause'],
    ['MPLv2', 'MPL-2.0'],
    ['0bsd', '0BSD'],
    ['mit OR isc', 'MIT OR ISC'],
    ['mit+', 'MIT+'],
    // Without upgrades: the deprecated id, which SPDX defines as -only.
    ['gpl-3.0', 'GPL-3.0'],
    ['GPL 3.0', 'GPL-3.0'],
    ['LGPL 2.1', 'LGPL-2.1'],
    ['unlicense', 'Unlicense'],
  ])('corrects %j to %j and records it', (license, expression) => {
    expect(parseLicense({ license })).toEqual({ kind: 'corrected', raw: license, expression, correctedFrom: license });
  });

  it.each([
    ['BSD', 'a version is invented (BSD-2-Clause)'],
    ['BSD License', 'a version is invented'],
    ['BSD-like', 'a version is invented'],
    ['BSD-Zero-Clause', 'a version is invented'],
    ['Apache', 'a version is invented (Apache-2.0)'],
    ['GPL', 'a version is invented (GPL-3.0-or-later)'],
    ['CC0', 'a version is invented (CC0-1.0)'],
    ['WTFPL 2', 'a version is dropped'],
    ['MIT/ISC', 'a license is dropped'],
    ['MIT & Apache 2.0', 'a license is dropped'],
    ['mit AND bsd', 'an AND is dropped'],
    ['MIT or Apache 2.0', 'an alternative is dropped'],
    ['The MIT License (MIT)', 'MIT appears twice'],
    ['Foo Public License', 'spdx-correct has nothing'],
    ['ISC License', 'spdx-correct has nothing'],
  ])('does not correct %j (%s)', (license) => {
    const parsed = parseLicense({ license });
    expect(parsed.kind).toBe('invalid');
    expect(parsed.text).toBe(license);
    expect(parsed.expression).toBeUndefined();
  });
});

describe('parseLicense: garbage never throws', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  it.each([
    ['a number', { license: 42 }, 'invalid'],
    ['a boolean', { license: true }, 'invalid'],
    ['a bigint', { license: BigInt(7) }, 'invalid'],
    ['a symbol', { license: Symbol('x') }, 'invalid'],
    ['a function', { license: () => 'MIT' }, 'invalid'],
    ['a cyclic object', { license: cyclic }, 'invalid'],
    ['an object with a non-string type', { license: { type: ['MIT'] } }, 'invalid'],
    ['an array of junk', { license: [1, {}, [2], true] }, 'invalid'],
    ['a nested array', { licenses: [['MIT']] }, 'invalid'],
    ['licenses as a number', { licenses: 3 }, 'invalid'],
    ['a very long string', { license: 'MIT OR '.repeat(300) + 'MIT' }, 'invalid'],
    ['an unbalanced expression', { license: '(MIT OR' }, 'invalid'],
    ['operators only', { license: 'AND OR WITH' }, 'invalid'],
    ['deep nesting', { license: '('.repeat(400) + 'MIT' + ')'.repeat(400) }, 'spdx'],
  ])('%s', (_label, manifest, kind) => {
    let parsed: ParsedLicense | undefined;
    expect(() => {
      parsed = parseLicense(manifest as { license?: unknown; licenses?: unknown });
    }).not.toThrow();
    expect(parsed?.kind).toBe(kind);
    expect(typeof describeLicense(parsed as ParsedLicense)).toBe('string');
  });

  it('survives a manifest that is not an object or whose getter throws', () => {
    expect(parseLicense(null as unknown as { license?: unknown }).kind).toBe('missing');
    expect(parseLicense('MIT' as unknown as { license?: unknown }).kind).toBe('missing');
    const hostile = Object.defineProperty({}, 'license', {
      get() {
        throw new Error('boom');
      },
    });
    expect(parseLicense(hostile).kind).toBe('invalid');
  });

  it('keeps invalid text short', () => {
    const parsed = parseLicense({ license: 'x'.repeat(5000) });
    expect(parsed.kind).toBe('invalid');
    expect((parsed.text ?? '').length).toBeLessThanOrEqual(80);
  });
});

describe('describeLicense', () => {
  it.each([
    [{ license: 'BUSL-1.1' }, 'BUSL-1.1'],
    [{ license: '(MIT OR Apache-2.0)' }, 'MIT OR Apache-2.0'],
    [{ license: 'UNLICENSED' }, 'UNLICENSED'],
    [{ license: 'SEE LICENSE IN LICENSE.md' }, 'SEE LICENSE IN LICENSE.md'],
    [{}, 'no license field'],
    [{ license: 'mit' }, 'MIT (corrected from "mit")'],
    [{ license: 'https://acme.test/l' }, 'https://acme.test/l'],
    [{ license: 'Foo Public License' }, 'unrecognised license "Foo Public License"'],
    [{ license: 42 }, 'unrecognised license "42"'],
  ])('%j -> %j', (manifest, text) => {
    expect(describeLicense(parseLicense(manifest))).toBe(text);
  });
});

describe('licenseIdsOf and isKnownLicenseId', () => {
  it('lists every term once, in order, with + and WITH', () => {
    expect(licenseIdsOf('MIT OR (GPL-2.0+ AND Apache-2.0 WITH LLVM-exception) OR MIT')).toEqual([
      'MIT',
      'GPL-2.0+',
      'Apache-2.0 WITH LLVM-exception',
    ]);
    expect(licenseIdsOf('(ISC)')).toEqual(['ISC']);
  });

  it('returns [] for anything that is not an expression', () => {
    expect(licenseIdsOf('UNLICENSED')).toEqual([]);
    expect(licenseIdsOf('Foo Public License')).toEqual([]);
    expect(licenseIdsOf(42 as unknown as string)).toEqual([]);
  });

  it.each([
    ['MIT', true],
    ['Apache-2.0', true],
    ['GPL-3.0-or-later', true],
    ['GPL-3.0', true], // deprecated, still on the list
    ['mit', false],
    ['MIT+', false],
    ['MIT OR ISC', false],
    [' MIT', false],
    ['(MIT)', false],
    ['Apache-2.0 WITH LLVM-exception', false],
    ['LLVM-exception', false],
    ['LicenseRef-Acme', false],
    ['UNLICENSED', false],
    ['', false],
  ])('isKnownLicenseId(%j) is %s', (id, known) => {
    expect(isKnownLicenseId(id)).toBe(known);
  });

  it('is false for non-strings', () => {
    expect(isKnownLicenseId(undefined as unknown as string)).toBe(false);
    expect(isKnownLicenseId({} as unknown as string)).toBe(false);
  });
});

describe('compileLicensePolicy', () => {
  it('defaults deny to [] and unknown to block, and drops duplicates', () => {
    const compiled = compileLicensePolicy({ allow: ['MIT', 'MIT', 'ISC'] });
    expect(compiled.allow).toEqual(['MIT', 'ISC']);
    expect(compiled.deny).toEqual([]);
    expect(compiled.unknown).toBe('block');
    expect(compiled.memoLimit).toBe(DEFAULT_LICENSE_MEMO_LIMIT);
    expect(DEFAULT_LICENSE_MEMO_LIMIT).toBe(10_000);
  });

  it('accepts single terms, ranges, exceptions, LicenseRefs and UNLICENSED', () => {
    const entries = ['MIT', 'GPL-2.0+', 'GPL-3.0-or-later', 'Apache-2.0 WITH LLVM-exception', 'LicenseRef-Acme', 'UNLICENSED'];
    for (const entry of entries) expect(licensePolicyEntryError(entry)).toBeUndefined();
    expect(compileLicensePolicy({ allow: entries, deny: ['AGPL-3.0-only'], unknown: 'allow' }).allow).toEqual(entries);
  });

  it.each([
    ['mit', /not an SPDX license identifier \(did you mean 'MIT'\?\)/],
    ['Foo', /not an SPDX license identifier$/],
    ['unlicensed', /should be written 'UNLICENSED'/],
    ['MIT OR ISC', /is an expression/],
    ['(MIT)', /should be written 'MIT'/],
    ['Apache-2.0 with LLVM-exception', /should be written 'Apache-2.0 WITH LLVM-exception'/],
    ['LicenseRef-Acme WITH LLVM-exception', /not supported by spdx-satisfies/],
  ])('rejects %j', (entry, message) => {
    expect(licensePolicyEntryError(entry)).toMatch(message);
    expect(() => compileLicensePolicy({ allow: [entry] })).toThrow(GatekeeperError);
    expect(() => compileLicensePolicy({ allow: ['MIT'], deny: [entry] })).toThrow(/invalid license policy: deny: /);
  });

  it('rejects a bad unknown setting, a non-list, and non-string entries with EVALIDATION', () => {
    const attempts: unknown[] = [
      { allow: ['MIT'], unknown: 'maybe' },
      { allow: 'MIT' },
      { allow: [42] },
      null,
    ];
    for (const attempt of attempts) {
      let error: unknown;
      try {
        compileLicensePolicy(attempt as LicensePolicy);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(GatekeeperError);
      expect((error as GatekeeperError).code).toBe('EVALIDATION');
    }
  });
});

describe('evaluateLicense: allowlist, OR, AND, WITH', () => {
  it('allows an allowlisted id and says so', () => {
    const verdict = check('MIT');
    expect(verdict).toMatchObject({ allowed: true, evaluable: true, denied: false, failedIds: [], deniedIds: [], satisfiedBy: ['MIT'] });
    expect(verdict.reason).toBe('MIT, which the license policy allows');
  });

  it('blocks an id that is not on the allowlist', () => {
    const verdict = check('BUSL-1.1');
    expect(verdict).toMatchObject({ allowed: false, evaluable: true, denied: false, failedIds: ['BUSL-1.1'], deniedIds: [] });
    expect(verdict.reason).toBe('BUSL-1.1, which the license policy does not allow');
  });

  it('allows an OR when one branch is allowed, and names it', () => {
    const verdict = check('(GPL-3.0-only OR MIT)');
    expect(verdict).toMatchObject({ allowed: true, satisfiedBy: ['MIT'] });
    expect(verdict.reason).toBe('GPL-3.0-only OR MIT, which the license policy allows (as MIT)');
  });

  it('blocks an OR when no branch is allowed', () => {
    expect(check('GPL-3.0-only OR BUSL-1.1')).toMatchObject({ allowed: false, failedIds: ['GPL-3.0-only', 'BUSL-1.1'] });
  });

  it('requires every part of an AND', () => {
    expect(check('MIT AND ISC')).toMatchObject({ allowed: true, satisfiedBy: ['MIT', 'ISC'] });
    const verdict = check('MIT AND BUSL-1.1');
    expect(verdict).toMatchObject({ allowed: false, failedIds: ['BUSL-1.1'] });
    expect(verdict.reason).toBe('MIT AND BUSL-1.1, which the license policy does not allow (BUSL-1.1 is not allowed)');
  });

  it('handles nested expressions', () => {
    expect(check('(MIT AND BUSL-1.1) OR (ISC AND Apache-2.0)')).toMatchObject({ allowed: true, satisfiedBy: ['ISC', 'Apache-2.0'] });
    expect(check('MIT AND (BUSL-1.1 OR SSPL-1.0)')).toMatchObject({ allowed: false, failedIds: ['BUSL-1.1', 'SSPL-1.0'] });
  });

  it('needs the exact WITH exception on the allowlist', () => {
    expect(check('Apache-2.0 WITH LLVM-exception')).toMatchObject({ allowed: false, failedIds: ['Apache-2.0 WITH LLVM-exception'] });
    const withException = policy(['Apache-2.0 WITH LLVM-exception']);
    expect(check('Apache-2.0 WITH LLVM-exception', withException).allowed).toBe(true);
    expect(check('Apache-2.0', withException).allowed).toBe(false);
  });

  it('evaluates lower-case operators (spdx-satisfies alone would throw)', () => {
    expect(check('BUSL-1.1 or MIT')).toMatchObject({ allowed: true, evaluable: true });
  });

  it('allows a LicenseRef only when it is listed verbatim', () => {
    expect(check('LicenseRef-Acme')).toMatchObject({ allowed: false, evaluable: true, failedIds: ['LicenseRef-Acme'] });
    expect(check('LicenseRef-Acme', policy(['LicenseRef-Acme'])).allowed).toBe(true);
  });

  it('blocks everything with an empty allowlist', () => {
    expect(check('MIT', policy([]))).toMatchObject({ allowed: false, evaluable: true, failedIds: ['MIT'] });
  });
});

describe('evaluateLicense: + and -or-later', () => {
  const gpl3up = policy(['GPL-3.0-or-later']);

  it.each([
    ['GPL-2.0+', true],
    ['GPL-2.0-or-later', true],
    ['GPL-3.0+', true],
    ['GPL-3.0-or-later', true],
    ['GPL-3.0-only', true],
    ['GPL-3.0', true],
    ['GPL-2.0-only', false],
    ['GPL-2.0', false],
    ['LGPL-3.0-only', false],
    ['AGPL-3.0-only', false],
  ])('with GPL-3.0-or-later allowed, %s allowed is %s', (license, allowed) => {
    expect(check(license, gpl3up).allowed).toBe(allowed);
  });

  it('lets an or-later license be taken under an allowed earlier version', () => {
    const gpl2only = policy(['GPL-2.0-only']);
    expect(check('GPL-2.0-or-later', gpl2only).allowed).toBe(true);
    expect(check('GPL-3.0-or-later', gpl2only).allowed).toBe(false);
  });

  it('orders versions within other families', () => {
    const apache11up = policy(['Apache-1.1+']);
    expect(check('Apache-2.0', apache11up).allowed).toBe(true);
    expect(check('Apache-1.0', apache11up).allowed).toBe(false);
  });

  it('works around the 8-character quirk for deprecated GNU ids', () => {
    expect(check('LGPL-2.1', policy(['LGPL-3.0-only'])).allowed).toBe(false);
    expect(check('LGPL-2.1', policy(['LGPL-3.0-or-later'])).allowed).toBe(false);
    expect(check('LGPL-3.0-only', policy(['LGPL-2.1'])).allowed).toBe(false);
    expect(check('LGPL-2.1', policy(['LGPL-2.1-only'])).allowed).toBe(true);
    expect(check('LGPL-2.1-only', policy(['LGPL-2.1'])).allowed).toBe(true);
    expect(check('LGPL-3.0', policy(['LGPL-2.1-or-later'])).allowed).toBe(true);
    expect(check('LGPL-2.1+', policy(['LGPL-3.0-only'])).allowed).toBe(true);
  });

  it('compares other 8-character ids by exact id only (ranges are not honoured for them)', () => {
    expect(check('CDDL-1.0', policy(['CDDL-1.1'])).allowed).toBe(false);
    expect(check('CDDL-1.0', policy(['CDDL-1.0'])).allowed).toBe(true);
    expect(check('CDDL-1.0', policy(['CDDL-1.0+'])).allowed).toBe(true);
    expect(check('CDDL-1.1', policy(['CDDL-1.0+'])).allowed).toBe(false);
    expect(check('EUPL-1.1', policy(['EUPL-1.0'])).allowed).toBe(false);
  });
});

describe('evaluateLicense: denylist', () => {
  const agplDenied = policy([...PERMISSIVE, 'AGPL-3.0-only', 'AGPL-3.0-or-later'], ['AGPL-3.0-only']);

  it('allows an OR when a branch that is not denied satisfies the allowlist', () => {
    const verdict = check('(MIT OR AGPL-3.0-only)', agplDenied);
    expect(verdict).toMatchObject({ allowed: true, denied: false, satisfiedBy: ['MIT'], deniedIds: [] });
  });

  it('denies an AND with a denied part', () => {
    const verdict = check('MIT AND AGPL-3.0-only', agplDenied);
    expect(verdict).toMatchObject({ allowed: false, evaluable: true, denied: true, failedIds: ['AGPL-3.0-only'], deniedIds: ['AGPL-3.0-only'] });
    expect(verdict.reason).toBe('MIT AND AGPL-3.0-only, which the license policy denies (AGPL-3.0-only is denied)');
  });

  it('denies an id that is also on the allowlist', () => {
    const verdict = check('AGPL-3.0-only', agplDenied);
    expect(verdict).toMatchObject({ allowed: false, denied: true, deniedIds: ['AGPL-3.0-only'] });
    expect(verdict.reason).toBe('AGPL-3.0-only, which the license policy denies');
  });

  it('denies the deprecated alias and the or-later form of a denied id', () => {
    expect(check('AGPL-3.0', agplDenied)).toMatchObject({ allowed: false, denied: true, deniedIds: ['AGPL-3.0'] });
    expect(check('AGPL-3.0-or-later', agplDenied)).toMatchObject({ allowed: false, denied: true, deniedIds: ['AGPL-3.0-or-later'] });
  });

  it('denies every version in a denied range, whatever the allowlist says', () => {
    const gplDenied = policy(['GPL-3.0-only', 'MIT'], ['GPL-2.0+']);
    expect(check('GPL-3.0-only', gplDenied)).toMatchObject({ allowed: false, denied: true });
    expect(check('GPL-3.0-only OR MIT', gplDenied)).toMatchObject({ allowed: true, satisfiedBy: ['MIT'] });
  });

  it('does not let an allowed range admit a denied version', () => {
    const verdict = check('GPL-3.0-only', policy(['GPL-2.0-or-later'], ['GPL-3.0-only']));
    expect(verdict).toMatchObject({ allowed: false, denied: true, deniedIds: ['GPL-3.0-only'] });
  });

  it('allows an or-later term taken under an allowed version that is not denied', () => {
    const verdict = check('GPL-2.0-or-later', policy(['GPL-2.0-only'], ['GPL-3.0-only']));
    expect(verdict).toMatchObject({ allowed: true, denied: false, satisfiedBy: ['GPL-2.0-or-later'] });
    expect(check('GPL-2.0+', policy(['GPL-2.0-only'], ['GPL-3.0-only'])).allowed).toBe(true);
    // Both ranges: the term itself is checked, and it admits the denied version.
    expect(check('GPL-2.0+', policy(['GPL-2.0-or-later'], ['GPL-3.0-only']))).toMatchObject({ allowed: false, denied: true });
  });

  it('denies a denied license with an exception added, unless the deny entry names another exception', () => {
    const denied = policy(['GPL-2.0-only WITH Classpath-exception-2.0'], ['GPL-2.0-only']);
    expect(check('GPL-2.0-only WITH Classpath-exception-2.0', denied)).toMatchObject({ allowed: false, denied: true });
    const deniedWithOther = policy(['GPL-2.0-only WITH Classpath-exception-2.0'], ['GPL-2.0-only WITH GCC-exception-2.0']);
    expect(check('GPL-2.0-only WITH Classpath-exception-2.0', deniedWithOther).allowed).toBe(true);
  });

  it('reports "not allowed" rather than "denied" when some alternative needs no denied id', () => {
    const verdict = check('AGPL-3.0-only OR BUSL-1.1', agplDenied);
    expect(verdict).toMatchObject({ allowed: false, denied: false, failedIds: ['AGPL-3.0-only', 'BUSL-1.1'], deniedIds: ['AGPL-3.0-only'] });
    expect(verdict.reason).toBe(
      'AGPL-3.0-only OR BUSL-1.1, which the license policy does not allow (AGPL-3.0-only is denied; BUSL-1.1 is not allowed)',
    );
  });

  it('denies when every alternative needs a denied id', () => {
    const verdict = check('(AGPL-3.0-only AND MIT) OR (ISC AND AGPL-3.0-or-later)', agplDenied);
    expect(verdict).toMatchObject({ allowed: false, denied: true, deniedIds: ['AGPL-3.0-only', 'AGPL-3.0-or-later'] });
  });
});

describe('evaluateLicense: UNLICENSED and the unknown setting', () => {
  const block = policy(PERMISSIVE, [], 'block');
  const allow = policy(PERMISSIVE, [], 'allow');

  it.each([
    ['SEE LICENSE IN LICENSE.md', 'under a license file ("SEE LICENSE IN LICENSE.md")'],
    ['https://acme.test/eula', 'under a license at a URL (https://acme.test/eula)'],
    [undefined, 'under no declared license (no license field)'],
    ['Foo Public License', 'an unrecognised license ("Foo Public License")'],
    [{ type: 7 }, 'an unrecognised license ("{\\"type\\":7}")'],
  ])('%j is blocked by unknown: block and allowed by unknown: allow', (license, subject) => {
    const blocked = check(license, block);
    expect(blocked).toMatchObject({ allowed: false, evaluable: false, denied: false, failedIds: [], deniedIds: [] });
    expect(blocked.reason).toBe(`${subject}, and unknown licenses are blocked`);
    const allowed = check(license, allow);
    expect(allowed).toMatchObject({ allowed: true, evaluable: false });
    expect(allowed.reason).toBe(`${subject}, and unknown licenses are allowed`);
  });

  it('blocks UNLICENSED even when unknown licenses are allowed', () => {
    const verdict = check('UNLICENSED', allow);
    expect(verdict).toMatchObject({ allowed: false, evaluable: true, denied: false, failedIds: ['UNLICENSED'] });
    expect(verdict.reason).toBe('UNLICENSED (proprietary), which the license policy does not allow');
  });

  it('allows UNLICENSED when the literal UNLICENSED is allowlisted, and not Unlicense', () => {
    const proprietaryOk = policy(['MIT', 'UNLICENSED']);
    expect(check('UNLICENSED', proprietaryOk)).toMatchObject({ allowed: true, evaluable: true, satisfiedBy: ['UNLICENSED'] });
    expect(check('Unlicense', proprietaryOk).allowed).toBe(false);
    expect(check('UNLICENSED', policy(['Unlicense'])).allowed).toBe(false);
  });

  it('denies UNLICENSED when it is on the denylist, even if allowlisted', () => {
    const verdict = check('UNLICENSED', policy(['UNLICENSED'], ['UNLICENSED']));
    expect(verdict).toMatchObject({ allowed: false, denied: true, deniedIds: ['UNLICENSED'] });
    expect(verdict.reason).toBe('UNLICENSED (proprietary), which the license policy denies');
  });

  it('treats an expression too large to expand as not evaluable', () => {
    const huge = Array.from({ length: 9 }, () => '(MIT OR ISC)').join(' AND ');
    expect(check(huge, block)).toMatchObject({ allowed: false, evaluable: false });
    expect(check(huge, block).reason).toMatch(/which cannot be evaluated \(more than 256 alternatives\), and unknown licenses are blocked$/);
    expect(check(huge, allow)).toMatchObject({ allowed: true, evaluable: false });
  });

  it('treats what spdx-satisfies throws on as not evaluable', () => {
    const withException = policy(['Apache-2.0 WITH LLVM-exception']);
    const verdict = check('LicenseRef-Acme WITH LLVM-exception', withException);
    expect(verdict).toMatchObject({ allowed: false, evaluable: false });
    expect(verdict.reason).toMatch(/cannot be evaluated \(spdx-satisfies: /);
    const lenient = compileLicensePolicy({ allow: ['Apache-2.0 WITH LLVM-exception'], unknown: 'allow' });
    expect(check('LicenseRef-Acme WITH LLVM-exception', lenient)).toMatchObject({ allowed: true, evaluable: false });
  });
});

describe('evaluateLicense: corrections, plain policies, robustness', () => {
  it('evaluates the corrected expression and keeps the correction in the verdict', () => {
    const verdict = check('Apache 2.0');
    expect(verdict.allowed).toBe(true);
    expect(verdict.parsed).toMatchObject({ kind: 'corrected', expression: 'Apache-2.0', correctedFrom: 'Apache 2.0' });
    expect(verdict.reason).toBe('Apache-2.0 (corrected from "Apache 2.0"), which the license policy allows');
  });

  it('accepts a plain policy as well as a compiled one', () => {
    const plain: LicensePolicy = { allow: ['MIT'], deny: [], unknown: 'block' };
    const parsed = parseLicense({ license: 'MIT' });
    expect(evaluateLicense(parsed, plain)).toEqual(evaluateLicense(parsed, compileLicensePolicy(plain)));
    expect(evaluateLicense(parseLicense({ license: 'ISC' }), plain).allowed).toBe(false);
  });

  it('blocks instead of throwing when a plain policy is invalid', () => {
    const verdict = evaluateLicense(parseLicense({ license: 'MIT' }), { allow: ['mit'], deny: [], unknown: 'allow' });
    expect(verdict).toMatchObject({ allowed: false, evaluable: false });
    expect(verdict.reason).toMatch(/^MIT, which could not be checked \(invalid license policy: allow: 'mit'/);
  });

  it('never throws on malformed parsed licenses or policies', () => {
    const compiled = policy();
    const inputs: unknown[] = [
      { kind: 'spdx', raw: 'x' },
      { kind: 'spdx', raw: 'x', expression: 'not an expression' },
      { kind: 'corrected', raw: 'x', expression: 42 },
      { kind: 'no-such-kind', raw: 'x' },
      {},
      null,
    ];
    for (const input of inputs) {
      let verdict: LicenseVerdict | undefined;
      expect(() => {
        verdict = evaluateLicense(input as ParsedLicense, compiled);
      }).not.toThrow();
      expect(verdict?.allowed).toBe(false);
      expect(typeof verdict?.reason).toBe('string');
    }
    expect(evaluateLicense(parseLicense({ license: 'MIT' }), null as unknown as LicensePolicy).allowed).toBe(false);
    expect(evaluateLicense(parseLicense({ license: 'MIT' }), { allow: 'MIT' } as unknown as LicensePolicy).allowed).toBe(false);
  });

  it('never throws while evaluating garbage manifests', () => {
    const manifests: unknown[] = [
      { license: 42 },
      { license: [null, 1, 'MIT AND', { type: {} }] },
      { licenses: [{ url: 5 }, [[]], { type: 'GPL' }] },
      { license: 'MIT WITH' },
      { license: 'WITH LLVM-exception' },
      { license: '+' },
      { license: 'DocumentRef-x:LicenseRef-y' },
    ];
    for (const manifest of manifests) {
      const verdict = evaluateLicense(parseLicense(manifest as { license?: unknown }), policy());
      expect(verdict.allowed).toBe(false);
    }
  });
});

describe('evaluateLicense: memo', () => {
  it('returns identical verdicts from the memo, with the caller\'s parsed license', () => {
    const compiled = policy([...PERMISSIVE, 'AGPL-3.0-only'], ['AGPL-3.0-only']);
    const first = check('MIT AND AGPL-3.0-only', compiled);
    expect(compiled.memo.size).toBe(1);
    const second = check('MIT AND AGPL-3.0-only', compiled);
    expect(compiled.memo.size).toBe(1);
    expect(second).toEqual(first);
    const fromArray = evaluateLicense(parseLicense({ licenses: ['MIT AND AGPL-3.0-only'] }), compiled);
    expect(compiled.memo.size).toBe(1);
    expect(fromArray.parsed.raw).toEqual(['MIT AND AGPL-3.0-only']);
    expect({ ...fromArray, parsed: undefined }).toEqual({ ...first, parsed: undefined });
  });

  it('matches a fresh evaluation, and separate policies have separate memos', () => {
    const licenses = ['MIT', 'BUSL-1.1', 'MIT OR BUSL-1.1', 'GPL-2.0+', 'Apache-2.0 WITH LLVM-exception'];
    const warm = policy();
    for (const license of licenses) check(license, warm);
    for (const license of licenses) expect(check(license, warm)).toEqual(check(license, policy()));
    const other = policy(['BUSL-1.1']);
    expect(check('BUSL-1.1', warm).allowed).toBe(false);
    expect(check('BUSL-1.1', other).allowed).toBe(true);
  });

  it('hands out copies: mutating a verdict does not change the next one', () => {
    const compiled = policy();
    const first = check('MIT AND BUSL-1.1', compiled);
    first.failedIds.push('tampered');
    first.satisfiedBy.push('tampered');
    expect(check('MIT AND BUSL-1.1', compiled).failedIds).toEqual(['BUSL-1.1']);
    expect(check('MIT AND BUSL-1.1', compiled).satisfiedBy).toEqual([]);
  });

  it('is bounded, evicting the least recently used expression', () => {
    const compiled = compileLicensePolicy({ allow: ['MIT'] }, { memoLimit: 3 });
    for (const id of ['LicenseRef-a', 'LicenseRef-b', 'LicenseRef-c']) check(id, compiled);
    check('LicenseRef-a', compiled); // a is now the most recently used
    check('LicenseRef-d', compiled); // evicts b
    expect(compiled.memo.size).toBe(3);
    expect([...compiled.memo.keys()]).toEqual(['LicenseRef-c', 'LicenseRef-a', 'LicenseRef-d']);
    for (let i = 0; i < 50; i += 1) check(`LicenseRef-x${i}`, compiled);
    expect(compiled.memo.size).toBe(3);
  });

  it('does not memoise verdicts that are not about an expression', () => {
    const compiled = policy();
    check('UNLICENSED', compiled);
    check(undefined, compiled);
    check('SEE LICENSE IN LICENSE', compiled);
    expect(compiled.memo.size).toBe(0);
  });
});

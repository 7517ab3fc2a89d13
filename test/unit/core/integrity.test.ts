import { createHash } from 'crypto';
import { integrityToVerify, matchesIntegrity, matchesIntegrityString, strongestDigests } from '../../../src/core/integrity';
import { integrityOf, shasumOf } from '../../support/tarball';

const sri = (algorithm: string, bytes: Buffer) => `${algorithm}-${createHash(algorithm).update(bytes).digest('base64')}`;
const a = Buffer.from('a');
const b = Buffer.from('b');

describe('strongestDigests', () => {
  it('keeps every digest of the strongest verifiable algorithm named, whatever the order', () => {
    const got = strongestDigests(`${sri('sha1', a)} ${sri('sha512', a)} ${sri('sha256', b)} ${sri('sha512', b)}`);
    expect(got?.algorithm).toBe('sha512');
    expect([...(got?.digests ?? [])].sort()).toEqual([sri('sha512', a).slice(7), sri('sha512', b).slice(7)].sort());
    expect(strongestDigests(`${sri('sha1', a)} ${sri('sha384', a)}`)?.algorithm).toBe('sha384');
  });

  it('names nothing for an integrity without a verifiable algorithm', () => {
    expect(strongestDigests(sri('md5', a))).toBeUndefined();
    expect(strongestDigests('nonsense')).toBeUndefined();
    expect(strongestDigests('')).toBeUndefined();
  });
});

describe('matchesIntegrityString', () => {
  it('checks the bytes against the strongest algorithm only: a weaker hash that matches does not pass a stronger one that does not', () => {
    expect(matchesIntegrityString(a, sri('sha512', a))).toBe(true);
    expect(matchesIntegrityString(a, `${sri('sha1', a)} ${sri('sha512', b)}`)).toBe(false);
    expect(matchesIntegrityString(a, `${sri('sha1', b)} ${sri('sha256', a)}`)).toBe(true);
    expect(matchesIntegrityString(b, `${sri('sha512', a)} ${sri('sha512', b)}`)).toBe(true);
  });

  it('refuses bytes against an integrity it cannot verify', () => {
    expect(matchesIntegrityString(a, sri('md5', a))).toBe(false);
    expect(matchesIntegrityString(a, 'nonsense')).toBe(false);
  });
});

describe('integrityToVerify', () => {
  it('keeps the strongest algorithm of the integrity, else the shasum as sha1', () => {
    const sha1 = integrityToVerify({ shasum: shasumOf(a) });
    expect(sha1).toBe(sri('sha1', a));
    expect(integrityToVerify({ integrity: `${sha1} ${integrityOf(a)}` })).toBe(integrityOf(a));
    expect(integrityToVerify({ integrity: 'nonsense', shasum: shasumOf(a).toUpperCase() })).toBe(sha1);
    expect(integrityToVerify({ integrity: sri('md5', a), shasum: shasumOf(a) })).toBe(sha1);
    expect(integrityToVerify({ integrity: 42, shasum: null })).toBeUndefined();
  });
});

describe('matchesIntegrity', () => {
  it('checks bytes against what integrityToVerify chose, and is false when nothing is usable', () => {
    expect(matchesIntegrity(a, { integrity: integrityOf(a) })).toBe(true);
    expect(matchesIntegrity(a, { integrity: integrityOf(b), shasum: shasumOf(a) })).toBe(false);
    expect(matchesIntegrity(a, { integrity: 'nonsense', shasum: shasumOf(a) })).toBe(true);
    expect(matchesIntegrity(a, {})).toBe(false);
  });
});

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  applyMetadataWrite,
  checkMetadataWrite,
  compareNewestFirst,
  integrityOf,
  isPrivateName,
  isValidGlob,
  mayClaim,
  mayPublish,
  parsePublishBody,
  publishedVersionOf,
  patternMatches,
  publishRefusal,
  PublishRule,
  Publisher,
  shasumOf,
  unpublishRefusal,
  versionExists,
  VersionRecord,
} from '../../../src/core/publish';
import { caught } from '../../support/assert';

/** A fixed "now" so that no test depends on the real clock. */
const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

function rule(id: string, pattern: string, principalType: PublishRule['principalType'], principal: string): PublishRule {
  return { id, pattern, principalType, principal, shadowUpstream: false, createdBy: 'admin', createdAt: new Date(NOW - HOUR) };
}

const admin: Publisher = { username: 'root', role: 'admin' };
const pub: Publisher = { username: 'pat', role: 'publisher' };
const dev: Publisher = { username: 'dana', role: 'developer' };
const reader: Publisher = { username: 'rita', role: 'reader' };

describe('patternMatches', () => {
  it('matches an exact name', () => {
    expect(patternMatches('left-pad', 'left-pad')).toBe(true);
    expect(patternMatches('left-pad', 'left-pad2')).toBe(false);
    expect(patternMatches('@acme/widgets', '@acme/widgets')).toBe(true);
    expect(patternMatches('@acme/widgets', '@acme/gadgets')).toBe(false);
  });

  it('matches every name of a scope with @scope/*', () => {
    expect(patternMatches('@acme/*', '@acme/widgets')).toBe(true);
    expect(patternMatches('@acme/*', '@acme/gadgets')).toBe(true);
  });

  it('does not let a scope wildcard cover other scopes or unscoped names', () => {
    expect(patternMatches('@acme/*', '@acmecorp/widgets')).toBe(false);
    expect(patternMatches('@acme/*', '@acm/widgets')).toBe(false);
    expect(patternMatches('@acme/*', 'acme')).toBe(false);
    expect(patternMatches('@acme/*', 'widgets')).toBe(false);
  });

  it('matches globs: * any unscoped name, acme-*, @*/* any scoped name, @acme/ui-*', () => {
    expect(patternMatches('left-*', 'left-pad')).toBe(true);
    expect(patternMatches('*', 'left-pad')).toBe(true);
    expect(patternMatches('*', '@acme/widgets')).toBe(false);
    expect(patternMatches('acme-*', 'acme')).toBe(false);
    expect(patternMatches('acme-*', 'xacme-a')).toBe(false);
    expect(patternMatches('@*/*', '@acme/widgets')).toBe(true);
    expect(patternMatches('@*/*', 'left-pad')).toBe(false);
    expect(patternMatches('@acme/ui-*', '@acme/ui-kit')).toBe(true);
    expect(patternMatches('@acme/ui-*', '@other/ui-kit')).toBe(false);
    expect(patternMatches('a.b*', 'axb-c')).toBe(false);
  });

  it('accepts valid globs only', () => {
    for (const p of ['*', 'acme-*', '@*/*', '@acme/ui-*', '@*/ui-*']) expect([p, isValidGlob(p)]).toEqual([p, true]);
    for (const p of ['@acme/*', 'left-pad', '*/*', '@*', 'ACME-*', 'a b*', '']) expect([p, isValidGlob(p)]).toEqual([p, false]);
  });
});

describe('glob rules: claims', () => {
  const glob = (pattern: string, principal: string, principalType: 'role' | 'user' = 'role'): PublishRule => ({
    id: pattern,
    pattern,
    principalType,
    principal,
    shadowUpstream: false,
    createdBy: 'admin',
    createdAt: new Date(0),
  });
  const dev = { username: 'dev1', role: 'developer' as const };
  const reader = { username: 'r1', role: 'reader' as const };

  it('make nothing private by themselves; a claimed name (its own rule) is', () => {
    const rules = [glob('*', 'developer')];
    expect(isPrivateName(rules, 'fresh-name')).toBe(false);
    expect(mayPublish(rules, dev, 'fresh-name')).toBe(false);
    expect(mayClaim(rules, dev, 'fresh-name')).toBe(true);
    expect(mayClaim(rules, reader, 'fresh-name')).toBe(false);
    expect(mayClaim(rules, { username: 'a', role: 'admin' }, 'fresh-name')).toBe(true);
    expect(mayClaim(rules, dev, '@acme/x')).toBe(false);
    expect(publishRefusal(rules, dev, 'fresh-name', { claim: true })).toBeUndefined();
    expect(publishRefusal(rules, dev, 'fresh-name')?.code).toBe('ENOTPRIVATE');
    expect(publishRefusal(rules, reader, 'fresh-name', { claim: true })?.code).toBe('EFORBIDDEN');
    const claimed = [...rules, glob('fresh-name', 'dev1', 'user')];
    expect(isPrivateName(claimed, 'fresh-name')).toBe(true);
    expect(mayClaim(claimed, dev, 'fresh-name')).toBe(false);
    expect(mayPublish(claimed, dev, 'fresh-name')).toBe(true);
    expect(publishRefusal(claimed, dev, 'fresh-name')).toBeUndefined();
  });

  it('grant nothing on a claimed name: only its claimant, its name rules and admins may write it', () => {
    const claim: PublishRule = { ...glob('fresh-name', 'dev1', 'user'), id: '2', source: 'claim' };
    const rules = [glob('*', 'developer'), glob('fresh-*', 'publisher'), claim];
    const erin = { username: 'erin', role: 'developer' as const };
    const pat = { username: 'pat', role: 'publisher' as const };
    for (const who of [erin, pat]) {
      expect([who.username, mayPublish(rules, who, 'fresh-name')]).toEqual([who.username, false]);
      for (const claiming of [true, false]) {
        const err = publishRefusal(rules, who, 'fresh-name', { claim: claiming });
        expect(err?.code).toBe('EFORBIDDEN');
        expect(err?.message).toBe(
          `fresh-name is claimed by dev1 (its first publisher here), so ${who.username} (${who.role}) may not publish, unpublish, tag or deprecate it. ` +
            `Ask dev1 to publish it, or ask an admin for a publish rule: gatekeeper publish-rule add fresh-name --user ${who.username}`,
        );
      }
    }
    expect(mayPublish(rules, dev, 'fresh-name')).toBe(true);
    expect(mayPublish(rules, { username: 'root', role: 'admin' }, 'fresh-name')).toBe(true);
    // An exact-name rule an admin adds keeps its rights.
    expect(mayPublish([...rules, glob('fresh-name', 'erin', 'user')], erin, 'fresh-name')).toBe(true);
    // Nor does a glob grant a name a scope rule makes private.
    const scoped = [rule('1', '@acme/*', 'role', 'publisher'), glob('@acme/ui-*', 'developer')];
    expect(mayPublish(scoped, erin, '@acme/ui-kit')).toBe(false);
    expect(publishRefusal(scoped, erin, '@acme/ui-kit', { claim: true })?.message).toBe('erin (developer) may not publish @acme/ui-kit; ask an admin for a publish rule');
    expect(mayPublish(scoped, pat, '@acme/ui-kit')).toBe(true);
  });

  it('an unscoped name the upstream has, covered by a glob for someone else: the next step is a scoped name or --shadow-upstream', () => {
    const rules = [glob('*', 'developer')];
    const alice = { username: 'alice', role: 'publisher' as const };
    const err = publishRefusal(rules, alice, 'upname', { claim: true, upstreamHas: true });
    expect(err?.code).toBe('ENOTPRIVATE');
    expect(err?.message).toContain('Publish it under a scoped name (@<scope>/upname)');
    expect(err?.message).toContain('gatekeeper publish-rule add upname --role publisher --shadow-upstream');
    // Without the upstream's answer, or for a name the upstream lacks, it is a missing rule.
    expect(publishRefusal(rules, alice, 'upname', { claim: true })?.message).toBe('alice (publisher) may not publish upname; ask an admin for a publish rule');
  });
});

describe('isPrivateName', () => {
  const rules = [rule('1', '@acme/*', 'role', 'publisher'), rule('2', 'internal-tool', 'user', 'pat')];

  it('is true for names some rule covers', () => {
    expect(isPrivateName(rules, '@acme/widgets')).toBe(true);
    expect(isPrivateName(rules, 'internal-tool')).toBe(true);
  });

  it('is false for other names and without rules', () => {
    expect(isPrivateName(rules, 'left-pad')).toBe(false);
    expect(isPrivateName(rules, '@other/widgets')).toBe(false);
    expect(isPrivateName([], '@acme/widgets')).toBe(false);
  });
});

describe('mayPublish', () => {
  const rules = [rule('1', '@acme/*', 'role', 'publisher'), rule('2', 'internal-tool', 'user', 'dana')];

  it('refuses anonymous users', () => {
    expect(mayPublish(rules, undefined, '@acme/widgets')).toBe(false);
  });

  it('lets admins publish every private name, and only private names', () => {
    expect(mayPublish(rules, admin, '@acme/widgets')).toBe(true);
    expect(mayPublish(rules, admin, 'internal-tool')).toBe(true);
    expect(mayPublish(rules, admin, 'left-pad')).toBe(false);
    expect(mayPublish([], admin, '@acme/widgets')).toBe(false);
  });

  it('applies role rules to users with that role', () => {
    expect(mayPublish(rules, pub, '@acme/widgets')).toBe(true);
    expect(mayPublish(rules, dev, '@acme/widgets')).toBe(false);
    expect(mayPublish(rules, reader, '@acme/widgets')).toBe(false);
  });

  it('applies user rules to that user whatever their role', () => {
    expect(mayPublish(rules, dev, 'internal-tool')).toBe(true);
    expect(mayPublish(rules, { username: 'dana', role: 'reader' }, 'internal-tool')).toBe(true);
    expect(mayPublish(rules, pub, 'internal-tool')).toBe(false);
  });

  it('does not let a rule for one name grant another', () => {
    expect(mayPublish(rules, dev, '@acme/widgets')).toBe(false);
    expect(mayPublish(rules, pub, 'internal-tool-2')).toBe(false);
  });

  it('does not confuse a username with a role name', () => {
    const r = [rule('1', 'x', 'user', 'publisher')];
    expect(mayPublish(r, pub, 'x')).toBe(false);
    expect(mayPublish(r, { username: 'publisher', role: 'reader' }, 'x')).toBe(true);
  });
});

describe('publishRefusal', () => {
  const rules = [rule('1', '@acme/*', 'role', 'publisher')];

  it('asks anonymous users to log in (EUNAUTHENTICATED)', () => {
    const err = publishRefusal(rules, undefined, '@acme/widgets');
    expect(err?.code).toBe('EUNAUTHENTICATED');
    expect(err?.status).toBe(401);
    expect(err?.message).toContain("npm login");
  });

  it('refuses a name that is not private with ENOTPRIVATE and suggests the scope rule', () => {
    const err = publishRefusal(rules, admin, '@other/widgets');
    expect(err?.code).toBe('ENOTPRIVATE');
    expect(err?.status).toBe(403);
    expect(err?.message).toBe(
      '@other/widgets is not a private package of this registry, so it cannot be published here. An admin can declare it: gatekeeper publish-rule add @other/* --role publisher',
    );
  });

  it('suggests the name itself for an unscoped name', () => {
    const err = publishRefusal(rules, pub, 'left-pad');
    expect(err?.code).toBe('ENOTPRIVATE');
    expect(err?.message).toMatch(/gatekeeper publish-rule add left-pad --role publisher$/);
  });

  it('for an unscoped name the upstream has, suggests a scoped name or --shadow-upstream, not a rule the admin API would refuse', () => {
    const err = publishRefusal(rules, pub, 'shadow-a', { claim: true, upstreamHas: true });
    expect(err?.code).toBe('ENOTPRIVATE');
    expect(err?.message).toBe(
      'shadow-a is not a private package of this registry, and the upstream registry has a package of that name, so it cannot be published here ' +
        '(a private shadow-a would hide the upstream one from everyone: dependency confusion). Publish it under a scoped name (@<scope>/shadow-a), ' +
        'or, to replace the upstream package on purpose, an admin can declare it: gatekeeper publish-rule add shadow-a --role publisher --shadow-upstream',
    );
    // A scoped name's scope rule is accepted whatever the upstream has.
    expect(publishRefusal(rules, pub, '@other/x', { upstreamHas: true })?.message).toMatch(/gatekeeper publish-rule add @other\/\* --role publisher$/);
  });

  it('refuses a user without a matching rule with EFORBIDDEN', () => {
    const err = publishRefusal(rules, dev, '@acme/widgets');
    expect(err?.code).toBe('EFORBIDDEN');
    expect(err?.message).toBe('dana (developer) may not publish @acme/widgets; ask an admin for a publish rule');
  });

  it('says nothing when the user may publish', () => {
    expect(publishRefusal(rules, pub, '@acme/widgets')).toBeUndefined();
    expect(publishRefusal(rules, admin, '@acme/widgets')).toBeUndefined();
  });
});

describe('parsePublishBody', () => {
  const TGZ = gzipSync(Buffer.from('package/package.json contents'));
  const SHA512 = `sha512-${createHash('sha512').update(TGZ).digest('base64')}`;
  const SHA1 = createHash('sha1').update(TGZ).digest('hex');

  /** The document `npm publish` PUTs, with overrides. */
  function body(
    name = 'foo',
    version = '1.0.0',
    opts: { data?: Buffer | string; dist?: Record<string, unknown>; manifest?: Record<string, unknown>; attachmentName?: string; extra?: Record<string, unknown> } = {},
  ): Record<string, unknown> {
    const base = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
    const data = opts.data === undefined ? TGZ.toString('base64') : typeof opts.data === 'string' ? opts.data : opts.data.toString('base64');
    return {
      _id: name,
      name,
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          name,
          version,
          dist: { integrity: SHA512, shasum: SHA1, tarball: `http://localhost/${name}/-/${base}-${version}.tgz`, ...opts.dist },
          ...opts.manifest,
        },
      },
      _attachments: { [opts.attachmentName ?? `${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data, length: 0 } },
      ...opts.extra,
    };
  }

  it('publishes only names npm lets you publish now, and tags only the version published', () => {
    for (const name of ['Foo', '@acme/C4', 'JSONStream']) {
      const err = caught(() => parsePublishBody(name, body(name)));
      expect([name, err.code]).toEqual([name, 'EBADPUBLISH']);
      expect(err.message).toMatch(/cannot be published: .*Publish under a lowercase, URL-safe name$/);
    }
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { 'dist-tags': { latest: '1.0.0', stable: '0.9.0' } } }))).message).toMatch(/points its dist-tag 'stable' at '0\.9\.0'/);
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { 'dist-tags': { '1.0.0': '1.0.0' } } }))).code).toBe('EINVALIDTAG');
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { 'dist-tags': ['latest'] } }))).code).toBe('EBADPUBLISH');
    expect(parsePublishBody('foo', body('foo', '1.0.0', { extra: { 'dist-tags': { next: '1.0.0' } } })).distTags).toEqual({ next: '1.0.0' });
  });

  it('computes digests the same way npm does', () => {
    expect(integrityOf(TGZ)).toBe(SHA512);
    expect(shasumOf(TGZ)).toBe(SHA1);
    expect(SHA1).toMatch(/^[0-9a-f]{40}$/);
  });

  it('reads a well-formed publish', () => {
    const doc = body();
    const req = parsePublishBody('foo', doc);
    expect(req.name).toBe('foo');
    expect(req.version).toBe('1.0.0');
    expect(req.manifest).toBe((doc.versions as Record<string, unknown>)['1.0.0']);
    expect(req.distTags).toEqual({ latest: '1.0.0' });
    expect(req.tarball.filename).toBe('foo-1.0.0.tgz');
    expect(req.tarball.data.equals(TGZ)).toBe(true);
    expect(req.tarball.integrity).toBe(SHA512);
    expect(req.tarball.shasum).toBe(SHA1);
  });

  it('reads a scoped publish, whose attachment key carries the scope', () => {
    const req = parsePublishBody('@acme/widgets', body('@acme/widgets', '2.1.0-beta.1'));
    expect(req.tarball.filename).toBe('widgets-2.1.0-beta.1.tgz');
    expect(req.version).toBe('2.1.0-beta.1');
  });

  it('computes the digests when the client declares none', () => {
    const req = parsePublishBody('foo', body('foo', '1.0.0', { dist: { integrity: undefined, shasum: undefined } }));
    expect(req.tarball.integrity).toBe(SHA512);
    expect(req.tarball.shasum).toBe(SHA1);
  });

  it("refuses a version without dist, and one whose dist carries a registry's signatures or attestations", () => {
    const noDist = body('foo', '1.0.0');
    delete ((noDist.versions as Record<string, Record<string, unknown>>)['1.0.0'] as Record<string, unknown>).dist;
    expect([caught(() => parsePublishBody('foo', noDist)).code, caught(() => parsePublishBody('foo', noDist)).message]).toEqual(['EBADPUBLISH', expect.stringMatching(/^the manifest of foo@1\.0\.0 has no dist/)]);
    for (const [field, value] of [['signatures', [{ keyid: 'SHA256:x', sig: 'forged' }]], ['attestations', { url: 'https://evil.example/att', provenance: { predicateType: 'x' } }]] as const) {
      const err = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { dist: { [field]: value } })));
      expect([field, err.code, err.message]).toEqual([field, 'EBADPUBLISH', expect.stringContaining(`carries ${field}, which only a registry adds`)]);
    }
  });

  it('accepts a document without a top-level name or dist-tags', () => {
    const req = parsePublishBody('foo', body('foo', '1.0.0', { extra: { name: undefined, 'dist-tags': undefined } }));
    expect(req.distTags).toEqual({});
  });

  it('refuses a tarball that does not match the declared integrity', () => {
    const other = `sha512-${createHash('sha512').update('something else').digest('base64')}`;
    const err = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { dist: { integrity: other } })));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.status).toBe(400);
    expect(err.message).toBe('the tarball of foo@1.0.0 does not match its declared integrity (sha512). Publish with npm, which computes it from the tarball it sends');
  });

  it('verifies every hash of a declared integrity, whatever its algorithm, and refuses what it cannot read or verify', () => {
    const digest = (algorithm: string, data: Buffer | string) => `${algorithm}-${createHash(algorithm).update(data).digest('base64')}`;
    const declared = (integrity: unknown, shasum: unknown = undefined) => () => parsePublishBody('foo', body('foo', '1.0.0', { dist: { integrity, shasum } }));
    // The hostile sweep's cases: a wrong sha1 alone, a wrong sha512 beside a hash of another algorithm.
    expect(caught(declared('sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=')).message).toBe('the tarball of foo@1.0.0 does not match its declared integrity (sha1). Publish with npm, which computes it from the tarball it sends');
    expect(caught(declared(`sha256-AAAA ${digest('sha512', 'other')}`)).message).toMatch(/does not match its declared integrity \(sha256\)/);
    expect(caught(declared(`${digest('sha256', TGZ)} ${digest('sha512', 'other')}`)).message).toMatch(/does not match its declared integrity \(sha512\)/);
    for (const unreadable of ['garbage', '', '   ', 'garbage sha512-abc', 42, null, { sha512: SHA512 }]) {
      const err = caught(declared(unreadable));
      expect([unreadable, err.code, err.message]).toEqual([unreadable, 'EBADPUBLISH', expect.stringMatching(/^the dist\.integrity of foo@1\.0\.0 \(.*\) is not an SRI integrity string \(such as sha512-<base64>\)\. Publish with npm/)]);
    }
    expect(caught(declared('md5-AAAA')).message).toBe("the dist.integrity of foo@1.0.0 uses 'md5', which this registry cannot verify (it verifies sha512, sha384, sha256 and sha1). Publish with npm, which computes it from the tarball it sends");
    // Every algorithm npm knows, alone or together, when each hash matches.
    for (const integrity of [digest('sha1', TGZ), digest('sha256', TGZ), digest('sha384', TGZ), `${digest('sha256', TGZ)} ${SHA512}`, `${SHA512}?opt`]) {
      expect(parsePublishBody('foo', body('foo', '1.0.0', { dist: { integrity } })).tarball.integrity).toBe(SHA512);
    }
  });

  it("refuses a dist.tarball that names another file, and a shasum that is no SHA-1 hex string: Verdaccio would refuse them after writing the tarball", () => {
    const dist = (fields: Record<string, unknown>) => () => parsePublishBody('@acme/b5', body('@acme/b5', '1.2.0', { dist: fields }));
    expect(caught(dist({ tarball: 'http://x/@acme/b5/-/b5-1.0.0.tgz' })).message).toBe(
      "the dist.tarball of @acme/b5@1.2.0 ('http://x/@acme/b5/-/b5-1.0.0.tgz') does not name its tarball b5-1.2.0.tgz. Publish with npm, which computes it from the tarball it sends",
    );
    for (const tarball of ['http://x/@acme/b5/-/b5-1.2.0.tgz?x=1', 'b5-1.2.0.tgz/', 42, null]) expect(caught(dist({ tarball })).code).toBe('EBADPUBLISH');
    expect(parsePublishBody('@acme/b5', body('@acme/b5', '1.2.0', { dist: { tarball: 'b5-1.2.0.tgz' } })).version).toBe('1.2.0');
    for (const shasum of [42, null, SHA1.toUpperCase(), SHA1.slice(1), `${SHA1} `]) {
      const err = caught(dist({ shasum }));
      expect([shasum, err.code, err.message]).toEqual([shasum, 'EBADPUBLISH', expect.stringMatching(/^the dist\.shasum of @acme\/b5@1\.2\.0 \(.*\) is not a SHA-1 digest in 40 lowercase hex digits\. Publish with npm/)]);
    }
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { manifest: { dist: 'x' } }))).message).toBe('the dist of foo@1.0.0 is not an object. Publish with npm, which computes it from the tarball it sends');
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { manifest: { dist: undefined } }))).message).toMatch(/^the manifest of foo@1\.0\.0 has no dist/);
  });

  it('names the version of a document it refuses before reading it, for the audit', () => {
    expect(publishedVersionOf(body('foo', '1.2.0'))).toBe('1.2.0');
    expect(publishedVersionOf({ versions: { '1.0.0': {}, '1.1.0': {} } })).toBeUndefined();
    expect(publishedVersionOf({ versions: { 'not a version': {} } })).toBeUndefined();
    expect(publishedVersionOf(undefined)).toBeUndefined();
    expect(publishedVersionOf({ versions: ['1.0.0'] })).toBeUndefined();
  });

  it('refuses dist-tags named like members of every JavaScript object at publish', () => {
    const doc = body('foo', '1.0.0', { extra: { 'dist-tags': JSON.parse('{"__proto__":"1.0.0"}') } });
    expect(caught(() => parsePublishBody('foo', doc)).code).toBe('EINVALIDTAG');
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { 'dist-tags': { constructor: '1.0.0' } } }))).message).toMatch(/^'constructor' is not a dist-tag name: every JavaScript object has a member of that name/);
  });

  it('refuses a tarball that does not match the declared shasum', () => {
    const err = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { dist: { shasum: '0'.repeat(40) } })));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toBe('the tarball of foo@1.0.0 does not match its declared shasum. Publish with npm, which computes it from the tarball it sends');
  });

  it.each([
    ['another package', 'bar-1.0.0.tgz'],
    ['another version', 'foo-1.0.1.tgz'],
    ['another extension', 'foo-1.0.0.tar.gz'],
    ['a prefix of the name', 'fo-1.0.0.tgz'],
  ])('refuses a tarball file name of %s', (_what, attachmentName) => {
    const err = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { attachmentName })));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toContain(`is not the tarball of foo@1.0.0`);
  });

  it('refuses more than one version', () => {
    const doc = body();
    (doc.versions as Record<string, unknown>)['1.0.1'] = { name: 'foo', version: '1.0.1' };
    const err = caught(() => parsePublishBody('foo', doc));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toBe('a publish carries exactly one version');
  });

  it('refuses a publish without a version', () => {
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { versions: {} } }))).message).toBe('a publish carries exactly one version');
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { versions: undefined } }))).code).toBe('EBADPUBLISH');
  });

  it('refuses more than one attachment, or none', () => {
    const doc = body();
    (doc._attachments as Record<string, unknown>)['foo-1.0.1.tgz'] = { data: TGZ.toString('base64') };
    const err = caught(() => parsePublishBody('foo', doc));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toBe('a publish carries exactly one tarball');
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { _attachments: {} } }))).message).toBe('a publish carries exactly one tarball');
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { _attachments: undefined } }))).code).toBe('EBADPUBLISH');
  });

  it('refuses data that is not gzip', () => {
    const err = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { data: Buffer.from('plain tar, not gzipped'), dist: { integrity: undefined, shasum: undefined } })));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toBe('the tarball of foo@1.0.0 is not gzip data');
  });

  it('refuses an empty or missing tarball', () => {
    expect(caught(() => parsePublishBody('foo', body('foo', '1.0.0', { data: '' }))).message).toBe('the tarball is empty');
    const doc = body();
    (doc._attachments as Record<string, unknown>)['foo-1.0.0.tgz'] = { content_type: 'application/octet-stream' };
    expect(caught(() => parsePublishBody('foo', doc)).message).toBe('the tarball is empty');
  });

  it('refuses a document that names another package than the URL', () => {
    const err = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { extra: { name: 'bar' } })));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toBe('the document names bar, but the URL names foo');
  });

  it('refuses a manifest whose name or version differs', () => {
    const byName = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { manifest: { name: 'bar' } })));
    expect(byName.code).toBe('EBADPUBLISH');
    expect(byName.message).toBe('the manifest of foo@1.0.0 does not match its name and version');
    const byVersion = caught(() => parsePublishBody('foo', body('foo', '1.0.0', { manifest: { version: '2.0.0' } })));
    expect(byVersion.code).toBe('EBADPUBLISH');
  });

  it('refuses an invalid version key with EINVALIDVERSION', () => {
    expect(caught(() => parsePublishBody('foo', body('foo', 'v1')))).toMatchObject({ code: 'EINVALIDVERSION' });
  });

  it('refuses an invalid package name with EINVALIDNAME', () => {
    expect(caught(() => parsePublishBody('Not A Name', body('Not A Name')))).toMatchObject({ code: 'EINVALIDNAME' });
  });

  it.each([null, 'text', 42])('refuses a body that is not an object (%p)', (doc) => {
    const err = caught(() => parsePublishBody('foo', doc));
    expect(err.code).toBe('EBADPUBLISH');
    expect(err.message).toBe('the publish body is not a JSON object');
  });
});

describe('versionExists', () => {
  function record(extra: Partial<VersionRecord> = {}): VersionRecord {
    return {
      name: 'foo',
      version: '1.0.0',
      integrity: 'sha512-abc',
      shasum: 'def',
      publisher: 'pat',
      state: 'published',
      reservedAt: new Date(NOW - 2 * HOUR),
      publishedAt: new Date(NOW - HOUR),
      unpublishedAt: null,
      unpublishedBy: null,
      ...extra,
    };
  }

  it('describes a published version', () => {
    const err = versionExists(record());
    expect(err.code).toBe('EVERSIONEXISTS');
    expect(err.status).toBe(409);
    const when = new Date(NOW - HOUR).toISOString();
    expect(err.message).toBe(`foo@1.0.0 was published on ${when}; versions are immutable, publish a new version`);
    expect(err.details).toEqual({ publishedAt: when, integrity: 'sha512-abc' });
  });

  it('says since when an unpublished version is gone', () => {
    const err = versionExists(record({ state: 'unpublished', unpublishedAt: new Date(NOW), unpublishedBy: 'root' }));
    expect(err.message).toBe(
      `foo@1.0.0 was published on ${new Date(NOW - HOUR).toISOString()} (unpublished since ${new Date(NOW).toISOString()}); versions are immutable, publish a new version`,
    );
    expect(versionExists(record({ state: 'unpublished', unpublishedAt: null })).message).toContain('(unpublished since then)');
  });

  it('says a version in a publish is not published yet, and when it is given back if that publish died', () => {
    const err = versionExists(record({ state: 'reserved', publishedAt: null }));
    const when = new Date(NOW - 2 * HOUR).toISOString();
    expect(err.message).toBe(
      `foo@1.0.0 is being published (by pat, since ${when}), so it cannot be published again. ` +
        'Publish a new version; or, if that publish failed, try again in 10 minutes: a reservation whose publish died is given back then, unless the version was stored',
    );
    expect(err.details).toEqual({ publishedAt: when, integrity: 'sha512-abc' });
  });
});

describe('unpublishRefusal', () => {
  const WINDOW = 72 * HOUR;
  const policy = { publisherWindowMs: WINDOW };

  function record(extra: Partial<VersionRecord> = {}): VersionRecord {
    return {
      name: 'foo',
      version: '1.0.0',
      integrity: 'sha512-abc',
      shasum: 'def',
      publisher: 'pat',
      state: 'published',
      reservedAt: new Date(NOW - HOUR),
      publishedAt: new Date(NOW - HOUR),
      unpublishedAt: null,
      unpublishedBy: null,
      ...extra,
    };
  }

  it('always lets an admin unpublish', () => {
    expect(unpublishRefusal(policy, admin, record(), NOW)).toBeUndefined();
    expect(unpublishRefusal(policy, admin, record({ publishedAt: new Date(NOW - 365 * 24 * HOUR) }), NOW)).toBeUndefined();
    expect(unpublishRefusal(policy, admin, record({ publisher: 'someone' }), NOW)).toBeUndefined();
    expect(unpublishRefusal(policy, admin, undefined, NOW)).toBeUndefined();
    expect(unpublishRefusal({ publisherWindowMs: 0 }, admin, record(), NOW)).toBeUndefined();
  });

  it('lets the publisher unpublish within the window, up to its last millisecond', () => {
    expect(unpublishRefusal(policy, pub, record(), NOW)).toBeUndefined();
    expect(unpublishRefusal(policy, pub, record({ publishedAt: new Date(NOW - WINDOW) }), NOW)).toBeUndefined();
  });

  it('refuses the publisher after the window with EUNPUBLISHWINDOW', () => {
    const publishedAt = new Date(NOW - WINDOW - 1);
    const err = unpublishRefusal(policy, pub, record({ publishedAt }), NOW);
    expect(err?.code).toBe('EUNPUBLISHWINDOW');
    expect(err?.status).toBe(403);
    expect(err?.message).toBe(
      `foo@1.0.0 was published on ${publishedAt.toISOString()}; publishers may unpublish only within 72 hours. Ask an admin, or deprecate it instead (npm deprecate)`,
    );
  });

  // Any of the package's publishers may unpublish (the caller, assertMayUnpublish, checks that
  // `who` may publish the package); the window applies to them all alike.
  it('treats every publisher of the package alike, not only the one who published the version', () => {
    const other: Publisher = { username: 'other', role: 'publisher' };
    expect(unpublishRefusal(policy, other, record(), NOW)).toBeUndefined();
    expect(unpublishRefusal(policy, other, record({ publishedAt: new Date(NOW - WINDOW - 1) }), NOW)?.code).toBe('EUNPUBLISHWINDOW');
    expect(unpublishRefusal(policy, other, undefined, NOW)?.code).toBe('EFORBIDDEN');
  });

  it('refuses a version that was not published here with EFORBIDDEN', () => {
    const none = unpublishRefusal(policy, pub, undefined, NOW);
    expect(none?.code).toBe('EFORBIDDEN');
    expect(none?.message).toBe('this version was not published here; only an admin may remove it');
    for (const r of [record({ state: 'unpublished' }), record({ state: 'reserved', publishedAt: null }), record({ publishedAt: null })]) {
      const err = unpublishRefusal(policy, pub, r, NOW);
      expect(err?.code).toBe('EFORBIDDEN');
      expect(err?.message).toBe('foo@1.0.0 was not published here; only an admin may remove it');
    }
  });

  it('refuses the publisher any time later when the window is 0', () => {
    expect(unpublishRefusal({ publisherWindowMs: 0 }, pub, record({ publishedAt: new Date(NOW - 1) }), NOW)?.code).toBe('EUNPUBLISHWINDOW');
  });

  // BUG: the README documents GATEKEEPER_UNPUBLISH_WINDOW `0` as "never", but the check is
  // `age > window`, so with 0 a publisher may still unpublish at age 0 (or with a negative age,
  // when the database clock that set publishedAt runs ahead of the server's).
  it('never lets a publisher unpublish when the window is 0', () => {
    const zero = { publisherWindowMs: 0 };
    expect(unpublishRefusal(zero, pub, record({ publishedAt: new Date(NOW) }), NOW)?.code).toBe('EUNPUBLISHWINDOW');
    expect(unpublishRefusal(zero, pub, record({ publishedAt: new Date(NOW + 500) }), NOW)?.code).toBe('EUNPUBLISHWINDOW');
  });
});

describe('compareNewestFirst', () => {
  it('sorts by publish time, newest first', () => {
    const list = [
      { version: '1.0.0', publishedAt: '2024-01-01T00:00:00.000Z' },
      { version: '0.9.0', publishedAt: '2024-03-01T00:00:00.000Z' },
      { version: '2.0.0', publishedAt: '2024-02-01T00:00:00.000Z' },
    ];
    expect([...list].sort(compareNewestFirst).map((v) => v.version)).toEqual(['0.9.0', '2.0.0', '1.0.0']);
  });

  it('puts versions without a publish time last', () => {
    const list = [
      { version: '3.0.0', publishedAt: null },
      { version: '1.0.0', publishedAt: '2024-01-01T00:00:00.000Z' },
    ];
    expect([...list].sort(compareNewestFirst).map((v) => v.version)).toEqual(['1.0.0', '3.0.0']);
  });

  it('breaks ties by version, highest first (semver, not text)', () => {
    const t = '2024-01-01T00:00:00.000Z';
    const list = [
      { version: '1.9.0', publishedAt: t },
      { version: '1.10.0', publishedAt: t },
      { version: '1.10.0-rc.1', publishedAt: t },
      { version: '0.1.0', publishedAt: null },
      { version: '0.2.0', publishedAt: null },
    ];
    expect([...list].sort(compareNewestFirst).map((v) => v.version)).toEqual(['1.10.0', '1.10.0-rc.1', '1.9.0', '0.2.0', '0.1.0']);
  });

  it('returns a sign consistent in both directions', () => {
    const a = { version: '1.0.0', publishedAt: '2024-01-02T00:00:00.000Z' };
    const b = { version: '2.0.0', publishedAt: '2024-01-01T00:00:00.000Z' };
    expect(compareNewestFirst(a, b)).toBeLessThan(0);
    expect(compareNewestFirst(b, a)).toBeGreaterThan(0);
    expect(compareNewestFirst(a, a)).toBe(0);
  });
});

describe('checkMetadataWrite and dist-tag names', () => {
  const stored = { versions: { '1.0.0': {}, '1.1.0': {} }, 'dist-tags': { latest: '1.1.0', constructor: '1.0.0' } };

  it('lets a document written back keep a tag stored before such names were refused, and refuses adding one', () => {
    // npm unpublish sends the stored document minus the version, with its tags.
    expect(checkMetadataWrite('foo', { versions: { '1.1.0': {} }, 'dist-tags': { latest: '1.1.0', constructor: '1.1.0' } }, stored, 'change')).toEqual({ removed: ['1.0.0'] });
    const err = caught(() => checkMetadataWrite('foo', { versions: stored.versions, 'dist-tags': { latest: '1.1.0', toString: '1.0.0' } }, stored, 'deprecate'));
    expect(err.code).toBe('EINVALIDTAG');
  });
});

describe('checkMetadataWrite: what Verdaccio would store unchecked', () => {
  const stored = { versions: { '1.0.0': {}, '1.1.0': {} }, 'dist-tags': { latest: '1.1.0', beta: '1.0.0' } };
  const tags = { latest: '1.1.0', beta: '1.0.0' };

  it('refuses a version given as anything but its manifest (Verdaccio removes one given as null, past the unpublish checks)', () => {
    for (const value of [null, false, 0, '', 'x', [], true]) {
      for (const kind of ['change', 'deprecate'] as const) {
        const err = caught(() => checkMetadataWrite('foo', { versions: { '1.0.0': value, '1.1.0': {} }, 'dist-tags': { latest: '1.1.0' } }, stored, kind));
        expect({ value, kind, code: err.code, message: err.message }).toEqual({ value, kind, code: 'EBADPUBLISH', message: expect.stringMatching(/gives version '1\.0\.0' as .*, not its manifest\. Leave a version out to unpublish it/) });
      }
    }
    // Left out, it is removed, and the caller checks the unpublish.
    expect(checkMetadataWrite('foo', { versions: { '1.1.0': {} }, 'dist-tags': { latest: '1.1.0' } }, stored, 'change')).toEqual({ removed: ['1.0.0'] });
  });

  it('refuses a deprecation that is not a message ("" undoes one)', () => {
    for (const deprecated of [true, 1, {}, ['x'], null]) {
      const err = caught(() => checkMetadataWrite('foo', { versions: { '1.0.0': { deprecated }, '1.1.0': {} }, 'dist-tags': tags }, stored, 'deprecate'));
      expect({ deprecated, code: err.code }).toEqual({ deprecated, code: 'EBADPUBLISH' });
      expect(err.message).toMatch(/deprecates version '1\.0\.0' with .*, not a message/);
    }
    for (const deprecated of ['use 2', '']) {
      expect(checkMetadataWrite('foo', { versions: { '1.0.0': { deprecated }, '1.1.0': {} }, 'dist-tags': tags }, stored, 'deprecate')).toEqual({ removed: [] });
    }
  });

  it('refuses a write of versions without dist-tags (Verdaccio would replace the stored tags with none); npm star sends neither', () => {
    for (const kind of ['change', 'deprecate'] as const) {
      const err = caught(() => checkMetadataWrite('foo', { versions: stored.versions }, stored, kind));
      expect([err.code, err.message]).toEqual(['EBADPUBLISH', expect.stringMatching(/carries no dist-tags, so the stored ones would be dropped/)]);
    }
    expect(checkMetadataWrite('foo', { _id: 'foo', users: { someone: true } }, stored, 'deprecate')).toEqual({ removed: [] });
  });
});

describe('applyMetadataWrite: what the gate checked, on the document as the write finds it', () => {
  const now = new Date('2026-12-03T12:00:00.000Z');
  const storedDoc = () => ({
    versions: { '1.0.0': { version: '1.0.0' }, '1.1.0': { version: '1.1.0' }, '1.2.0': { version: '1.2.0' } } as Record<string, { version: string; deprecated?: string }>,
    'dist-tags': { latest: '1.2.0', beta: '1.1.0' } as Record<string, string>,
    time: { '1.0.0': 'a', '1.1.0': 'b', '1.2.0': 'c' } as Record<string, string>,
    _attachments: { 'p-1.0.0.tgz': { version: '1.0.0' } } as Record<string, { version?: string }>,
    users: { old: true } as unknown,
  });

  it('removes only the versions it was let remove: a version published after the check stays, and so does the tag its publish moved', () => {
    const stored = storedDoc();
    // Checked against the document before 1.2.0 was published: it removes 1.0.0, keeps 1.1.0 as latest.
    applyMetadataWrite(stored, { versions: { '1.1.0': {} }, users: { old: true } }, { removed: ['1.0.0'], distTags: [] }, now);
    expect(Object.keys(stored.versions)).toEqual(['1.1.0', '1.2.0']);
    expect(stored.time).toEqual({ '1.1.0': 'b', '1.2.0': 'c' });
    expect(stored._attachments['p-1.0.0.tgz']).toEqual({});
    expect(stored['dist-tags']).toEqual({ latest: '1.2.0', beta: '1.1.0' });
  });

  it('applies deprecations and the tag changes it carries; drops a tag left on no version; stars are the written ones', () => {
    const stored = storedDoc();
    applyMetadataWrite(
      stored,
      { versions: { '1.0.0': { deprecated: 'use 1.2' }, '1.1.0': { deprecated: '' }, '1.2.0': {} }, users: { someone: true } },
      { removed: ['1.1.0'], distTags: [{ tag: 'next', from: null, to: '1.2.0' }, { tag: 'latest', from: '1.2.0', to: '1.0.0' }] },
      now,
    );
    expect(stored.versions['1.0.0'].deprecated).toBe('use 1.2');
    expect(stored['dist-tags']).toEqual({ latest: '1.0.0', next: '1.2.0' });
    expect(stored.time.modified).toBe(now.toISOString());
    expect(stored.users).toEqual({ someone: true });
    const undone = storedDoc();
    undone.versions['1.0.0'].deprecated = 'old';
    applyMetadataWrite(undone, { versions: { '1.0.0': { deprecated: '' } } }, { removed: [], distTags: [] }, now);
    expect(undone.versions['1.0.0'].deprecated).toBeUndefined();
  });
});

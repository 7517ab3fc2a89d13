import {
  Advisory,
  affects,
  firstPatched,
  fromBulk,
  fromOsv,
  isSeverity,
  SEVERITIES,
  Severity,
  severityAtLeast,
} from '../../../src/core/advisory';
import { caught } from '../../support/assert';

// GHSA ids use the alphabet [23456789cfghjmpqrvwx]; these are shaped like real ones.
const GHSA_A = 'GHSA-35jh-r3h4-6jhm';
const GHSA_B = 'GHSA-p6mc-m468-83gw';

function advisory(vulnerableVersions: string, extra: Partial<Advisory> = {}): Advisory {
  return {
    key: `ghsa:${GHSA_A}`,
    name: 'foo',
    id: GHSA_A,
    title: 'Prototype pollution',
    url: null,
    severity: 'high',
    vulnerableVersions,
    fixedIn: [],
    source: 'upstream',
    ...extra,
  };
}

describe('fromBulk', () => {
  it('normalises a bulk entry and takes the GHSA id from the advisory URL', () => {
    const a = fromBulk('lodash', {
      id: 1523,
      url: `https://github.com/advisories/${GHSA_A}`,
      title: 'Prototype Pollution in lodash',
      severity: 'high',
      vulnerable_versions: '<4.17.12',
    });
    expect(a).toEqual({
      key: `ghsa:${GHSA_A}`,
      name: 'lodash',
      id: GHSA_A,
      title: 'Prototype Pollution in lodash',
      url: `https://github.com/advisories/${GHSA_A}`,
      severity: 'high',
      vulnerableVersions: '<4.17.12',
      fixedIn: [],
      source: 'upstream',
    });
  });

  it('prefers github_advisory_id over a GHSA id found in the URL', () => {
    const a = fromBulk('lodash', {
      id: 1,
      github_advisory_id: GHSA_B,
      url: `https://github.com/advisories/${GHSA_A}`,
      severity: 'low',
      vulnerable_versions: '<1.0.0',
    });
    expect(a?.id).toBe(GHSA_B);
    expect(a?.key).toBe(`ghsa:${GHSA_B}`);
  });

  it('uses github_advisory_id when there is no URL', () => {
    const a = fromBulk('lodash', { id: 1, github_advisory_id: GHSA_B, severity: 'low', vulnerable_versions: '<1.0.0' });
    expect(a?.id).toBe(GHSA_B);
    expect(a?.url).toBeNull();
  });

  it('falls back to the npm advisory id when there is no GHSA id', () => {
    const a = fromBulk('left-pad', {
      id: 1234,
      url: 'https://www.npmjs.com/advisories/1234',
      title: 'Bad things',
      severity: 'critical',
      vulnerable_versions: '>=1.0.0 <1.3.0',
    });
    expect(a).toMatchObject({ id: 'npm-1234', key: 'npm:1234', title: 'Bad things', severity: 'critical' });
  });

  it('does not take a GHSA-lookalike with characters outside the GHSA alphabet', () => {
    const a = fromBulk('foo', { id: 7, url: 'https://example.test/GHSA-aaaa-bbbb-cccc', vulnerable_versions: '*' });
    expect(a?.id).toBe('npm-7');
    expect(a?.key).toBe('npm:7');
  });

  it("cleans the upstream's hostile text: NUL and controls out of the title, no URL that is not plain http(s), no id that is not one", () => {
    const a = fromBulk('foo', { id: '7\u0000', title: `\u001b[31mRCE\u0000\r\nInjected ${'x'.repeat(3000)}`, url: 'https://e.test/\u0000', severity: 'CRITICAL', vulnerable_versions: '<1.0.1' });
    expect(a).toMatchObject({ id: 'npm-advisory', key: 'npm:unnamed:<1.0.1', url: null, severity: 'critical' });
    expect(a?.title).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(a?.title.length).toBeLessThanOrEqual(1000);
    expect(fromBulk('foo', { id: 8, severity: 'Medium', vulnerable_versions: '*' })?.severity).toBe('moderate');
    expect(fromBulk('foo', { id: 9, severity: 'HIGH', vulnerable_versions: '*' })?.severity).toBe('high');
    // A range too long to keep is unreadable: every version is taken as affected.
    expect(fromBulk('foo', { id: 10, vulnerable_versions: `<1.0.0 || ${'1.0.0 || '.repeat(3000)}2.0.0` })?.vulnerableVersions).toBe('*');
  });

  it('uses the id as the title when the entry has none', () => {
    expect(fromBulk('foo', { id: 7, vulnerable_versions: '*' })?.title).toBe('npm-7');
    expect(fromBulk('foo', { github_advisory_id: GHSA_A, vulnerable_versions: '*' })?.title).toBe(GHSA_A);
  });

  it.each([
    ['missing', undefined],
    ['not a string', 42],
    ['empty', ''],
    ['not a semver range', 'not a range!!'],
    ['a git URL', 'git+https://github.com/a/b.git'],
  ])('takes an entry whose vulnerable_versions is %s as affecting every version, and says so', (_what, range) => {
    const a = fromBulk('foo', { id: 1, title: 'RCE', severity: 'high', vulnerable_versions: range });
    expect(a).toMatchObject({ id: 'npm-1', severity: 'high', vulnerableVersions: '*', title: 'RCE (its affected versions could not be read, so every version is taken as affected)' });
    expect(affects(a as Advisory, '0.0.1')).toBe(true);
    expect(affects(a as Advisory, '99.0.0')).toBe(true);
  });

  it.each([null, undefined, 'text', 42])('ignores a non-object entry (%p)', (raw) => {
    expect(fromBulk('foo', raw)).toBeUndefined();
  });

  it.each([
    ['missing', undefined],
    ['unknown', 'severe'],
    ['not a string', 3],
  ])('defaults a %s severity to moderate', (_what, severity) => {
    expect(fromBulk('foo', { id: 1, severity, vulnerable_versions: '*' })?.severity).toBe('moderate');
  });

  it.each(SEVERITIES.map((s) => [s]))('keeps the valid severity %s', (severity) => {
    expect(fromBulk('foo', { id: 1, severity, vulnerable_versions: '*' })?.severity).toBe(severity);
  });

  it('sets url to null when it is not a string', () => {
    expect(fromBulk('foo', { id: 1, url: 42, vulnerable_versions: '*' })?.url).toBeNull();
  });
});

describe('fromOsv', () => {
  function osv(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: GHSA_A,
      summary: 'Prototype Pollution in lodash',
      affected: [
        {
          package: { ecosystem: 'npm', name: 'lodash' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.12' }] }],
        },
      ],
      references: [
        { type: 'WEB', url: 'https://example.test/blog' },
        { type: 'ADVISORY', url: `https://github.com/advisories/${GHSA_A}` },
      ],
      database_specific: { severity: 'HIGH' },
      ...extra,
    };
  }

  it('keeps an entry that lists a legacy version key among its versions, with the versions semver can name', () => {
    const [entry] = fromOsv({
      id: 'MAL-2025-1',
      summary: 'Malicious code in evil-pkg',
      affected: [{ package: { ecosystem: 'npm', name: 'evil-pkg' }, versions: ['1.0.0', '1.0.0beta', '1.0.1'] }],
    });
    expect(entry).toMatchObject({ name: 'evil-pkg', malware: true, vulnerableVersions: '1.0.0 || 1.0.1' });
  });

  it('converts an OSV document into an npm advisory', () => {
    expect(fromOsv(osv())).toEqual([
      {
        key: `osv:${GHSA_A}`,
        name: 'lodash',
        id: GHSA_A,
        title: 'Prototype Pollution in lodash',
        url: `https://github.com/advisories/${GHSA_A}`,
        severity: 'high',
        vulnerableVersions: '>=0.0.0-0 <4.17.12',
        fixedIn: ['4.17.12'],
        source: 'osv',
      },
    ]);
  });

  it('hostile OSV text: NUL and controls leave the title, odd URLs are dropped, invalid names and ids never pass', () => {
    const [a] = fromOsv(osv({ summary: `bad\u0000title\u001b[31m${'x'.repeat(5000)}`, references: [{ type: 'ADVISORY', url: 'javascript:alert(1)' }] }));
    expect(a.title.startsWith('badtitle [31mxxx')).toBe(true);
    expect(a.title.length).toBeLessThanOrEqual(1000);
    expect(a.title).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(a.url).toBeNull();
    expect(fromOsv(osv({ references: [{ type: 'ADVISORY', url: 'https://example.test/a\u0000b' }] }))[0].url).toBeNull();
    const named = (name: unknown) => osv({ affected: [{ package: { ecosystem: 'npm', name }, versions: ['1.0.0'] }] });
    for (const name of ['../../etc', 'a\u0000b', 'x'.repeat(300), 'UPPER Case', 5, null]) expect(fromOsv(named(name))).toEqual([]);
    expect(fromOsv(named('@scope/ok'))).toHaveLength(1);
    for (const id of ['a\u0000b', 'x'.repeat(201), 'has space', '', '-leading']) {
      expect(() => fromOsv(osv({ id }))).toThrow(expect.objectContaining({ code: 'EVALIDATION' }));
    }
    // Listed versions that are not text, null events and ranges beyond the bound are skipped, not thrown.
    const listed = (versions: unknown) => osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' }, versions }] });
    expect(fromOsv(listed([5, null, '1.0.0']))[0].vulnerableVersions).toBe('1.0.0');
    expect(fromOsv(listed(Array.from({ length: 3000 }, (_, i) => `1.0.${i}`)))).toEqual([]);
    expect(fromOsv(osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' }, ranges: [{ type: 'SEMVER', events: [null, { introduced: '1.0.0' }, { fixed: '1.0.5' }] }] }] }))[0].vulnerableVersions).toBe('>=1.0.0 <1.0.5');
  });

  it('turns introduced "0" into a lower bound that also covers prereleases of 0.0.0', () => {
    const [a] = fromOsv(osv());
    expect(affects(a, '0.0.0')).toBe(true);
    expect(affects(a, '0.0.1-alpha.1')).toBe(true);
    expect(affects(a, '4.17.11')).toBe(true);
    expect(affects(a, '4.17.12')).toBe(false);
  });

  it('turns last_affected into an inclusive upper bound', () => {
    const [a] = fromOsv(
      osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { last_affected: '1.2.3' }] }] }] }),
    );
    expect(a.vulnerableVersions).toBe('>=1.0.0 <=1.2.3');
    expect(a.fixedIn).toEqual([]);
    expect(affects(a, '1.2.3')).toBe(true);
    expect(affects(a, '1.2.4')).toBe(false);
    expect(affects(a, '0.9.9')).toBe(false);
  });

  it('leaves a range open when nothing fixes it', () => {
    const [a] = fromOsv(osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '2.0.0' }] }] }] }));
    expect(a.vulnerableVersions).toBe('>=2.0.0');
    expect(a.fixedIn).toEqual([]);
    expect(affects(a, '99.0.0')).toBe(true);
    expect(affects(a, '1.9.9')).toBe(false);
  });

  it('keeps several introduced/fixed pairs of one range as alternatives', () => {
    const [a] = fromOsv(
      osv({
        affected: [
          {
            package: { ecosystem: 'npm', name: 'foo' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.2.5' }, { introduced: '2.0.0' }, { fixed: '2.0.3' }] }],
          },
        ],
      }),
    );
    expect(a.vulnerableVersions).toBe('>=1.0.0 <1.2.5 || >=2.0.0 <2.0.3');
    expect(a.fixedIn).toEqual(['1.2.5', '2.0.3']);
    expect(affects(a, '1.2.4')).toBe(true);
    expect(affects(a, '1.3.0')).toBe(false);
    expect(affects(a, '2.0.2')).toBe(true);
    expect(affects(a, '2.0.3')).toBe(false);
  });

  it('joins several SEMVER and ECOSYSTEM ranges and ignores GIT ranges', () => {
    const [a] = fromOsv(
      osv({
        affected: [
          {
            package: { ecosystem: 'npm', name: 'foo' },
            ranges: [
              { type: 'GIT', repo: 'https://github.com/a/b', events: [{ introduced: 'abc123' }, { fixed: 'def456' }] },
              { type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.0.5' }] },
              { type: 'ECOSYSTEM', events: [{ introduced: '3.0.0' }, { fixed: '3.1.0' }] },
            ],
          },
        ],
      }),
    );
    expect(a.vulnerableVersions).toBe('>=1.0.0 <1.0.5 || >=3.0.0 <3.1.0');
    expect(a.fixedIn).toEqual(['1.0.5', '3.1.0']);
  });

  it('falls back to the explicit versions list when there is no usable range', () => {
    const [a] = fromOsv(osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' }, versions: ['1.0.0', '1.0.1'] }] }));
    expect(a.vulnerableVersions).toBe('1.0.0 || 1.0.1');
    expect(affects(a, '1.0.1')).toBe(true);
    expect(affects(a, '1.0.2')).toBe(false);
  });

  it('skips an npm entry with neither a usable range nor versions', () => {
    expect(fromOsv(osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' }, ranges: [{ type: 'GIT', events: [{ introduced: 'abc' }] }] }] }))).toEqual([]);
    expect(fromOsv(osv({ affected: [{ package: { ecosystem: 'npm', name: 'foo' } }] }))).toEqual([]);
  });

  it('takes the GHSA id from the aliases when the OSV id is not one, and keys by the OSV id', () => {
    const [a] = fromOsv(osv({ id: 'MAL-2024-1234', aliases: ['CVE-2024-0001', GHSA_B] }));
    expect(a.id).toBe(GHSA_B);
    expect(a.key).toBe('osv:MAL-2024-1234');
  });

  it('uses the OSV id when no GHSA id is known', () => {
    const [a] = fromOsv(osv({ id: 'MAL-2024-1234', aliases: ['CVE-2024-0001'], summary: undefined }));
    expect(a.id).toBe('MAL-2024-1234');
    expect(a.title).toBe('MAL-2024-1234');
  });

  it('prefers the ADVISORY reference, else the first reference, else no URL', () => {
    expect(fromOsv(osv())[0].url).toBe(`https://github.com/advisories/${GHSA_A}`);
    expect(fromOsv(osv({ references: [{ type: 'WEB', url: 'https://a.test' }, { type: 'PACKAGE', url: 'https://b.test' }] }))[0].url).toBe('https://a.test');
    expect(fromOsv(osv({ references: undefined }))[0].url).toBeNull();
    expect(fromOsv(osv({ references: [] }))[0].url).toBeNull();
  });

  it.each<[unknown, Severity]>([
    ['LOW', 'low'],
    ['MODERATE', 'moderate'],
    ['MEDIUM', 'moderate'],
    ['HIGH', 'high'],
    ['CRITICAL', 'critical'],
    ['critical', 'critical'],
    ['SEVERE', 'moderate'],
    [undefined, 'moderate'],
  ])('maps database_specific.severity %p to %s', (severity, expected) => {
    expect(fromOsv(osv({ database_specific: { severity } }))[0].severity).toBe(expected);
  });

  it('defaults the severity to moderate without database_specific', () => {
    expect(fromOsv(osv({ database_specific: undefined }))[0].severity).toBe('moderate');
  });

  it('skips affected entries of other ecosystems and entries without a package name', () => {
    const out = fromOsv(
      osv({
        affected: [
          { package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] },
          { package: { ecosystem: 'npm' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] },
          { ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] },
          { package: { ecosystem: 'npm', name: 'foo' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }] },
          { package: { ecosystem: 'npm', name: 'bar' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '2.0.0' }, { fixed: '2.0.1' }] }] },
        ],
      }),
    );
    expect(out.map((a) => [a.name, a.vulnerableVersions])).toEqual([
      ['foo', '>=0.0.0-0 <1.0.0'],
      ['bar', '>=2.0.0 <2.0.1'],
    ]);
    // One document, one key: both entries share the OSV id.
    expect(new Set(out.map((a) => a.key))).toEqual(new Set([`osv:${GHSA_A}`]));
  });

  it('accepts an array of documents', () => {
    const out = fromOsv([osv(), osv({ id: GHSA_B, affected: [{ package: { ecosystem: 'npm', name: 'minimist' }, versions: ['1.2.5'] }] })]);
    expect(out.map((a) => [a.id, a.name])).toEqual([
      [GHSA_A, 'lodash'],
      [GHSA_B, 'minimist'],
    ]);
  });

  it('returns nothing for a document that only affects other ecosystems', () => {
    expect(fromOsv(osv({ affected: [{ package: { ecosystem: 'Go', name: 'x' }, versions: ['1.0.0'] }] }))).toEqual([]);
  });

  it.each([
    ['null', null],
    ['a string', 'GHSA'],
    ['an object without id', { affected: [] }],
    ['an object without affected', { id: GHSA_A }],
    ['a non-string id', { id: 5, affected: [] }],
    ['affected that is not a list', { id: GHSA_A, affected: {} }],
  ])('throws EVALIDATION for %s', (_what, input) => {
    const err = caught(() => fromOsv(input));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toContain('entry 0 is not an OSV advisory');
  });

  it('names the offending entry of an array', () => {
    const err = caught(() => fromOsv([osv(), { summary: 'no id' }]));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toContain('entry 1');
  });
});

describe('affects', () => {
  it('tests a version against the vulnerable range', () => {
    const a = advisory('>=1.0.0 <1.2.3');
    expect(affects(a, '1.0.0')).toBe(true);
    expect(affects(a, '1.2.2')).toBe(true);
    expect(affects(a, '1.2.3')).toBe(false);
    expect(affects(a, '0.9.9')).toBe(false);
  });

  it('includes prereleases inside the range even when the bounds are releases', () => {
    const a = advisory('>=1.0.0 <1.2.3');
    expect(affects(a, '1.1.0-rc.1')).toBe(true);
    expect(affects(a, '1.2.3-beta.1')).toBe(true); // sorts below 1.2.3
    expect(affects(a, '1.0.0-beta.1')).toBe(false); // sorts below 1.0.0
  });

  it('covers prereleases with a * range', () => {
    expect(affects(advisory('*'), '3.0.0-alpha.0')).toBe(true);
  });
});

describe('firstPatched', () => {
  it('takes the lowest explicit fix even when the versions suggest another', () => {
    const a = advisory('<1.2.5', { fixedIn: ['2.0.3', '1.2.5'] });
    expect(firstPatched(a, ['1.2.4', '1.2.6', '2.0.3'])).toBe('1.2.5');
    expect(firstPatched(a, [])).toBe('1.2.5');
  });

  it('sorts explicit fixes by semver, not as text', () => {
    expect(firstPatched(advisory('<1.10.0', { fixedIn: ['1.10.0', '1.9.0'] }), [])).toBe('1.9.0');
  });

  it('does not reorder the advisory fixedIn list', () => {
    const a = advisory('<1.2.5', { fixedIn: ['2.0.3', '1.2.5'] });
    firstPatched(a, []);
    expect(a.fixedIn).toEqual(['2.0.3', '1.2.5']);
  });

  it('otherwise finds the lowest unaffected version above the highest affected one', () => {
    expect(firstPatched(advisory('<1.2.3'), ['1.3.0', '1.0.0', '1.2.3', '1.2.2'])).toBe('1.2.3');
  });

  it('skips prereleases when looking for the fix', () => {
    expect(firstPatched(advisory('<=1.2.2'), ['1.2.2', '1.2.3-rc.1', '1.2.3', '1.2.4'])).toBe('1.2.3');
  });

  it('looks above the highest affected version, not above the first affected one', () => {
    const a = advisory('<1.0.0 || >=2.0.0 <2.1.0');
    expect(firstPatched(a, ['0.9.0', '1.0.0', '2.0.0', '2.1.0', '2.2.0'])).toBe('2.1.0');
  });

  it('ignores invalid version strings', () => {
    expect(firstPatched(advisory('<1.0.0'), ['0.1.0', 'latest', 'not-a-version', '1.0.0'])).toBe('1.0.0');
  });

  it('is undefined when no version is affected', () => {
    expect(firstPatched(advisory('<1.0.0'), ['1.0.0', '2.0.0'])).toBeUndefined();
  });

  it('is undefined when no unaffected version lies above the affected ones', () => {
    expect(firstPatched(advisory('>=1.0.0'), ['0.9.0', '1.0.0', '2.0.0'])).toBeUndefined();
    expect(firstPatched(advisory('<=2.0.0'), ['1.0.0', '2.0.0', '2.0.1-beta.1'])).toBeUndefined();
    expect(firstPatched(advisory('*'), [])).toBeUndefined();
  });
});

describe('severityAtLeast and isSeverity', () => {
  it('orders low < moderate < high < critical', () => {
    expect(SEVERITIES).toEqual(['low', 'moderate', 'high', 'critical']);
    for (const [i, severity] of SEVERITIES.entries()) {
      for (const [j, threshold] of SEVERITIES.entries()) {
        expect([severity, threshold, severityAtLeast(severity, threshold)]).toEqual([severity, threshold, i >= j]);
      }
    }
  });

  it('spot checks', () => {
    expect(severityAtLeast('critical', 'high')).toBe(true);
    expect(severityAtLeast('high', 'high')).toBe(true);
    expect(severityAtLeast('moderate', 'high')).toBe(false);
    expect(severityAtLeast('low', 'critical')).toBe(false);
  });

  it('recognises exactly the four severities', () => {
    for (const s of SEVERITIES) expect(isSeverity(s)).toBe(true);
    for (const s of ['medium', 'HIGH', '', undefined, null, 2]) expect(isSeverity(s)).toBe(false);
  });
});

describe('firstPatched across release lines', () => {
  it('points a version at the fix of its own line when the source names several', () => {
    const advisory = {
      key: 'osv:X',
      name: 'multi',
      id: 'GHSA-aaaa-bbbb-cccc',
      title: 't',
      url: null,
      severity: 'high' as const,
      vulnerableVersions: '<1.2.5 || >=2.0.0 <2.0.3',
      fixedIn: ['2.0.3', '1.2.5'],
      source: 'osv' as const,
    };
    expect(firstPatched(advisory, [], '2.0.1')).toBe('2.0.3');
    expect(firstPatched(advisory, [], '1.0.0')).toBe('1.2.5');
    expect(firstPatched(advisory, [])).toBe('1.2.5');
  });
});

describe('legacy version keys (express-like: 1.0.0beta, 2.0.0rc)', () => {
  it('affects: a ranged advisory never reaches a legacy key; one covering every release does', () => {
    for (const v of ['1.0.0beta', '1.0.0rc4', '2.0.0rc', '3.0.0alpha1']) {
      expect(affects(advisory('<4.0.0'), v)).toBe(false);
      expect(affects(advisory('>=1.0.0-0 <2'), v)).toBe(false);
      expect(affects(advisory('*'), v)).toBe(true);
      expect(affects(advisory('>=0.0.0'), v)).toBe(true);
    }
  });

  it('firstPatched ignores legacy keys among the versions and as the version asked about', () => {
    const versions = ['0.9.0', '1.0.0beta', '1.0.0rc', '1.0.0', '1.0.1', '2.0.0rc', '2.0.0'];
    expect(firstPatched(advisory('<1.0.1'), versions)).toBe('1.0.1');
    const lines = advisory('<1.0.1 || >=2.0.0-0 <2.0.1', { fixedIn: ['2.0.1', '1.0.1', '1.0.0beta'] });
    expect(firstPatched(lines, versions, '2.0.0rc')).toBe('2.0.1');
    expect(firstPatched(lines, versions, '1.0.0beta')).toBe('1.0.1');
    expect(firstPatched(lines, versions)).toBe('1.0.1');
  });
});

describe('affects: long ranges', () => {
  it('an OSV malware entry listing every version (a range of hundreds of characters) affects each of them, and nothing else', () => {
    const versions = Array.from({ length: 30 }, (_, i) => `1.0.${i}`);
    const [listed] = fromOsv({ id: 'MAL-2026-9999', summary: 'malicious', affected: [{ package: { ecosystem: 'npm', name: 'evil-lib' }, versions }] });
    expect(listed.vulnerableVersions.length).toBeGreaterThan(256);
    for (const version of versions) expect({ version, affected: affects(listed, version) }).toEqual({ version, affected: true });
    expect(affects(listed, '1.0.30')).toBe(false);
  });

  it('an entry with one introduced/fixed pair per release line affects a version inside one', () => {
    const events = Array.from({ length: 14 }, (_, i) => [{ introduced: `${i}.0.0` }, { fixed: `${i}.4.17` }]).flat();
    const [lines] = fromOsv({ id: 'GHSA-aaaa-bbbb-cccc', summary: 'x', affected: [{ package: { ecosystem: 'npm', name: 'lib' }, ranges: [{ type: 'SEMVER', events }] }] });
    expect(lines.vulnerableVersions.length).toBeGreaterThan(256);
    expect([affects(lines, '3.1.0'), affects(lines, '3.4.17'), affects(lines, '13.0.0')]).toEqual([true, false, true]);
  });
});

describe('fromOsv: fields of the wrong type', () => {
  it('reads references or ranges that are no list as absent, keeping the entry (its listed versions still count)', () => {
    const [entry] = fromOsv({ id: 'MAL-2026-1', summary: 's', references: {}, affected: [{ package: { ecosystem: 'npm', name: 'odd-types' }, ranges: 'SEMVER', versions: ['1.0.0'] }] });
    expect(entry).toMatchObject({ name: 'odd-types', url: null, vulnerableVersions: '1.0.0' });
    expect(fromOsv({ id: 'GHSA-aaaa-bbbb-dddd', references: 'x', affected: [{ package: { ecosystem: 'npm', name: 'odd-types' }, ranges: [{ type: 'SEMVER', events: 'x' }] }] })).toEqual([]);
  });
});

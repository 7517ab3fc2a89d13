import { GatekeeperError } from '../../../src/core/errors';
import { displayKey, normalizePackument, NormalizedPackument } from '../../../src/core/packument-validate';
import { caught } from '../../support/assert';

/**
 * A corpus of hostile upstream answers for the package `foo`. Each case is the JSON text the
 * upstream sent (parsed with JSON.parse, so `__proto__` keys are own properties as they are
 * in production) and exactly what must be kept, dropped and removed, or the EUPSTREAM error.
 */

const TARBALL = (v: string) => `http://upstream.test/foo/-/foo-${v}.tgz`;
const entry = (v: string, extra: Record<string, unknown> = {}) => ({ name: 'foo', version: v, dist: { tarball: TARBALL(v), shasum: 'abc' }, ...extra });
const T1 = '2020-01-01T00:00:00.000Z';
const T2 = '2021-06-01T12:30:00.000Z';

/** The express versions strict semver rejects (28 upstream). */
const EXPRESS_LEGACY = [
  '1.0.0beta', '1.0.0beta2', '1.0.0rc', '1.0.0rc2', '1.0.0rc3', '1.0.0rc4',
  '2.0.0beta', '2.0.0beta2', '2.0.0beta3', '2.0.0rc', '2.0.0rc2', '2.0.0rc3',
  '3.0.0alpha1', '3.0.0alpha2', '3.0.0alpha3', '3.0.0alpha4', '3.0.0alpha5',
  '3.0.0beta1', '3.0.0beta2', '3.0.0beta3', '3.0.0beta4', '3.0.0beta5', '3.0.0beta6', '3.0.0beta7',
  '3.0.0rc1', '3.0.0rc2', '3.0.0rc3', '3.0.0rc4',
];

/** A packument document as JSON text: `foo` with the given versions (raw values) and more. */
function doc(versions: Record<string, unknown>, more: Record<string, unknown> = {}): string {
  return JSON.stringify({ name: 'foo', versions, ...more });
}

interface Kept {
  /** Version keys kept, in any order. */
  kept: string[];
  /** [version, reason] of each dropped version, in document order. */
  dropped?: Array<[string, string]>;
  /** [field, key, reason] of each removed time entry, tag or field. */
  removed?: Array<[string, string, string]>;
  tags?: Record<string, string>;
  time?: Record<string, string>;
}
type Case = [title: string, json: string, expected: Kept | { throws: string }];

const HUGE = `1.0.0-${'a'.repeat(10_000)}`;

const CASES: Case[] = [
  // Not a packument at all: EUPSTREAM.
  ['null', 'null', { throws: 'it is null, not an object' }],
  ['an array', '[]', { throws: 'it is an array, not an object' }],
  ['an array holding the packument', '[{"name":"foo","versions":{}}]', { throws: 'it is an array, not an object' }],
  ['a string', '"foo"', { throws: 'it is a string, not an object' }],
  ['a number', '42', { throws: 'it is a number, not an object' }],
  ['a boolean', 'true', { throws: 'it is a boolean, not an object' }],
  ['an empty object', '{}', { throws: 'it has no name' }],
  ['another name', '{"name":"bar","versions":{}}', { throws: 'it names "bar"' }],
  ['the name in another case', '{"name":"Foo"}', { throws: 'it names "Foo"' }],
  ['the name with a trailing space', '{"name":"foo "}', { throws: 'it names "foo "' }],
  ['a numeric name', '{"name":7}', { throws: 'its name is a number' }],
  ['a null name', '{"name":null}', { throws: 'its name is null' }],
  ['a name only under __proto__', '{"__proto__":{"name":"foo"}}', { throws: 'it has no name' }],
  ['versions as an array', '{"name":"foo","versions":[]}', { throws: 'its versions are an array, not an object' }],
  ['versions as a string', '{"name":"foo","versions":"1.0.0"}', { throws: 'its versions are a string, not an object' }],
  ['versions null', '{"name":"foo","versions":null}', { throws: 'its versions are null, not an object' }],
  ['versions as a number', '{"name":"foo","versions":1}', { throws: 'its versions are a number, not an object' }],

  // Fine documents.
  ['a name and nothing else', '{"name":"foo"}', { kept: [], tags: {} }],
  ['one good version', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: '1.0.0' } }), { kept: ['1.0.0'], tags: { latest: '1.0.0' } }],
  ['entries without name and version fields', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0') } } }), { kept: ['1.0.0'] }],
  ['an https tarball', doc({ '1.0.0': { dist: { tarball: 'https://cdn.test/foo.tgz' } } }), { kept: ['1.0.0'] }],
  ['all 28 legacy express keys stay', doc(Object.fromEntries(EXPRESS_LEGACY.map((v) => [v, entry(v)]))), { kept: EXPRESS_LEGACY }],
  ['legacy keys beside strict ones, with a tag on a legacy key', doc({ '1.0.0beta': entry('1.0.0beta'), '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: '1.0.0', beta: '1.0.0beta' } }), { kept: ['1.0.0beta', '1.0.0'], tags: { latest: '1.0.0', beta: '1.0.0beta' } }],
  ['odd but usable keys (1.0, v1.0.0, 1)', doc({ '1.0': entry('1.0'), 'v1.0.0': entry('v1.0.0'), '1': entry('1') }), { kept: ['1', '1.0', 'v1.0.0'] }],
  ['a nested __proto__ inside a manifest stays data', doc({ '1.0.0': { ...entry('1.0.0'), ['__proto__']: { polluted: true } } }).replace('"polluted"', '"polluted"'), { kept: ['1.0.0'] }],

  // Broken version entries.
  ['a null entry', doc({ '1.0.0': null, '1.0.1': entry('1.0.1') }), { kept: ['1.0.1'], dropped: [['1.0.0', 'its entry is null, not a version manifest object']] }],
  ['a string entry', doc({ '1.0.0': 'http://x/foo.tgz' }), { kept: [], dropped: [['1.0.0', 'its entry is a string, not a version manifest object']] }],
  ['a number entry', doc({ '1.0.0': 1 }), { kept: [], dropped: [['1.0.0', 'its entry is a number, not a version manifest object']] }],
  ['an array entry', doc({ '1.0.0': [entry('1.0.0')] }), { kept: [], dropped: [['1.0.0', 'its entry is an array, not a version manifest object']] }],
  ['a boolean entry', doc({ '1.0.0': false }), { kept: [], dropped: [['1.0.0', 'its entry is a boolean, not a version manifest object']] }],
  ['no dist', doc({ '1.0.0': { name: 'foo', version: '1.0.0' } }), { kept: [], dropped: [['1.0.0', 'it has no dist (so no tarball)']] }],
  ['a null dist', doc({ '1.0.0': { dist: null } }), { kept: [], dropped: [['1.0.0', 'its dist is null, not an object with a tarball']] }],
  ['a string dist', doc({ '1.0.0': { dist: TARBALL('1.0.0') } }), { kept: [], dropped: [['1.0.0', 'its dist is a string, not an object with a tarball']] }],
  ['an array dist', doc({ '1.0.0': { dist: [{ tarball: TARBALL('1.0.0') }] } }), { kept: [], dropped: [['1.0.0', 'its dist is an array, not an object with a tarball']] }],
  ['no tarball', doc({ '1.0.0': { dist: { shasum: 'abc' } } }), { kept: [], dropped: [['1.0.0', 'it has no dist.tarball']] }],
  ['an integrity listing two hashes, with options', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0'), integrity: 'sha512-AAAA+/== sha1-BBBB?x=1', shasum: 'abc' } } }), { kept: ['1.0.0'] }],
  ['an integrity holding NUL beside a good hash', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0'), integrity: 'sha512-AAAA== sha512-x\u0000y' } } }), { kept: [], dropped: [['1.0.0', 'its dist.integrity is not a Subresource Integrity string']] }],
  ['an integrity with a line break', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0'), integrity: 'sha512-AAAA==\nsha1-BBBB' } } }), { kept: [], dropped: [['1.0.0', 'its dist.integrity is not a Subresource Integrity string']] }],
  ['a numeric integrity', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0'), integrity: 512 } } }), { kept: [], dropped: [['1.0.0', 'its dist.integrity is not a Subresource Integrity string']] }],
  ['an empty integrity', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0'), integrity: '' } } }), { kept: [], dropped: [['1.0.0', 'its dist.integrity is not a Subresource Integrity string']] }],
  ['a shasum with a lone surrogate', doc({ '1.0.0': { dist: { tarball: TARBALL('1.0.0'), shasum: 'ab\ud800' } } }), { kept: [], dropped: [['1.0.0', 'its dist.shasum is not a digest (printable characters, no spaces)']] }],
  ['a numeric tarball', doc({ '1.0.0': { dist: { tarball: 12345 } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is a number, not a URL']] }],
  ['a null tarball', doc({ '1.0.0': { dist: { tarball: null } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is null, not a URL']] }],
  ['an object tarball', doc({ '1.0.0': { dist: { tarball: { href: TARBALL('1.0.0') } } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is an object, not a URL']] }],
  ['an array tarball', doc({ '1.0.0': { dist: { tarball: [TARBALL('1.0.0')] } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is an array, not a URL']] }],
  ['an empty tarball', doc({ '1.0.0': { dist: { tarball: '' } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is not an http(s) URL']] }],
  ['a relative tarball', doc({ '1.0.0': { dist: { tarball: '/foo/-/foo-1.0.0.tgz' } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is not an http(s) URL']] }],
  ['a javascript: tarball', doc({ '1.0.0': { dist: { tarball: 'javascript:alert(1)' } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is not an http(s) URL']] }],
  ['a file: tarball', doc({ '1.0.0': { dist: { tarball: 'file:///etc/passwd' } } }), { kept: [], dropped: [['1.0.0', 'its dist.tarball is not an http(s) URL']] }],
  ['a tarball only under dist.__proto__', '{"name":"foo","versions":{"1.0.0":{"dist":{"__proto__":{"tarball":"http://x.test/a.tgz"}}}}}', { kept: [], dropped: [['1.0.0', 'it has no dist.tarball']] }],
  ['a dist only under the entry __proto__', '{"name":"foo","versions":{"1.0.0":{"__proto__":{"dist":{"tarball":"http://x.test/a.tgz"}}}}}', { kept: [], dropped: [['1.0.0', 'it has no dist (so no tarball)']] }],
  ['a version field contradicting its key', doc({ '1.0.0': entry('1.0.1') }), { kept: [], dropped: [['1.0.0', 'its version field says "1.0.1"']] }],
  ['a numeric version field', doc({ '1.0.0': entry('1.0.0', { version: 1 }) }), { kept: [], dropped: [['1.0.0', 'its version field is a number, not the version']] }],
  ['a legacy key whose version field is the strict reading', doc({ '1.0.0beta': entry('1.0.0-beta') }), { kept: [], dropped: [['1.0.0beta', 'its version field says "1.0.0-beta"']] }],
  ['a name field naming another package', doc({ '1.0.0': entry('1.0.0', { name: 'evil' }) }), { kept: [], dropped: [['1.0.0', 'its name field says "evil", not foo']] }],
  ['a null name field', doc({ '1.0.0': entry('1.0.0', { name: null }) }), { kept: [], dropped: [['1.0.0', 'its name field is null, not the package name']] }],

  // Impossible keys.
  ['a __proto__ version key', '{"name":"foo","versions":{"__proto__":{"dist":{"tarball":"http://x.test/a.tgz"}},"1.0.0":' + JSON.stringify(entry('1.0.0')) + '}}', { kept: ['1.0.0'], dropped: [['__proto__', "'__proto__' cannot be a version (it names an object's prototype)"]] }],
  ['a constructor version key', doc({ constructor: entry('constructor') }), { kept: [], dropped: [['constructor', "'constructor' cannot be a version (it names an object's prototype)"]] }],
  ['a prototype version key', doc({ prototype: entry('prototype') }), { kept: [], dropped: [['prototype', "'prototype' cannot be a version (it names an object's prototype)"]] }],
  ['an empty version key', doc({ '': entry('') }), { kept: [], dropped: [['', 'the version key is empty']] }],
  ['a huge version key', doc({ [HUGE]: entry(HUGE) }), { kept: [], dropped: [[`${HUGE.slice(0, 77)}... (10006 characters)`, 'the version key is 10006 characters long (at most 256)']] }],
  ['a version key with a space', doc({ '1.0.0 beta': entry('1.0.0 beta') }), { kept: [], dropped: [['1.0.0 beta', 'the version key contains white space, control or non-ASCII characters']] }],
  ['a version key with a NUL', doc({ '1.0.0\u0000': entry('1.0.0\u0000') }), { kept: [], dropped: [['1.0.0\\u0000', 'the version key contains white space, control or non-ASCII characters']] }],
  ['a version key with a newline', doc({ '1.0.0\n': entry('1.0.0\n') }), { kept: [], dropped: [['1.0.0\\u000a', 'the version key contains white space, control or non-ASCII characters']] }],
  ['a non-ASCII version key', doc({ '1.0.0-\u00e9': entry('1.0.0-\u00e9') }), { kept: [], dropped: [['1.0.0-\\u00e9', 'the version key contains white space, control or non-ASCII characters']] }],
  ['a version key with a slash', doc({ '1.0.0/../../x': entry('1.0.0/../../x') }), { kept: [], dropped: [['1.0.0/../../x', 'the version key contains a character that cannot be in a URL path segment (/ \\ ? # %)']] }],
  ['a version key with a percent sign', doc({ '1.0.0%2f': entry('1.0.0%2f') }), { kept: [], dropped: [['1.0.0%2f', 'the version key contains a character that cannot be in a URL path segment (/ \\ ? # %)']] }],

  // Only broken versions: nothing survives, and no tag may point anywhere.
  [
    'a packument with only broken versions',
    doc({ '1.0.0': null, '2.0.0': 'x', '3.0.0': { dist: {} } }, { 'dist-tags': { latest: '3.0.0', next: '2.0.0' }, time: { '1.0.0': T1, created: T1 } }),
    {
      kept: [],
      dropped: [
        ['1.0.0', 'its entry is null, not a version manifest object'],
        ['2.0.0', 'its entry is a string, not a version manifest object'],
        ['3.0.0', 'it has no dist.tarball'],
      ],
      removed: [
        ['time', '1.0.0', 'it is not the time of a version here'],
        ['dist-tags', 'latest', 'it points at "3.0.0", which is not a version here'],
        ['dist-tags', 'next', 'it points at "2.0.0", which is not a version here'],
      ],
      tags: {},
      time: { created: T1 },
    },
  ],

  // time.
  ['good times', doc({ '1.0.0': entry('1.0.0') }, { time: { created: T1, modified: T2, '1.0.0': T1 } }), { kept: ['1.0.0'], time: { created: T1, modified: T2, '1.0.0': T1 } }],
  ['a time with an offset', doc({ '1.0.0': entry('1.0.0') }, { time: { '1.0.0': '2020-01-01T00:00:00+02:00' } }), { kept: ['1.0.0'], time: { '1.0.0': '2020-01-01T00:00:00+02:00' } }],
  ['a numeric time', doc({ '1.0.0': entry('1.0.0') }, { time: { '1.0.0': 1577836800000 } }), { kept: ['1.0.0'], time: {}, removed: [['time', '1.0.0', 'it is a number, not a date']] }],
  ['a null time', doc({ '1.0.0': entry('1.0.0') }, { time: { modified: null } }), { kept: ['1.0.0'], time: {}, removed: [['time', 'modified', 'it is null, not a date']] }],
  ['an unparsable time', doc({ '1.0.0': entry('1.0.0') }, { time: { '1.0.0': 'yesterday' } }), { kept: ['1.0.0'], time: {}, removed: [['time', '1.0.0', '"yesterday" is not an ISO 8601 date-time']] }],
  ['a date without a time', doc({ '1.0.0': entry('1.0.0') }, { time: { '1.0.0': '2020-01-01' } }), { kept: ['1.0.0'], time: {}, removed: [['time', '1.0.0', '"2020-01-01" is not an ISO 8601 date-time']] }],
  ['an impossible date', doc({ '1.0.0': entry('1.0.0') }, { time: { '1.0.0': '2020-13-45T99:99:99Z' } }), { kept: ['1.0.0'], time: {}, removed: [['time', '1.0.0', '"2020-13-45T99:99:99Z" is not an ISO 8601 date-time']] }],
  ['a time for an unknown version', doc({ '1.0.0': entry('1.0.0') }, { time: { '9.9.9': T1, '1.0.0': T1 } }), { kept: ['1.0.0'], time: { '1.0.0': T1 }, removed: [['time', '9.9.9', 'it is not the time of a version here']] }],
  ['a time for a dropped version', doc({ '1.0.0': null }, { time: { '1.0.0': T1 } }), { kept: [], dropped: [['1.0.0', 'its entry is null, not a version manifest object']], time: {}, removed: [['time', '1.0.0', 'it is not the time of a version here']] }],
  ['an unpublished record', doc({}, { time: { created: T1, unpublished: { time: T2, versions: ['1.0.0'] } } }), { kept: [], time: { created: T1 }, removed: [['time', 'unpublished', 'unpublish records are not passed on']] }],
  ['a __proto__ time key', '{"name":"foo","versions":{},"time":{"__proto__":"2020-01-01T00:00:00.000Z","created":"2020-01-01T00:00:00.000Z"}}', { kept: [], time: { created: T1 }, removed: [['time', '__proto__', 'it is not the time of a version here']] }],
  ['time as a string', doc({ '1.0.0': entry('1.0.0') }, { time: T1 }), { kept: ['1.0.0'], removed: [['packument', 'time', 'time is a string, not an object']] }],
  ['time as an array', doc({ '1.0.0': entry('1.0.0') }, { time: [T1] }), { kept: ['1.0.0'], removed: [['packument', 'time', 'time is an array, not an object']] }],

  // dist-tags.
  ['a tag to nowhere', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: '1.0.0', next: '2.0.0' } }), { kept: ['1.0.0'], tags: { latest: '1.0.0' }, removed: [['dist-tags', 'next', 'it points at "2.0.0", which is not a version here']] }],
  ['a numeric tag', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: 1 } }), { kept: ['1.0.0'], tags: {}, removed: [['dist-tags', 'latest', 'it points at a number, not a version']] }],
  ['a null tag', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: null } }), { kept: ['1.0.0'], tags: {}, removed: [['dist-tags', 'latest', 'it points at null, not a version']] }],
  ['an object tag', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: { version: '1.0.0' } } }), { kept: ['1.0.0'], tags: {}, removed: [['dist-tags', 'latest', 'it points at an object, not a version']] }],
  ['a tag naming a prototype property', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { latest: 'constructor' } }), { kept: ['1.0.0'], tags: {}, removed: [['dist-tags', 'latest', 'it points at "constructor", which is not a version here']] }],
  ['a __proto__ tag', '{"name":"foo","versions":{"1.0.0":' + JSON.stringify(entry('1.0.0')) + '},"dist-tags":{"__proto__":"1.0.0","latest":"1.0.0"}}', { kept: ['1.0.0'], tags: { latest: '1.0.0' }, removed: [['dist-tags', '__proto__', "'__proto__' cannot be a tag"]] }],
  ['an empty tag name', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': { '': '1.0.0' } }), { kept: ['1.0.0'], tags: {}, removed: [['dist-tags', '', "'' cannot be a tag"]] }],
  ['dist-tags as a string', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': '1.0.0' }), { kept: ['1.0.0'], tags: {}, removed: [['packument', 'dist-tags', 'dist-tags is a string, not an object']] }],
  ['dist-tags as an array', doc({ '1.0.0': entry('1.0.0') }, { 'dist-tags': ['1.0.0'] }), { kept: ['1.0.0'], tags: {}, removed: [['packument', 'dist-tags', 'dist-tags is an array, not an object']] }],

  // Top level.
  ['a top-level __proto__ key', '{"name":"foo","__proto__":{"versions":{"1.0.0":{}}}}', { kept: [], removed: [['packument', '__proto__', 'it names an object prototype']] }],
  [
    "staged versions and the upstream's policy restrictions (npm acts on both)",
    doc({ '1.0.0': entry('1.0.0') }, { stagedVersions: { versions: { '2.0.0': entry('2.0.0') } }, policyRestrictions: { message: 'x', versions: { '1.0.0': entry('1.0.0') } } }),
    {
      kept: ['1.0.0'],
      removed: [
        ['packument', 'stagedVersions', 'staged versions are not passed on: they would install without a decision'],
        ['packument', 'policyRestrictions', "the upstream's policy restrictions are not passed on: the gatekeeper sends its own"],
      ],
    },
  ],
];

function tagsOf(result: NormalizedPackument): Record<string, string> {
  return { ...(result.packument['dist-tags'] as Record<string, string>) };
}

describe('normalizePackument: the hostile corpus', () => {
  it('has at least 60 documents', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES)('%s', (_title, json, expected) => {
    const input: unknown = JSON.parse(json);
    const before = JSON.stringify(input);
    if ('throws' in expected) {
      const err = caught(() => normalizePackument(input, 'foo'));
      expect(err.code).toBe('EUPSTREAM');
      expect(err.status).toBe(502);
      expect(err.message).toContain(`the upstream registry's answer for foo is not a packument: ${expected.throws}`);
      return;
    }
    const result = normalizePackument(input, 'foo');
    const versions = result.packument.versions as Record<string, unknown>;
    expect(Object.keys(versions).sort()).toEqual([...expected.kept].sort());
    expect(result.dropped.map((d) => [d.version, d.reason])).toEqual(expected.dropped ?? []);
    expect(result.removed.map((r) => [r.field, r.key, r.reason])).toEqual(expected.removed ?? []);
    if (expected.tags) expect(tagsOf(result)).toEqual(expected.tags);
    if (expected.time) expect({ ...(result.packument.time as Record<string, string>) }).toEqual(expected.time);
    // Whatever came in: the result's maps have no prototype, the name is the requested one,
    // every kept entry is the input's own object, and the input is untouched.
    expect(result.packument.name).toBe('foo');
    expect(Object.getPrototypeOf(versions)).toBeNull();
    expect(Object.getPrototypeOf(result.packument['dist-tags'])).toBeNull();
    if (result.packument.time) expect(Object.getPrototypeOf(result.packument.time)).toBeNull();
    for (const key of Object.keys(versions)) expect(versions[key]).toBe((input as { versions: Record<string, unknown> }).versions[key]);
    expect(JSON.stringify(input)).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // And it survives a round trip through JSON unchanged.
    expect(normalizePackument(JSON.parse(JSON.stringify(result.packument)), 'foo').dropped).toEqual([]);
  });
});

describe('normalizePackument: more', () => {
  it('passes other fields through untouched', () => {
    const input = JSON.parse(doc({ '1.0.0': entry('1.0.0') }, { readme: '# hi', maintainers: [{ name: 'a' }], _id: 'foo', _rev: '3-x', users: { a: true } }));
    const { packument } = normalizePackument(input, 'foo');
    expect(packument).toMatchObject({ readme: '# hi', maintainers: [{ name: 'a' }], _id: 'foo', _rev: '3-x', users: { a: true } });
    expect(packument.maintainers).toBe(input.maintainers);
  });

  it('never reads a prototype: a version or tag named like an Object method finds nothing', () => {
    const { packument } = normalizePackument(JSON.parse(doc({ '1.0.0': entry('1.0.0') })), 'foo');
    const versions = packument.versions as Record<string, unknown>;
    for (const key of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      expect(versions[key]).toBeUndefined();
      expect((packument['dist-tags'] as Record<string, unknown>)[key]).toBeUndefined();
    }
  });

  it('refuses documents built with another prototype (not plain JSON)', () => {
    const inherited = Object.create({ name: 'foo', versions: {} }) as object;
    expect(caught(() => normalizePackument(inherited, 'foo')).code).toBe('EUPSTREAM');
    const entryWithInheritedDist = Object.create({ dist: { tarball: TARBALL('1.0.0') } }) as object;
    const result = normalizePackument({ name: 'foo', versions: { '1.0.0': entryWithInheritedDist } }, 'foo');
    expect(result.dropped).toEqual([{ version: '1.0.0', reason: 'its entry is an object, not a version manifest object' }]);
  });

  it('never throws on odd JSON values anywhere but the document itself', () => {
    const values: unknown[] = [null, 0, -1, 1e308, '', 'x', true, [], [null], {}, { a: { b: { c: [] } } }];
    for (const v of values) {
      for (const field of ['versions', 'time', 'dist-tags', 'readme']) {
        const input = field === 'versions' && (v === null || typeof v !== 'object' || Array.isArray(v)) ? { name: 'foo', versions: { '1.0.0': v } } : { name: 'foo', [field]: v };
        expect(() => normalizePackument(input, 'foo')).not.toThrow();
      }
    }
  });

  it('handles thousands of versions', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`1.0.${i}`, entry(`1.0.${i}`)]));
    const result = normalizePackument(JSON.parse(doc(many, { 'dist-tags': { latest: '1.0.4999' } })), 'foo');
    expect(Object.keys(result.packument.versions ?? {})).toHaveLength(5000);
    expect(result.dropped).toEqual([]);
  });

  it('throws a GatekeeperError whose message says what to do', () => {
    const err = caught(() => normalizePackument('<html>', 'foo'));
    expect(err).toBeInstanceOf(GatekeeperError);
    expect(err.message).toMatch(/\. Try again later; if it persists, the upstream is broken or is not an npm registry$/);
  });

  it('displayKey escapes and shortens keys for reports', () => {
    expect(displayKey('1.0.0')).toBe('1.0.0');
    expect(displayKey('a\u0000b')).toBe('a\\u0000b');
    expect(displayKey('x'.repeat(100))).toBe(`${'x'.repeat(77)}... (100 characters)`);
  });
});

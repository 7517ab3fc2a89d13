import type { Advisory } from '../../../src/core/advisory';
import { bulkAnswer, bulkTargets, bulkWithout, mergeBulk, mergeQuick, numericId, quickAnswer, treeTargets, treeWithout, upstreamQuickWithout } from '../../../src/core/audit-report';

const advisory = (name: string, range: string, extra: Partial<Advisory> = {}): Advisory => ({
  key: `ghsa:GHSA-aaaa-bbbb-cccc`,
  name,
  id: 'GHSA-aaaa-bbbb-cccc',
  title: 'bad',
  url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc',
  severity: 'high',
  vulnerableVersions: range,
  fixedIn: ['1.0.1'],
  source: 'osv',
  ...extra,
});

describe('audit answers', () => {
  const known = new Map([['pkg', [advisory('pkg', '<1.0.1')]]]);

  it('bulk: reports advisories that affect a version asked about, with a numeric id', () => {
    expect(bulkAnswer(bulkTargets({ pkg: ['1.0.1'] }), known)).toEqual({});
    const answer = bulkAnswer(bulkTargets({ pkg: ['1.0.0', '1.0.1'], other: ['1.0.0'] }), known);
    expect(Object.keys(answer)).toEqual(['pkg']);
    expect(answer.pkg[0]).toMatchObject({ severity: 'high', vulnerable_versions: '<1.0.1', url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc' });
    expect(answer.pkg[0].id).toBe(numericId(known.get('pkg')![0]));
    expect(numericId(advisory('x', '*', { key: 'npm:1234' }))).toBe(1234);
  });

  it('bulk: merges with the upstream answer, one entry per advisory, dropping malformed upstream entries', () => {
    const ours = bulkAnswer(bulkTargets({ pkg: ['1.0.0'] }), known);
    const upstream = { pkg: [{ id: 7, url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc', title: 'same', severity: 'high', vulnerable_versions: '<1.0.1' }], evil: [{ severity: 'extreme' }], other: 'x' };
    const merged = mergeBulk(ours, upstream);
    expect(Object.keys(merged)).toEqual(['pkg']);
    expect(merged.pkg).toHaveLength(1);
    expect(merged.pkg[0].id).toBe(7);
    expect(mergeBulk(ours, undefined)).toEqual(ours);
  });

  it('bulk: takes package names such as constructor and __proto__ as plain keys', () => {
    const entry = { id: 7, url: 'https://advisories.example.test/7', title: 't', severity: 'high', vulnerable_versions: '<1.0.1' };
    const ours = bulkAnswer(bulkTargets({ constructor: ['1.0.0'] }), new Map([['constructor', [advisory('constructor', '<1.0.1')]]]));
    expect(Object.keys(ours)).toEqual(['constructor']);
    const merged = mergeBulk(ours, JSON.parse(`{"__proto__":[${JSON.stringify(entry)}],"toString":[${JSON.stringify(entry)}]}`));
    expect(Object.keys(merged).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(merged.constructor).toHaveLength(1);
    const withProto = mergeBulk({}, JSON.parse('{"__proto__":[{"id":7,"severity":"high","vulnerable_versions":"<1.0.1"}]}'));
    expect(Object.keys(withProto)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(withProto))).toEqual(JSON.parse('{"__proto__":[{"id":7,"severity":"high","vulnerable_versions":"<1.0.1"}]}'));
  });

  it('quick: findings with paths and counts; merged with the upstream report', () => {
    const tree = { dependencies: { a: { version: '2.0.0', dependencies: { pkg: { version: '1.0.0' } } }, pkg: { version: '1.0.0' } } };
    const report = quickAnswer(treeTargets(tree), known);
    const [only] = Object.values(report.advisories);
    expect(only).toMatchObject({ module_name: 'pkg', patched_versions: '>=1.0.1', findings: [{ version: '1.0.0', paths: ['a>pkg', 'pkg'] }] });
    expect(report.metadata.vulnerabilities.high).toBe(2);
    const theirs = { actions: [], advisories: { '9': { id: 9, module_name: 'b', severity: 'low', findings: [{ version: '1.0.0', paths: ['b'] }], url: 'u' } }, muted: [], metadata: { dependencies: 5 } };
    const merged = mergeQuick(report, theirs);
    expect(Object.keys(merged.advisories).sort()).toEqual(['9', String(only.id)].sort());
    expect(merged.metadata).toMatchObject({ vulnerabilities: { info: 0, low: 1, moderate: 0, high: 2, critical: 0 }, dependencies: 5 });
  });

  it('refuses what is not an audit request', () => {
    for (const body of [null, [], 'x', { pkg: '1.0.0' }]) expect(() => bulkTargets(body)).toThrow(/the audit request is not valid/);
    for (const body of [null, [], 'x']) expect(() => treeTargets(body)).toThrow(/the audit request is not valid/);
    expect(treeTargets({}).size).toBe(0);
  });
});

describe('what an audit sends upstream without private names', () => {
  const privateName = (name: string) => name.startsWith('@acme/');

  it('leaves a request without private names as it is (the same object: its bytes are sent as they came)', () => {
    const bulk = { a: ['1.0.0'] };
    expect(bulkWithout(bulk, privateName)).toBe(bulk);
    const tree = { dependencies: { a: { version: '1.0.0' } } };
    expect(treeWithout(tree, privateName)).toBe(tree);
  });

  it('drops private names from a bulk request, and hoists what a private package depends on in a tree, an entry already there kept', () => {
    expect(bulkWithout({ '@acme/x': ['1.0.0'], a: ['1.0.0'] }, privateName)).toEqual({ a: ['1.0.0'] });
    const tree = {
      name: 'app',
      dependencies: {
        b: { version: '2.0.0' },
        '@acme/x': { version: '1.0.0', dependencies: { a: { version: '1.0.0' }, b: { version: '1.0.0' }, '@acme/y': { version: '1.0.0', dependencies: { c: { version: '3.0.0' } } } } },
      },
    };
    expect(treeWithout(tree, privateName)).toEqual({ name: 'app', dependencies: { b: { version: '2.0.0' }, a: { version: '1.0.0' }, c: { version: '3.0.0' } } });
  });

  it("drops the upstream's quick advisories of a private name", () => {
    const upstream = { advisories: { 1: { module_name: '@acme/x' }, 2: { module_name: 'a' } }, muted: [] };
    expect(upstreamQuickWithout(upstream, privateName)).toEqual({ advisories: { 2: { module_name: 'a' } }, muted: [] });
  });

  it('refuses a bulk request of more versions than any project has', () => {
    expect(() => bulkTargets({ a: Array.from({ length: 200_001 }, (_, i) => `0.0.${i}`) })).toThrow(/too many versions/);
  });
});

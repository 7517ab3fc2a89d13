import { GatekeeperError } from '../../../src/core/errors';
import type { Packument } from '../../../src/core/packument';
import { MAX_TREE_SIZE, PackumentFetcher, pickVersion, ResolvedNode, resolveTree } from '../../../src/core/resolve';

type Manifests = Record<string, Record<string, unknown>>;

/** A packument with the given versions (manifest extras per version) and dist-tags. */
function packument(name: string, versions: Manifests, latest?: string): Packument {
  return {
    name,
    'dist-tags': latest ? { latest } : {},
    versions: Object.fromEntries(Object.entries(versions).map(([v, extra]) => [v, { name, version: v, ...extra }])),
  };
}

/** An in-memory registry; counts how often each name is fetched. */
function registry(...packuments: Packument[]): { fetch: PackumentFetcher; calls: Map<string, number> } {
  const byName = new Map(packuments.map((p) => [p.name, p]));
  const calls = new Map<string, number>();
  const fetch: PackumentFetcher = async (name) => {
    calls.set(name, (calls.get(name) ?? 0) + 1);
    return byName.get(name);
  };
  return { fetch, calls };
}

async function rejection(promise: Promise<unknown>): Promise<GatekeeperError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatekeeperError);
    return err as GatekeeperError;
  }
  throw new Error('expected a GatekeeperError, but the promise resolved');
}

const specs = (nodes: ResolvedNode[]) => nodes.map((n) => `${n.name}@${n.version}`);
const summary = (nodes: ResolvedNode[]) => nodes.map((n) => [`${n.name}@${n.version}`, n.kind, n.parent]);

describe('pickVersion', () => {
  it('takes latest when it satisfies the range, even if higher versions exist', () => {
    const p = packument('a', { '1.0.0': {}, '1.5.0': {}, '2.0.0': {} }, '1.0.0');
    expect(pickVersion(p, '*')).toBe('1.0.0');
    expect(pickVersion(p, '^1.0.0')).toBe('1.0.0');
  });

  it('otherwise takes the highest satisfying version', () => {
    const p = packument('a', { '1.0.0': {}, '1.5.0': {}, '1.10.0': {}, '2.0.0': {} }, '2.0.0');
    expect(pickVersion(p, '^1.0.0')).toBe('1.10.0');
  });

  it('skips deprecated versions when a non-deprecated one satisfies', () => {
    const p = packument('a', { '1.0.0': {}, '1.1.0': {}, '1.2.0': { deprecated: 'broken' } }, '2.0.0');
    expect(pickVersion(p, '^1.0.0')).toBe('1.1.0');
  });

  it('falls back to the highest deprecated version when all are deprecated', () => {
    const p = packument('a', { '1.0.0': { deprecated: 'x' }, '1.1.0': { deprecated: 'y' } });
    expect(pickVersion(p, '^1.0.0')).toBe('1.1.0');
  });

  it('prefers latest even when it is deprecated (as npm does)', () => {
    const p = packument('a', { '1.0.0': {}, '1.1.0': { deprecated: 'x' } }, '1.1.0');
    expect(pickVersion(p, '^1.0.0')).toBe('1.1.0');
  });

  it('ignores a latest tag that points at a missing version', () => {
    const p = packument('a', { '1.0.0': {}, '1.1.0': {} }, '1.2.0');
    expect(pickVersion(p, '^1.0.0')).toBe('1.1.0');
  });

  it('ignores keys that are not versions', () => {
    const p: Packument = { name: 'a', versions: { 'not-a-version': {}, '1.0.0': {} } };
    expect(pickVersion(p, '*')).toBe('1.0.0');
  });

  it('is undefined when nothing satisfies', () => {
    expect(pickVersion(packument('a', { '1.0.0': {} }, '1.0.0'), '^2.0.0')).toBeUndefined();
    expect(pickVersion({ name: 'a' }, '*')).toBeUndefined();
  });

  it('does not pick prereleases for a plain range', () => {
    expect(pickVersion(packument('a', { '1.0.0': {}, '1.1.0-beta.1': {} }), '^1.0.0')).toBe('1.0.0');
  });
});

describe('resolveTree', () => {
  it('resolves the root alone, with its manifest', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { license: 'MIT' }, '2.0.0': {} }, '1.0.0'));
    const result = await resolveTree('root', '*', fetch);
    expect(result.skipped).toEqual([]);
    expect(result.nodes).toEqual([{ name: 'root', version: '1.0.0', parent: null, kind: 'root', manifest: { name: 'root', version: '1.0.0', license: 'MIT' } }]);
  });

  it('resolves the root range to the highest non-deprecated version when latest does not satisfy', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': {}, '2.0.0': {}, '2.1.0': {}, '2.2.0': { deprecated: 'oops' }, '3.0.0': {} }, '3.0.0'));
    const result = await resolveTree('root', '^2.0.0', fetch);
    expect(specs(result.nodes)).toEqual(['root@2.1.0']);
  });

  it('follows dependencies transitively, recording how each is reached', async () => {
    const { fetch } = registry(
      packument('root', { '1.0.0': { dependencies: { a: '^1.0.0' } } }, '1.0.0'),
      packument('a', { '1.0.0': {}, '1.2.0': { dependencies: { b: '~2.0.0' } }, '2.0.0': {} }, '2.0.0'),
      packument('b', { '2.0.0': {}, '2.0.5': {}, '2.1.0': {} }, '2.1.0'),
    );
    const result = await resolveTree('root', '1.0.0', fetch);
    expect(summary(result.nodes)).toEqual([
      ['root@1.0.0', 'root', null],
      ['a@1.2.0', 'dependency', 'root@1.0.0'],
      ['b@2.0.5', 'dependency', 'a@1.2.0'],
    ]);
    expect(result.nodes[2].manifest).toEqual({ name: 'b', version: '2.0.5' });
  });

  it('follows optionalDependencies as kind optional (once, even when also listed in dependencies)', async () => {
    const { fetch } = registry(
      packument('root', { '1.0.0': { dependencies: { fsevents: '^2.0.0' }, optionalDependencies: { fsevents: '^2.0.0', other: '1.x' } } }, '1.0.0'),
      packument('fsevents', { '2.3.3': {} }, '2.3.3'),
      packument('other', { '1.0.0': {} }, '1.0.0'),
    );
    const result = await resolveTree('root', '*', fetch);
    expect(summary(result.nodes)).toEqual([
      ['root@1.0.0', 'root', null],
      ['fsevents@2.3.3', 'optional', 'root@1.0.0'],
      ['other@1.0.0', 'optional', 'root@1.0.0'],
    ]);
  });

  it('follows non-optional peers as kind peer and skips optional peers and devDependencies', async () => {
    const { fetch, calls } = registry(
      packument(
        'plugin',
        {
          '1.0.0': {
            peerDependencies: { host: '^3.0.0', typescript: '*' },
            peerDependenciesMeta: { typescript: { optional: true } },
            devDependencies: { jest: '^29.0.0' },
          },
        },
        '1.0.0',
      ),
      packument('host', { '3.1.0': {} }, '3.1.0'),
      packument('typescript', { '5.0.0': {} }, '5.0.0'),
      packument('jest', { '29.0.0': {} }, '29.0.0'),
    );
    const result = await resolveTree('plugin', '*', fetch);
    expect(summary(result.nodes)).toEqual([
      ['plugin@1.0.0', 'root', null],
      ['host@3.1.0', 'peer', 'plugin@1.0.0'],
    ]);
    expect(calls.has('typescript')).toBe(false);
    expect(calls.has('jest')).toBe(false);
  });

  it('does not follow devDependencies of dependencies either', async () => {
    const { fetch, calls } = registry(
      packument('root', { '1.0.0': { dependencies: { a: '*' } } }, '1.0.0'),
      packument('a', { '1.0.0': { devDependencies: { b: '*' } } }, '1.0.0'),
      packument('b', { '1.0.0': {} }, '1.0.0'),
    );
    expect(specs((await resolveTree('root', '*', fetch)).nodes)).toEqual(['root@1.0.0', 'a@1.0.0']);
    expect(calls.has('b')).toBe(false);
  });

  it('lists each name@version once and keeps different versions of one name apart', async () => {
    const { fetch, calls } = registry(
      packument('root', { '1.0.0': { dependencies: { a: '*', b: '*', shared: '^1.0.0' } } }, '1.0.0'),
      packument('a', { '1.0.0': { dependencies: { shared: '^1.1.0' } } }, '1.0.0'),
      packument('b', { '1.0.0': { dependencies: { shared: '^2.0.0' } } }, '1.0.0'),
      packument('shared', { '1.0.0': {}, '1.2.0': {}, '2.0.0': {} }, '2.0.0'),
    );
    const result = await resolveTree('root', '*', fetch);
    expect(specs(result.nodes).sort()).toEqual(['a@1.0.0', 'b@1.0.0', 'root@1.0.0', 'shared@1.2.0', 'shared@2.0.0']);
    expect(result.nodes.find((n) => n.name === 'shared' && n.version === '1.2.0')?.parent).toBe('root@1.0.0');
    expect(result.nodes.find((n) => n.version === '2.0.0')?.parent).toBe('b@1.0.0');
    // Each packument is fetched once, however often it is needed.
    expect(calls.get('shared')).toBe(1);
  });

  it('terminates on dependency cycles', async () => {
    const { fetch } = registry(
      packument('a', { '1.0.0': { dependencies: { b: '^1.0.0' } } }, '1.0.0'),
      packument('b', { '1.0.0': { dependencies: { c: '^1.0.0' } } }, '1.0.0'),
      packument('c', { '1.0.0': { dependencies: { a: '^1.0.0', c: '^1.0.0' } } }, '1.0.0'),
    );
    expect(specs((await resolveTree('a', '*', fetch)).nodes)).toEqual(['a@1.0.0', 'b@1.0.0', 'c@1.0.0']);
  });

  it('reports an optional dependency that is not on the registry in skipped', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { optionalDependencies: { gone: '^1.0.0' } } }, '1.0.0'));
    const result = await resolveTree('root', '*', fetch);
    expect(specs(result.nodes)).toEqual(['root@1.0.0']);
    expect(result.skipped).toEqual([{ name: 'gone', range: '^1.0.0', reason: 'not on the upstream registry' }]);
  });

  it('reports an optional dependency with no satisfying version in skipped', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { optionalDependencies: { a: '^9.0.0' } } }, '1.0.0'), packument('a', { '1.0.0': {} }, '1.0.0'));
    const result = await resolveTree('root', '*', fetch);
    expect(result.skipped).toEqual([{ name: 'a', range: '^9.0.0', reason: 'no version satisfies ^9.0.0' }]);
  });

  it('throws ENOTFOUND naming the parent for an unresolvable required dependency', async () => {
    const { fetch } = registry(
      packument('root', { '1.0.0': { dependencies: { a: '*' } } }, '1.0.0'),
      packument('a', { '1.0.0': { dependencies: { gone: '^1.0.0' } } }, '1.0.0'),
    );
    const err = await rejection(resolveTree('root', '*', fetch));
    expect(err.code).toBe('ENOTFOUND');
    expect(err.message).toBe('a@1.0.0 depends on gone@^1.0.0: not on the upstream registry');
  });

  it('throws ENOTFOUND when no version satisfies a required dependency', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { dependencies: { a: '^2.0.0' } } }, '1.0.0'), packument('a', { '1.0.0': {} }, '1.0.0'));
    const err = await rejection(resolveTree('root', '*', fetch));
    expect(err.code).toBe('ENOTFOUND');
    expect(err.message).toBe('root@1.0.0 depends on a@^2.0.0: no version satisfies ^2.0.0');
  });

  it('throws ENOTFOUND for an unresolvable non-optional peer', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { peerDependencies: { host: '^1.0.0' } } }, '1.0.0'));
    const err = await rejection(resolveTree('root', '*', fetch));
    expect(err.code).toBe('ENOTFOUND');
    expect(err.message).toContain('root@1.0.0 depends on host@^1.0.0');
  });

  it.each([
    ['git', 'git+https://github.com/a/b.git'],
    ['github shorthand', 'github:a/b'],
    ['file', 'file:../b'],
    ['tarball URL', 'https://example.test/b-1.0.0.tgz'],
  ])('throws EVALIDATION for a required dependency on a %s spec', async (_what, spec) => {
    const { fetch } = registry(packument('root', { '1.0.0': { dependencies: { b: spec } } }, '1.0.0'));
    const err = await rejection(resolveTree('root', '*', fetch));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toBe(`root@1.0.0 depends on b@${spec}, which is not a registry version range`);
  });

  it('throws EVALIDATION for a peer on a non-registry spec', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { peerDependencies: { b: 'file:../b' } } }, '1.0.0'));
    expect((await rejection(resolveTree('root', '*', fetch))).code).toBe('EVALIDATION');
  });

  it('skips an optional dependency on a non-registry spec', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': { optionalDependencies: { b: 'git+https://github.com/a/b.git' } } }, '1.0.0'));
    const result = await resolveTree('root', '*', fetch);
    expect(specs(result.nodes)).toEqual(['root@1.0.0']);
    expect(result.skipped).toEqual([{ name: 'b', range: 'git+https://github.com/a/b.git', reason: 'not a registry range' }]);
  });

  // npm resolves a dist-tag spec ("foo": "latest") from the registry, but registryRange only
  // accepts semver ranges, so such a dependency is refused as "not a registry version range".
  it('resolves a dependency declared by dist-tag, as npm does', async () => {
    const { fetch } = registry(
      packument('root', { '1.0.0': { dependencies: { a: 'latest' } } }, '1.0.0'),
      packument('a', { '1.0.0': {}, '2.0.0': {} }, '1.0.0'),
    );
    const result = await resolveTree('root', '*', fetch);
    expect(specs(result.nodes)).toEqual(['root@1.0.0', 'a@1.0.0']);
  });

  it('throws ENOTFOUND when the root is not on the registry', async () => {
    const { fetch } = registry();
    const err = await rejection(resolveTree('nope', '*', fetch));
    expect(err.code).toBe('ENOTFOUND');
    expect(err.message).toBe('nope is not on the upstream registry. Check the name');
  });

  it('throws ENOTFOUND when no version of the root satisfies the range', async () => {
    const { fetch } = registry(packument('root', { '1.0.0': {} }, '1.0.0'));
    const err = await rejection(resolveTree('root', '^5.0.0', fetch));
    expect(err.code).toBe('ENOTFOUND');
    expect(err.message).toBe('no version of root satisfies ^5.0.0. Check the range (npm view root versions lists them)');
  });

  it('passes a fetcher failure through', async () => {
    const fetch: PackumentFetcher = async (name) => {
      if (name === 'root') return packument('root', { '1.0.0': { dependencies: { a: '*' } } }, '1.0.0');
      throw new Error('upstream down');
    };
    await expect(resolveTree('root', '*', fetch)).rejects.toThrow('upstream down');
  });

  describe('tree size guard', () => {
    /** p0 -> p1 -> ... -> p(length-1): a chain of `length` packages, generated on demand. */
    function chain(length: number): PackumentFetcher {
      return async (name) => {
        const i = Number(name.slice(1));
        if (!/^p\d+$/.test(name) || i >= length) return undefined;
        const dependencies = i + 1 < length ? { [`p${i + 1}`]: '^1.0.0' } : {};
        return packument(name, { '1.0.0': { dependencies } }, '1.0.0');
      };
    }

    it('is 5000 packages', () => {
      expect(MAX_TREE_SIZE).toBe(5000);
    });

    it('allows a tree of exactly MAX_TREE_SIZE packages', async () => {
      const result = await resolveTree('p0', '*', chain(MAX_TREE_SIZE));
      expect(result.nodes).toHaveLength(MAX_TREE_SIZE);
      expect(result.nodes[MAX_TREE_SIZE - 1]).toMatchObject({ name: `p${MAX_TREE_SIZE - 1}`, parent: `p${MAX_TREE_SIZE - 2}@1.0.0` });
    });

    it('refuses a longer tree with EVALIDATION', async () => {
      const err = await rejection(resolveTree('p0', '*', chain(MAX_TREE_SIZE + 50)));
      expect(err.code).toBe('EVALIDATION');
      expect(err.message).toBe(`the dependency tree of p0@* has more than ${MAX_TREE_SIZE} packages. Approve it in parts, or with a narrower range`);
    });

    it('refuses a tree one package over the limit', async () => {
      expect((await rejection(resolveTree('p0', '*', chain(MAX_TREE_SIZE + 1)))).code).toBe('EVALIDATION');
    });
  });
});

describe('legacy version keys (express-like)', () => {
  const express = packument(
    'express',
    { '1.0.0beta': {}, '1.0.0rc': {}, '1.0.0': {}, '2.0.0rc': {}, '2.0.0': { dependencies: { connect: '1.0.0rc2' } }, '3.0.0alpha1': {} },
    '2.0.0',
  );

  it('pickVersion never picks a legacy key for a range, and picks one asked for exactly', () => {
    expect(pickVersion(express, '*')).toBe('2.0.0');
    expect(pickVersion(express, '^1.0.0-0')).toBe('1.0.0');
    expect(pickVersion(express, '>=3.0.0-0')).toBeUndefined();
    expect(pickVersion(express, '1.0.0rc')).toBe('1.0.0rc');
    expect(pickVersion(express, '1.0.0rc9')).toBeUndefined();
    expect(pickVersion({ ...express, 'dist-tags': { latest: '3.0.0alpha1' } }, '*')).toBe('2.0.0');
  });

  it('resolveTree follows a dependency on an exact legacy version', async () => {
    const connect = packument('connect', { '1.0.0rc2': {}, '1.0.0': {} }, '1.0.0');
    const { nodes } = await resolveTree('express', '2.0.0', registry(express, connect).fetch);
    expect(specs(nodes)).toEqual(['express@2.0.0', 'connect@1.0.0rc2']);
  });

  it('resolveTree reports broken dependency maps instead of throwing a TypeError', async () => {
    const odd = packument('odd', { '1.0.0': { optionalDependencies: 'nonsense', dependencies: { a: 5 } } }, '1.0.0');
    const err = await rejection(resolveTree('odd', '*', registry(odd).fetch));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toContain('odd@1.0.0 depends on a@<not a string: number>');
  });
});

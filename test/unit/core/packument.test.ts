import {
  abbreviatePackument,
  abbreviateVersion,
  dependencyNames,
  filterPackument,
  hasInstallScript,
  HiddenVersion,
  hiddenNotice,
  installNotice,
  isSourceWarning,
  Packument,
  policyRestrictions,
  repairDistTags,
  RESTRICTED_NAMED,
  representativeDecision,
  toHeaderValue,
  WARM_AHEAD_MAX,
} from '../../../src/core/packument';
import type { Decision, DecisionCode, VersionManifest } from '../../../src/core/policy';

function decision(name: string, version: string, code: DecisionCode, reason?: string): Decision {
  const allowed = code === 'ALLOWED';
  return {
    name,
    version,
    allowed,
    code,
    ruleId: allowed ? 'mode:open' : code === 'EBANNED' ? 'ban:1' : 'mode:allowlist',
    reason: reason ?? `${name}@${version} ${allowed ? 'is allowed' : code === 'EBANNED' ? 'is banned: bad' : 'is not approved'}`,
    matches: [],
    warnings: [],
    validUntil: null,
  };
}

function manifest(name: string, version: string, extra: VersionManifest = {}): VersionManifest {
  return { name, version, dist: { tarball: `http://upstream.test/${name}/-/${name}-${version}.tgz`, shasum: 'x' }, ...extra };
}

function packument(name: string, versions: string[], distTags: Record<string, string>): Packument {
  const time: Record<string, string> = { created: '2020-01-01T00:00:00.000Z', modified: '2024-01-01T00:00:00.000Z' };
  versions.forEach((v, i) => {
    time[v] = new Date(Date.UTC(2021, 0, 1 + i)).toISOString();
  });
  return {
    _id: name,
    name,
    description: 'a package',
    readme: '# readme',
    'dist-tags': distTags,
    versions: Object.fromEntries(versions.map((v) => [v, manifest(name, v)])),
    time,
  };
}

function hidden(name: string, version: string, code: DecisionCode, reason?: string): HiddenVersion {
  return { version, decision: decision(name, version, code, reason) };
}

describe('repairDistTags', () => {
  it('keeps tags that point at remaining versions', () => {
    expect(repairDistTags({ latest: '2.0.0', next: '3.0.0-rc.1' }, ['1.0.0', '2.0.0', '3.0.0-rc.1'])).toEqual({
      latest: '2.0.0',
      next: '3.0.0-rc.1',
    });
  });

  it('moves latest to the highest remaining non-prerelease version not above the old latest', () => {
    const remaining = ['1.0.0', '1.9.0', '2.0.0', '2.5.0-beta.1', '4.0.0'];
    expect(repairDistTags({ latest: '3.0.0' }, remaining)).toEqual({ latest: '2.0.0' });
  });

  it('does not depend on the order of the remaining versions', () => {
    expect(repairDistTags({ latest: '3.0.0' }, ['2.0.0', '1.0.0', '2.1.0', '0.9.0'])).toEqual({ latest: '2.1.0' });
  });

  it('never moves latest to a prerelease', () => {
    expect(repairDistTags({ latest: '2.0.0' }, ['2.0.0-rc.1', '1.0.0-beta'])).toEqual({});
  });

  it('drops latest when no remaining version qualifies', () => {
    expect(repairDistTags({ latest: '1.0.0' }, [])).toEqual({});
    // Only newer versions remain: latest is not moved up.
    expect(repairDistTags({ latest: '1.0.0' }, ['2.0.0', '3.0.0'])).toEqual({});
  });

  it('drops other tags that point at removed versions', () => {
    expect(repairDistTags({ latest: '1.0.0', next: '2.0.0-rc.1', legacy: '0.1.0' }, ['1.0.0', '0.1.0'])).toEqual({
      latest: '1.0.0',
      legacy: '0.1.0',
    });
  });

  it('does not move a non-latest tag to another version', () => {
    expect(repairDistTags({ stable: '2.0.0' }, ['1.0.0', '1.5.0'])).toEqual({});
  });

  it('does not mutate its inputs', () => {
    const tags = { latest: '3.0.0', next: '4.0.0-rc.1' };
    const remaining = ['2.0.0', '1.0.0'];
    repairDistTags(tags, remaining);
    expect(tags).toEqual({ latest: '3.0.0', next: '4.0.0-rc.1' });
    expect(remaining).toEqual(['2.0.0', '1.0.0']);
  });
});

describe('filterPackument', () => {
  it('calls decide exactly once per version with that version and its manifest', () => {
    const doc = packument('pkg', ['1.0.0', '1.1.0', '2.0.0'], { latest: '2.0.0' });
    const decide = jest.fn((version: string) => decision('pkg', version, version === '2.0.0' ? 'ENOTAPPROVED' : 'ALLOWED'));
    filterPackument(doc, decide);
    expect(decide).toHaveBeenCalledTimes(3);
    for (const v of ['1.0.0', '1.1.0', '2.0.0']) {
      expect(decide).toHaveBeenCalledWith(v, doc.versions?.[v]);
    }
    expect(decide.mock.calls.map((c) => c[0]).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
  });

  it('returns the same document when nothing is hidden', () => {
    const doc = packument('pkg', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    const result = filterPackument(doc, (v) => decision('pkg', v, 'ALLOWED'));
    expect(result.packument).toBe(doc);
    expect(result.hidden).toEqual([]);
    expect(result.allowed).toEqual(['1.0.0', '2.0.0']);
  });

  it('removes blocked versions from versions and time and repairs dist-tags', () => {
    const doc = packument('pkg', ['1.0.0', '1.1.0', '2.0.0', '2.1.0-beta.1'], { latest: '2.0.0', beta: '2.1.0-beta.1' });
    const blocked = new Set(['2.0.0', '2.1.0-beta.1']);
    const result = filterPackument(doc, (v) => decision('pkg', v, blocked.has(v) ? 'EBANNED' : 'ALLOWED'));

    expect(Object.keys(result.packument.versions ?? {})).toEqual(['1.0.0', '1.1.0']);
    expect(Object.keys(result.packument.time ?? {})).toEqual(['created', 'modified', '1.0.0', '1.1.0']);
    expect(result.packument['dist-tags']).toEqual({ latest: '1.1.0' });
    expect(result.allowed).toEqual(['1.0.0', '1.1.0']);
    expect(result.hidden.map((h) => [h.version, h.decision.code])).toEqual([
      ['2.0.0', 'EBANNED'],
      ['2.1.0-beta.1', 'EBANNED'],
    ]);
    // Other top-level fields are passed through.
    expect(result.packument.name).toBe('pkg');
    expect(result.packument.readme).toBe('# readme');
    expect(result.packument._id).toBe('pkg');
  });

  it('keeps the allowed manifests unchanged', () => {
    const doc = packument('pkg', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    const result = filterPackument(doc, (v) => decision('pkg', v, v === '2.0.0' ? 'ENOTAPPROVED' : 'ALLOWED'));
    expect(result.packument.versions?.['1.0.0']).toEqual(doc.versions?.['1.0.0']);
  });

  it('does not mutate its input', () => {
    const doc = packument('pkg', ['1.0.0', '2.0.0', '3.0.0-rc.1'], { latest: '2.0.0', next: '3.0.0-rc.1' });
    const before = JSON.parse(JSON.stringify(doc));
    const result = filterPackument(doc, (v) => decision('pkg', v, v === '1.0.0' ? 'ALLOWED' : 'ENOTAPPROVED'));
    expect(doc).toEqual(before);
    expect(result.packument).not.toBe(doc);
    expect(result.packument.versions).not.toBe(doc.versions);
    expect(result.packument.time).not.toBe(doc.time);
    expect(result.packument['dist-tags']).not.toBe(doc['dist-tags']);
  });

  it('handles a packument without time', () => {
    const doc: Packument = { name: 'pkg', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': manifest('pkg', '1.0.0') } };
    const result = filterPackument(doc, (v) => decision('pkg', v, 'EBANNED'));
    expect(result.packument.versions).toEqual({});
    expect(result.packument.time).toBeUndefined();
    expect(result.packument['dist-tags']).toEqual({});
    expect(result.allowed).toEqual([]);
    expect(result.hidden).toHaveLength(1);
  });

  it('handles a packument without versions or dist-tags', () => {
    const doc: Packument = { name: 'pkg' };
    const decide = jest.fn((v: string) => decision('pkg', v, 'ALLOWED'));
    const result = filterPackument(doc, decide);
    expect(decide).not.toHaveBeenCalled();
    expect(result).toEqual({ packument: doc, hidden: [], allowed: [], validUntil: null, warned: [] });
  });
});

describe('representativeDecision', () => {
  it('is undefined when nothing is hidden', () => {
    expect(representativeDecision(packument('pkg', ['1.0.0'], { latest: '1.0.0' }), [])).toBeUndefined();
  });

  it('prefers the decision for the original latest', () => {
    const doc = packument('pkg', ['1.0.0', '2.0.0', '3.0.0-rc.1'], { latest: '2.0.0' });
    const list = [hidden('pkg', '1.0.0', 'ENOTAPPROVED'), hidden('pkg', '2.0.0', 'EBANNED'), hidden('pkg', '3.0.0-rc.1', 'ENOTAPPROVED')];
    const d = representativeDecision(doc, list);
    expect(d?.version).toBe('2.0.0');
    expect(d?.code).toBe('EBANNED');
  });

  it('falls back to the highest hidden version when latest is not hidden or absent', () => {
    const list = [hidden('pkg', '1.0.0', 'EBANNED'), hidden('pkg', '10.0.0', 'ENOTAPPROVED'), hidden('pkg', '9.0.0', 'EBANNED')];
    expect(representativeDecision(packument('pkg', [], {}), list)?.version).toBe('10.0.0');
    expect(representativeDecision(packument('pkg', [], { latest: '0.1.0' }), list)?.version).toBe('10.0.0');
  });
});

describe('hiddenNotice', () => {
  it('is undefined when nothing is hidden', () => {
    expect(hiddenNotice('pkg', [])).toBeUndefined();
  });

  it('counts hidden versions per code and names the newest hidden version', () => {
    const list = [
      hidden('pkg', '1.0.0', 'EBANNED'),
      hidden('pkg', '3.0.0', 'ENOTAPPROVED', 'pkg@3.0.0 is not approved'),
      hidden('pkg', '2.0.0', 'EBANNED'),
      hidden('pkg', '10.0.0-rc.1', 'EBANNED'),
    ];
    const notice = hiddenNotice('pkg', list) as string;
    expect(notice).toContain('4 versions of pkg hidden by policy');
    expect(notice).toContain('3 EBANNED');
    expect(notice).toContain('1 ENOTAPPROVED');
    // semver order, not string order: 10.0.0-rc.1 is the newest.
    expect(notice).toContain("gatekeeper explain pkg@10.0.0-rc.1");
    expect(notice).toContain('e.g. pkg@10.0.0-rc.1 is banned');
  });

  it('uses the singular for one version', () => {
    const notice = hiddenNotice('@acme/widgets', [hidden('@acme/widgets', '1.0.0', 'ENOTAPPROVED')]) as string;
    expect(notice).toContain('1 version of @acme/widgets hidden by policy (1 ENOTAPPROVED)');
    expect(notice).toContain("gatekeeper explain @acme/widgets@1.0.0");
  });

  it('is printable ASCII only, even when a reason is not', () => {
    const list = [hidden('pkg', '1.0.0', 'EBANNED', 'pkg@1.0.0 is banned: vol\u00e9 des jetons \u2014 \u{1F480}\nnewline\ttab')];
    const notice = hiddenNotice('pkg', list) as string;
    expect(notice).toMatch(/^[\x20-\x7e]+$/);
    expect(notice).toContain('vol? des jetons');
  });

  it('is at most 1024 characters long', () => {
    const list = [hidden('pkg', '1.0.0', 'EBANNED', 'x'.repeat(5000))];
    expect((hiddenNotice('pkg', list) as string).length).toBeLessThanOrEqual(1024);
  });
});

describe('installNotice', () => {
  const warn = (name: string, version: string, reasons: Array<{ rule: string; ruleId: string | null; reason: string }>): HiddenVersion => {
    const d = decision(name, version, 'ALLOWED');
    d.warnings = reasons.map((r) => ({ ...r, effect: 'warn' as const }));
    return { version, decision: d };
  };
  const source = { rule: 'advisories', ruleId: 'source', reason: 'advisories for pkg could not be checked recently (the advisory source is unreachable)' };
  const filter = (p: Packument, blocked: Record<string, DecisionCode>, warned: HiddenVersion[] = []) => {
    const result = filterPackument(p, (v) => decision(p.name, v, blocked[v] ?? 'ALLOWED'));
    return { ...result, warned };
  };

  it('says nothing when latest installs without warnings, however many older versions are hidden', () => {
    const p = packument('pkg', ['1.0.0', '1.1.0', '2.0.0'], { latest: '2.0.0' });
    expect(installNotice('pkg', p, filter(p, { '1.0.0': 'EBANNED', '1.1.0': 'ENOTAPPROVED' }))).toBeUndefined();
    expect(installNotice('pkg', p, filter(p, {}))).toBeUndefined();
  });

  it('names a blocked latest, why, and what installs instead', () => {
    const p = packument('pkg', ['1.0.0', '1.1.0', '2.0.0'], { latest: '2.0.0' });
    const notice = installNotice('pkg', p, filter(p, { '2.0.0': 'EBANNED', '1.0.0': 'EBANNED' })) as string;
    expect(notice).toBe("gatekeeper: pkg@2.0.0 (latest) is blocked [EBANNED]: pkg@2.0.0 is banned: bad; pkg@1.1.0 installs instead (1 other version hidden). Run 'gatekeeper explain pkg@2.0.0'");
  });

  it('warns about the version about to be installed only, never about the advisory source', () => {
    const p = packument('pkg', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    const script = { rule: 'scripts', ruleId: 'scripts', reason: 'pkg@2.0.0 runs install scripts' };
    expect(installNotice('pkg', p, filter(p, {}, [warn('pkg', '2.0.0', [script, source])]))).toBe('gatekeeper: warning for pkg@2.0.0: pkg@2.0.0 runs install scripts');
    // An older warned version is not what installs; the source alone is not the package's notice.
    expect(installNotice('pkg', p, filter(p, {}, [warn('pkg', '1.0.0', [script])]))).toBeUndefined();
    const everyVersion = ['1.0.0', '2.0.0'].map((v) => warn('pkg', v, [source]));
    expect(installNotice('pkg', p, filter(p, {}, everyVersion))).toBeUndefined();
  });

  it('recognises the source warning', () => {
    expect(isSourceWarning(source)).toBe(true);
    expect(isSourceWarning({ rule: 'advisories', ruleId: 'GHSA-x' })).toBe(false);
  });

  it('is printable ASCII, at most 1024 characters', () => {
    const p = packument('pkg', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    const result = filterPackument(p, (v) => decision('pkg', v, v === '2.0.0' ? 'EBANNED' : 'ALLOWED', v === '2.0.0' ? `pkg@2.0.0 is banned: vol\u00e9 ${'x'.repeat(3000)}` : undefined));
    const notice = installNotice('pkg', p, result) as string;
    expect(notice).toMatch(/^[\x20-\x7e]+$/);
    expect(notice.length).toBeLessThanOrEqual(1024);
  });
});

describe('toHeaderValue', () => {
  it('replaces characters outside printable ASCII', () => {
    expect(toHeaderValue('a\u00e9b\r\nc')).toBe('a?b??c');
    expect(toHeaderValue('plain text ~!')).toBe('plain text ~!');
  });
});

describe('hasInstallScript', () => {
  it.each(['preinstall', 'install', 'postinstall'])('is true with a %s script', (script) => {
    expect(hasInstallScript({ scripts: { [script]: 'node build.js' } })).toBe(true);
  });

  it('is false for other lifecycle scripts', () => {
    expect(hasInstallScript({ scripts: { test: 'jest', prepare: 'tsc', prepublishOnly: 'x', postpack: 'y' } })).toBe(false);
  });

  it('is false without scripts and true when the manifest already says so', () => {
    expect(hasInstallScript({})).toBe(false);
    expect(hasInstallScript({ hasInstallScript: true })).toBe(true);
    expect(hasInstallScript({ hasInstallScript: false })).toBe(false);
  });

  it('ignores non-string script values', () => {
    expect(hasInstallScript({ scripts: { install: null, postinstall: 42 } })).toBe(false);
  });
});

describe('abbreviateVersion', () => {
  const full = manifest('pkg', '1.0.0', {
    description: 'desc',
    readme: 'long readme',
    main: 'index.js',
    _id: 'pkg@1.0.0',
    _npmUser: { name: 'someone' },
    maintainers: [{ name: 'someone' }],
    repository: { type: 'git', url: 'git+https://example.test/pkg.git' },
    keywords: ['a'],
    scripts: { test: 'jest', postinstall: 'node setup.js' },
    gitHead: 'abc',
    deprecated: 'use other',
    dependencies: { a: '^1.0.0' },
    optionalDependencies: { b: '^1.0.0' },
    peerDependencies: { c: '^1.0.0' },
    peerDependenciesMeta: { c: { optional: true } },
    bundleDependencies: ['a'],
    bin: { pkg: 'cli.js' },
    directories: {},
    engines: { node: '>=18' },
    os: ['linux'],
    cpu: ['x64'],
    libc: ['glibc'],
    funding: 'https://example.test/fund',
    license: 'MIT',
    _hasShrinkwrap: false,
  });

  it('keeps npm abbreviated fields and drops the rest', () => {
    const out = abbreviateVersion(full);
    for (const kept of [
      'name',
      'version',
      'deprecated',
      'dependencies',
      'optionalDependencies',
      'peerDependencies',
      'peerDependenciesMeta',
      'bundleDependencies',
      'bin',
      'directories',
      'engines',
      'os',
      'cpu',
      'libc',
      'funding',
      'license',
      'dist',
      '_hasShrinkwrap',
    ]) {
      expect(out[kept]).toEqual(full[kept]);
    }
    for (const dropped of ['description', 'readme', 'main', '_id', '_npmUser', 'maintainers', 'repository', 'keywords', 'scripts', 'gitHead']) {
      expect(out).not.toHaveProperty(dropped);
    }
  });

  it('derives hasInstallScript from install scripts', () => {
    expect(abbreviateVersion(full).hasInstallScript).toBe(true);
    expect(abbreviateVersion(manifest('pkg', '1.0.0', { scripts: { preinstall: 'x' } })).hasInstallScript).toBe(true);
    expect(abbreviateVersion(manifest('pkg', '1.0.0', { scripts: { install: 'node-gyp rebuild' } })).hasInstallScript).toBe(true);
    expect(abbreviateVersion(manifest('pkg', '1.0.0', { scripts: { test: 'jest' } }))).not.toHaveProperty('hasInstallScript');
  });

  it('omits fields that are absent', () => {
    expect(abbreviateVersion({ name: 'pkg', version: '1.0.0' })).toEqual({ name: 'pkg', version: '1.0.0' });
  });

  it('does not mutate its input', () => {
    const copy = JSON.parse(JSON.stringify(full));
    abbreviateVersion(full);
    expect(full).toEqual(copy);
  });
});

describe('abbreviatePackument', () => {
  it('keeps only name, dist-tags, versions and modified', () => {
    const doc = packument('pkg', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    doc.maintainers = [{ name: 'x' }];
    doc.users = { x: true };
    const out = abbreviatePackument(doc);
    expect(Object.keys(out).sort()).toEqual(['dist-tags', 'modified', 'name', 'versions']);
    expect(out.name).toBe('pkg');
    expect(out['dist-tags']).toEqual({ latest: '2.0.0' });
    expect(out.modified).toBe('2024-01-01T00:00:00.000Z');
    expect(Object.keys(out.versions ?? {})).toEqual(['1.0.0', '2.0.0']);
    expect(out.versions?.['1.0.0']).toEqual(abbreviateVersion(doc.versions?.['1.0.0'] as VersionManifest));
  });

  it('abbreviates every version and flags install scripts', () => {
    const doc = packument('pkg', ['1.0.0'], { latest: '1.0.0' });
    (doc.versions as Record<string, VersionManifest>)['1.0.0'].scripts = { postinstall: 'node x.js' };
    (doc.versions as Record<string, VersionManifest>)['1.0.0'].readme = 'r';
    const v = abbreviatePackument(doc).versions?.['1.0.0'] as VersionManifest;
    expect(v.hasInstallScript).toBe(true);
    expect(v).not.toHaveProperty('scripts');
    expect(v).not.toHaveProperty('readme');
  });

  it('defaults dist-tags and versions and omits modified when there is no time', () => {
    expect(abbreviatePackument({ name: 'pkg' })).toEqual({ name: 'pkg', 'dist-tags': {}, versions: {} });
  });
});

describe('policyRestrictions (what npm says of a hidden version it was asked for)', () => {
  // The real npm-pick-manifest (pacote's, as npm's own): what npm does with the field.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pickManifest = require('npm-pick-manifest') as (packument: Packument, wanted: string, opts?: object) => VersionManifest;
  const describeDecision = (d: Decision) => `${d.reason}. Run 'gatekeeper explain ${d.name}@${d.version}'`;
  const served = (versions: string[], blocked: Record<string, DecisionCode>) => {
    const raw = packument('pkg', versions, { latest: versions[versions.length - 1] });
    const result = filterPackument(raw, (version) => decision('pkg', version, blocked[version] ?? 'ALLOWED'));
    const restrictions = policyRestrictions('pkg', result.hidden, describeDecision);
    return { packument: { ...result.packument, ...(restrictions ? { policyRestrictions: restrictions } : {}) }, restrictions };
  };
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as Error & { code: string };
    }
    throw new Error('npm-pick-manifest picked a version');
  };

  it('is left out when nothing is hidden', () => {
    expect(policyRestrictions('pkg', [], describeDecision)).toBeUndefined();
  });

  it("makes npm refuse a pinned hidden version with E403 and the version's reason and next step, not ETARGET", () => {
    const { packument: doc } = served(['1.0.0', '1.1.0', '2.0.0'], { '1.1.0': 'EBANNED' });
    const err = refusal(() => pickManifest(doc, '1.1.0'));
    expect(err.code).toBe('E403');
    expect(err.message).toBe(
      'Could not download pkg@1.1.0 due to policy violations:\n' +
        "1 version of pkg is hidden by this registry's policy:\n" +
        "1.1.0: [EBANNED] pkg@1.1.0 is banned: bad. Run 'gatekeeper explain pkg@1.1.0'",
    );
    // A version that does not exist is still "no matching version".
    expect(refusal(() => pickManifest(doc, '9.9.9')).code).toBe('ETARGET');
  });

  it('lets npm resolve a range to an allowed version, and refuses with the reasons only when a hidden one alone satisfies it', () => {
    const { packument: doc } = served(['1.0.0', '1.1.0', '2.0.0', '2.1.0'], { '1.1.0': 'EBANNED', '2.0.0': 'ENOTAPPROVED', '2.1.0': 'ENOTAPPROVED' });
    expect(pickManifest(doc, '^1.0.0').version).toBe('1.0.0');
    expect(pickManifest(doc, 'latest').version).toBe('1.0.0');
    const err = refusal(() => pickManifest(doc, '^2.0.0'));
    expect(err.code).toBe('E403');
    expect(err.message).toContain('2.1.0: [ENOTAPPROVED] pkg@2.1.0 is not approved.');
  });

  it(`names the newest ${RESTRICTED_NAMED} hidden versions and counts the rest`, () => {
    const versions = Array.from({ length: 8 }, (_, i) => `1.${i}.0`);
    const { restrictions } = served([...versions, '2.0.0'], Object.fromEntries(versions.map((v) => [v, 'EBANNED' as DecisionCode])));
    const lines = restrictions!.message.split('\n');
    expect(lines[0]).toBe("8 versions of pkg are hidden by this registry's policy:");
    expect(lines.slice(1, -1).map((l) => l.slice(0, l.indexOf(':')))).toEqual(['1.7.0', '1.6.0', '1.5.0', '1.4.0', '1.3.0']);
    expect(lines[lines.length - 1]).toBe("and 3 more: run 'gatekeeper explain pkg@<version>' for any of them");
    expect(Object.keys(restrictions!.versions)).toEqual(versions);
    expect(restrictions!.versions['1.0.0']).toEqual({ version: '1.0.0' });
  });

  it('keeps the message bounded whatever the reasons say', () => {
    const long = [hidden('pkg', '1.0.0', 'EBANNED', 'x'.repeat(10_000))];
    expect(policyRestrictions('pkg', long, describeDecision)!.message.length).toBeLessThanOrEqual(4000);
  });

  it('is carried into the abbreviated packument', () => {
    const { packument: doc, restrictions } = served(['1.0.0', '2.0.0'], { '1.0.0': 'EBANNED' });
    expect(abbreviatePackument(doc).policyRestrictions).toEqual(restrictions);
  });
});

describe('filterPackument validUntil', () => {
  it('is the earliest expiry among all decisions, or null when none expires', () => {
    const doc: Packument = { name: 'pkg', versions: { '1.0.0': {}, '1.1.0': {}, '2.0.0': {} } };
    const expiries: Record<string, number | null> = { '1.0.0': 5000, '1.1.0': null, '2.0.0': 3000 };
    const result = filterPackument(doc, (v) => ({ ...decision('pkg', v, 'ALLOWED'), validUntil: expiries[v] }));
    expect(result.validUntil).toBe(3000);
    const never = filterPackument(doc, (v) => ({ ...decision('pkg', v, 'ALLOWED'), validUntil: null }));
    expect(never.validUntil).toBeNull();
  });
});

/** Keys strict semver rejects, as express has them. */
const EXPRESS_LEGACY = ['1.0.0beta', '1.0.0beta2', '1.0.0rc', '1.0.0rc2', '1.0.0rc3', '1.0.0rc4', '2.0.0beta', '2.0.0rc', '2.0.0rc2', '3.0.0alpha1', '3.0.0beta7', '3.0.0rc5'];
const EXPRESS_STRICT = ['0.14.1', '1.0.0', '2.0.0', '3.0.0', '4.18.2', '4.19.0'];

describe('legacy version keys (express-like)', () => {
  const express = () => packument('express', [...EXPRESS_STRICT, ...EXPRESS_LEGACY], { latest: '4.19.0' });

  it('hiddenNotice and representativeDecision do not throw on legacy keys, and name the newest hidden version', () => {
    const hiddenOnes = [...EXPRESS_LEGACY, '0.14.1'].map((v) => hidden('express', v, 'ENOTAPPROVED'));
    const notice = hiddenNotice('express', hiddenOnes);
    expect(notice).toContain('13 versions of express hidden by policy (13 ENOTAPPROVED)');
    expect(notice).toContain("Run 'gatekeeper explain express@3.0.0rc5'");
    expect(representativeDecision(express(), hiddenOnes)?.version).toBe('3.0.0rc5');
    // Only legacy keys hidden: still fine.
    expect(hiddenNotice('express', [hidden('express', '1.0.0beta', 'EBANNED'), hidden('express', '1.0.0rc', 'EBANNED')])).toContain('express@1.0.0rc');
  });

  it('filterPackument hides legacy keys like any other, and repairs latest to a strict version', () => {
    const result = filterPackument(express(), (v) => decision('express', v, v === '4.19.0' || v.includes('rc') ? 'ENOTAPPROVED' : 'ALLOWED'));
    expect(result.hidden.map((h) => h.version).sort()).toEqual(['1.0.0rc', '1.0.0rc2', '1.0.0rc3', '1.0.0rc4', '2.0.0rc', '2.0.0rc2', '3.0.0rc5', '4.19.0']);
    expect(result.packument['dist-tags']).toEqual({ latest: '4.18.2' });
    expect(Object.keys(result.packument.versions ?? {})).toContain('1.0.0beta');
    expect(Object.keys(result.packument.time ?? {})).toContain('1.0.0beta');
    expect(Object.keys(result.packument.time ?? {})).not.toContain('1.0.0rc');
  });

  it('repairDistTags never picks a legacy prerelease for latest, prefers strict versions, and takes a legacy release only when nothing strict qualifies', () => {
    expect(repairDistTags({ latest: '4.19.0' }, [...EXPRESS_LEGACY, '0.14.1'])).toEqual({ latest: '0.14.1' });
    expect(repairDistTags({ latest: '4.19.0' }, EXPRESS_LEGACY)).toEqual({});
    expect(repairDistTags({ latest: '2.0' }, ['1.0', '1.5', '3.0', '1.0.0beta'])).toEqual({ latest: '1.5' });
    expect(repairDistTags({ latest: '2.0' }, ['1.0', '1.9.0'])).toEqual({ latest: '1.9.0' });
    // A legacy latest bounds the choice by its reading.
    expect(repairDistTags({ latest: '3.0.0rc5' }, ['2.0.0', '3.0.0', '2.0.0rc'])).toEqual({ latest: '2.0.0' });
  });

  it('repairDistTags ignores prototype tag names and non-string targets', () => {
    const tags = JSON.parse('{"__proto__": "1.0.0", "latest": "1.0.0", "next": 5}') as Record<string, string>;
    const repaired = repairDistTags(tags, ['1.0.0']);
    expect(Object.keys(repaired)).toEqual(['latest']);
    expect(Object.getPrototypeOf(repaired)).toBeNull();
  });

  it('filterPackument keeps a __proto__ version key as data, never as a prototype', () => {
    const doc = JSON.parse(
      '{"name":"p","dist-tags":{"latest":"1.0.0"},"versions":{"__proto__":{"polluted":true},"1.0.0":{"name":"p","version":"1.0.0"}},"time":{"__proto__":"x"}}',
    ) as Packument;
    const result = filterPackument(doc, (v) => decision('p', v, v === '1.0.0' ? 'ENOTAPPROVED' : 'ALLOWED'));
    const versions = result.packument.versions as Record<string, VersionManifest>;
    expect((versions as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.hasOwn(versions, '__proto__')).toBe(true);
    expect(versions.constructor).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe('dependencyNames (what an install asks for next, warmed ahead)', () => {
  const doc = (latest: Record<string, unknown>, extra: Record<string, unknown> = {}): Packument => ({
    name: 'root',
    'dist-tags': { latest: '2.0.0' },
    versions: { '1.0.0': { name: 'root', version: '1.0.0', dependencies: { old: '^1' } } as VersionManifest, '2.0.0': { name: 'root', version: '2.0.0', ...latest } as VersionManifest },
    ...extra,
  });

  it("names the latest version's dependencies, optional and peer dependencies, each once", () => {
    expect(dependencyNames(doc({ dependencies: { a: '^1', '@s/b': '~2' }, optionalDependencies: { c: '*', a: '^1' }, peerDependencies: { d: '>=1' }, devDependencies: { dev: '1' } }))).toEqual(['a', '@s/b', 'c', 'd']);
  });

  it("follows an alias to its target and leaves out what is not from the registry", () => {
    const names = dependencyNames(
      doc({
        dependencies: {
          alias: 'npm:target@^1',
          scopedAlias: 'npm:@scope/target@2',
          bare: 'npm:plain',
          git: 'git+https://example.test/x.git',
          url: 'https://example.test/x.tgz',
          file: 'file:../x',
          gh: 'user/repo',
          ws: 'workspace:*',
          notString: 1,
        },
      }),
    );
    expect(names).toEqual(['target', '@scope/target', 'plain']);
  });

  it('drops invalid names, the package itself, and stops at the limit', () => {
    expect(dependencyNames(doc({ dependencies: { 'Not Valid': '1', '../escape': '1', root: '1', ok: '1', ['x'.repeat(300)]: '1' } }))).toEqual(['ok']);
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`dep-${i}`, '1']));
    expect(dependencyNames(doc({ dependencies: many }), 10)).toHaveLength(10);
    expect(dependencyNames(doc({ dependencies: many }))).toHaveLength(WARM_AHEAD_MAX);
  });

  it('names nothing without a latest version, or when the dependencies are not an object', () => {
    expect(dependencyNames(doc({ dependencies: { a: '1' } }, { 'dist-tags': {} }))).toEqual([]);
    expect(dependencyNames(doc({ dependencies: { a: '1' } }, { 'dist-tags': { latest: '9.9.9' } }))).toEqual([]);
    expect(dependencyNames(doc({ dependencies: ['a'] }))).toEqual([]);
    expect(dependencyNames(doc({ dependencies: 'a' }))).toEqual([]);
    expect(dependencyNames({ name: 'x', 'dist-tags': { latest: '__proto__' }, versions: {} })).toEqual([]);
  });
});

import type { Advisory, PackageAdvisories } from '../../../src/core/advisory';
import {
  advisoryRule,
  DEFAULT_RULES,
  deprecatedRule,
  fixVersions,
  installScripts,
  isValidRange,
  manifestRule,
  Note,
  releaseAgeRule,
  RULE_MODES,
  ruleSettings,
  RuleSettings,
  scriptsRule,
  VersionContext,
  versionInstallScripts,
} from '../../../src/core/rules';
import type { TarballInspection } from '../../../src/core/inspection';

/** A fixed "now" so that no test depends on the real clock. */
const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const GHSA_A = 'GHSA-35jh-r3h4-6jhm';
const GHSA_B = 'GHSA-p6mc-m468-83gw';
const GHSA_C = 'GHSA-jf85-cpcp-j695';

function ctx(extra: Partial<VersionContext> = {}): VersionContext {
  return {
    name: 'foo',
    version: '1.0.0',
    manifest: { name: 'foo', version: '1.0.0' },
    publishedAt: undefined,
    versions: undefined,
    advisories: undefined,
    now: NOW,
    ...extra,
  };
}

function advisory(id: string, severity: Advisory['severity'], vulnerableVersions: string, extra: Partial<Advisory> = {}): Advisory {
  return {
    key: `ghsa:${id}`,
    name: 'foo',
    id,
    title: `title of ${id}`,
    url: `https://github.com/advisories/${id}`,
    severity,
    vulnerableVersions,
    fixedIn: [],
    source: 'upstream',
    ...extra,
  };
}

function known(advisories: Advisory[], status: PackageAdvisories['status'] = 'fresh'): PackageAdvisories {
  return { advisories, status };
}

const advisorySettings = (extra: Partial<RuleSettings['advisories']> = {}): RuleSettings['advisories'] => ({
  mode: 'enforce',
  severity: 'critical',
  unavailable: 'warn',
  ...extra,
});

const ageSettings = (extra: Partial<RuleSettings['releaseAge']> = {}): RuleSettings['releaseAge'] => ({
  mode: 'enforce',
  minimumMs: 3 * DAY,
  unknownAge: 'allow',
  ...extra,
});

describe('ruleSettings', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_RULES).toEqual({
      malware: { mode: 'enforce' },
      manifest: { mode: 'enforce' },
      license: { mode: 'enforce' },
      advisories: { mode: 'enforce', severity: 'critical', unavailable: 'warn' },
      releaseAge: { mode: 'enforce', minimumMs: 0, unknownAge: 'allow' },
      scripts: { mode: 'warn' },
      newPublisher: { mode: 'warn', previous: 5, publishers: [] },
      provenanceDowngrade: { mode: 'warn', publishers: [] },
      deprecated: { mode: 'off' },
    });
    expect(RULE_MODES).toEqual(['enforce', 'warn', 'off']);
  });

  it.each([undefined, null, {}])('gives the defaults for %p', (stored) => {
    expect(ruleSettings(stored)).toEqual(DEFAULT_RULES);
  });

  it('returns copies: changing the result leaves the defaults alone', () => {
    const settings = ruleSettings(undefined);
    settings.scripts.mode = 'enforce';
    settings.releaseAge.minimumMs = 5;
    expect(DEFAULT_RULES.scripts.mode).toBe('warn');
    expect(DEFAULT_RULES.releaseAge.minimumMs).toBe(0);
    expect(ruleSettings(undefined).scripts.mode).toBe('warn');
  });

  it('merges each rule key by key over its defaults', () => {
    const settings = ruleSettings({ releaseAge: { minimumMs: 3 * DAY }, advisories: { severity: 'high' } });
    expect(settings.releaseAge).toEqual({ mode: 'enforce', minimumMs: 3 * DAY, unknownAge: 'allow' });
    expect(settings.advisories).toEqual({ mode: 'enforce', severity: 'high', unavailable: 'warn' });
    expect(settings.license).toEqual(DEFAULT_RULES.license);
    expect(settings.scripts).toEqual(DEFAULT_RULES.scripts);
    expect(settings.deprecated).toEqual(DEFAULT_RULES.deprecated);
  });

  it('takes every stored value', () => {
    const stored: RuleSettings = {
      malware: { mode: 'warn' },
      newPublisher: { mode: 'enforce', previous: 3, publishers: ['ci-bot'] },
      provenanceDowngrade: { mode: 'off', publishers: [] },
      manifest: { mode: 'off' },
      license: { mode: 'warn' },
      advisories: { mode: 'off', severity: 'low', unavailable: 'block' },
      releaseAge: { mode: 'warn', minimumMs: DAY, unknownAge: 'block' },
      scripts: { mode: 'enforce' },
      deprecated: { mode: 'enforce' },
    };
    expect(ruleSettings(stored)).toEqual(stored);
  });

  it('keeps only the rules of the table', () => {
    expect(Object.keys(ruleSettings({ bogus: { mode: 'enforce' } })).sort()).toEqual(['advisories', 'deprecated', 'license', 'malware', 'manifest', 'newPublisher', 'provenanceDowngrade', 'releaseAge', 'scripts']);
  });

  it('treats a null rule entry as missing', () => {
    expect(ruleSettings({ scripts: null }).scripts).toEqual({ mode: 'warn' });
  });
});

describe('advisoryRule', () => {
  it('does nothing when advisories were not looked up', () => {
    const notes: Note[] = [];
    expect(advisoryRule(advisorySettings(), ctx(), notes)).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it('does nothing for a fresh package without advisories', () => {
    const notes: Note[] = [];
    expect(advisoryRule(advisorySettings(), ctx({ advisories: known([]) }), notes)).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it("quotes an advisory's title on one line, cleaned, at most 200 characters", () => {
    const a = { ...advisory(GHSA_A, 'critical', '*'), title: `\u001b]0;pwned\u0007Bad\r\nnpm error 403 Injected ${'Z'.repeat(3000)}` };
    const reason = advisoryRule(advisorySettings(), ctx({ advisories: known([a]) }), [])?.reason ?? '';
    expect(reason).toMatch(new RegExp(`^foo@1\\.0\\.0: ${GHSA_A} \\(critical\\) Bad npm error 403 Injected Z+…, no fixed version yet$`));
    expect(reason.length).toBeLessThan(`foo@1.0.0: ${GHSA_A} (critical) , no fixed version yet`.length + 201);
  });

  it('blocks a version affected by an advisory at the threshold, naming the fixed version', () => {
    const a = advisory(GHSA_A, 'critical', '<1.0.1');
    const notes: Note[] = [];
    const denial = advisoryRule(advisorySettings(), ctx({ advisories: known([a]), versions: ['0.9.0', '1.0.0', '1.0.1', '1.1.0'] }), notes);
    expect(denial).toEqual({
      code: 'EADVISORY',
      ruleId: `advisory:${GHSA_A}`,
      reason: `foo@1.0.0: ${GHSA_A} (critical) title of ${GHSA_A}, fixed in 1.0.1`,
      // The status text's form: the fix before the title.
      brief: `foo@1.0.0: ${GHSA_A} (critical), fixed in 1.0.1: title of ${GHSA_A}`,
      details: { advisories: [{ id: GHSA_A, severity: 'critical', url: `https://github.com/advisories/${GHSA_A}`, vulnerableVersions: '<1.0.1' }] },
    });
    expect(notes).toEqual([]);
  });

  it('uses the explicit fixedIn of the advisory for the "fixed in" text', () => {
    const a = advisory(GHSA_A, 'critical', '<1.0.5', { fixedIn: ['1.0.5'] });
    const denial = advisoryRule(advisorySettings(), ctx({ advisories: known([a]), versions: ['1.0.0', '1.1.0'] }), []);
    expect(denial?.reason).toContain('fixed in 1.0.5');
  });

  it('says so when no fixed version exists yet', () => {
    const a = advisory(GHSA_A, 'critical', '>=0.1.0');
    const denial = advisoryRule(advisorySettings(), ctx({ advisories: known([a]), versions: ['0.1.0', '1.0.0'] }), []);
    expect(denial?.reason).toBe(`foo@1.0.0: ${GHSA_A} (critical) title of ${GHSA_A}, no fixed version yet`);
  });

  it('treats missing versions as "no fixed version yet"', () => {
    const denial = advisoryRule(advisorySettings(), ctx({ advisories: known([advisory(GHSA_A, 'critical', '<2')]) }), []);
    expect(denial?.reason).toContain('no fixed version yet');
  });

  it('does not repeat the id as the title', () => {
    const a = advisory(GHSA_A, 'critical', '*', { title: GHSA_A });
    expect(advisoryRule(advisorySettings(), ctx({ advisories: known([a]) }), [])?.reason).toBe(`foo@1.0.0: ${GHSA_A} (critical), no fixed version yet`);
  });

  it('ignores advisories that do not affect the version', () => {
    const notes: Note[] = [];
    const a = advisory(GHSA_A, 'critical', '<1.0.0');
    expect(advisoryRule(advisorySettings(), ctx({ advisories: known([a]) }), notes)).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it('notes, but does not block, an affecting advisory below the threshold', () => {
    const notes: Note[] = [];
    const a = advisory(GHSA_A, 'high', '*');
    expect(advisoryRule(advisorySettings({ severity: 'critical' }), ctx({ advisories: known([a]) }), notes)).toBeUndefined();
    expect(notes).toEqual([{ rule: 'advisories', ruleId: GHSA_A, reason: `foo@1.0.0: ${GHSA_A} (high) is below the critical threshold` }]);
  });

  it('applies the configured threshold', () => {
    const high = advisory(GHSA_A, 'high', '*');
    const moderate = advisory(GHSA_B, 'moderate', '*');
    const notes: Note[] = [];
    const denial = advisoryRule(advisorySettings({ severity: 'high' }), ctx({ advisories: known([moderate, high]) }), notes);
    expect(denial?.ruleId).toBe(`advisory:${GHSA_A}`);
    expect(denial?.reason).not.toContain('more');
    expect(denial?.details).toEqual({ advisories: [expect.objectContaining({ id: GHSA_A })] });
    expect(notes.map((n) => n.ruleId)).toEqual([GHSA_B]);
  });

  it('names the worst advisory and counts the others', () => {
    const advisories = [advisory(GHSA_A, 'moderate', '*'), advisory(GHSA_B, 'critical', '*'), advisory(GHSA_C, 'high', '*')];
    const denial = advisoryRule(advisorySettings({ severity: 'low' }), ctx({ advisories: known(advisories) }), []);
    expect(denial?.ruleId).toBe(`advisory:${GHSA_B}`);
    expect(denial?.reason).toMatch(new RegExp(`^foo@1\\.0\\.0: ${GHSA_B} \\(critical\\) .* and 2 more$`));
    expect((denial?.details?.advisories as Array<{ id: string }>).map((a) => a.id)).toEqual([GHSA_A, GHSA_B, GHSA_C]);
  });

  it('blocks an unchecked package when the policy blocks unavailable advisories', () => {
    const notes: Note[] = [];
    const denial = advisoryRule(advisorySettings({ unavailable: 'block' }), ctx({ advisories: known([], 'unchecked') }), notes);
    expect(denial).toEqual({
      code: 'EADVISORY',
      ruleId: 'advisory:unchecked',
      reason: 'foo@1.0.0: its advisories could not be checked (the advisory source is unreachable), and the policy blocks unchecked packages',
    });
    expect(notes).toEqual([]);
  });

  it('reports a known advisory rather than the unchecked state', () => {
    const denial = advisoryRule(
      advisorySettings({ unavailable: 'block' }),
      ctx({ advisories: known([advisory(GHSA_A, 'critical', '*')], 'unchecked') }),
      [],
    );
    expect(denial?.ruleId).toBe(`advisory:${GHSA_A}`);
  });

  const sourceNote: Note = {
    rule: 'advisories',
    ruleId: 'source',
    reason: 'advisories for foo could not be checked recently (the advisory source is unreachable); decided with what is known',
    notice: true,
  };

  it('lets an unchecked package through with a notice when unavailable is warn', () => {
    const notes: Note[] = [];
    expect(advisoryRule(advisorySettings({ unavailable: 'warn' }), ctx({ advisories: known([], 'unchecked') }), notes)).toBeUndefined();
    expect(notes).toEqual([sourceNote]);
  });

  it.each<RuleSettings['advisories']['unavailable']>(['warn', 'block'])('lets a stale package through with a notice (unavailable: %s)', (unavailable) => {
    const notes: Note[] = [];
    expect(advisoryRule(advisorySettings({ unavailable }), ctx({ advisories: known([], 'stale') }), notes)).toBeUndefined();
    expect(notes).toEqual([sourceNote]);
  });

  it('adds the notice after the below-threshold notes', () => {
    const notes: Note[] = [];
    advisoryRule(advisorySettings(), ctx({ advisories: known([advisory(GHSA_A, 'low', '*')], 'stale') }), notes);
    expect(notes.map((n) => [n.ruleId, n.notice ?? false])).toEqual([
      [GHSA_A, false],
      ['source', true],
    ]);
  });
});

describe('fixVersions', () => {
  it('maps each advisory first fix to the advisory id', () => {
    const fixes = fixVersions([advisory(GHSA_A, 'high', '<1.0.1'), advisory(GHSA_B, 'low', '*', { fixedIn: ['2.0.0'] }), advisory(GHSA_C, 'low', '>=0.0.0')], ['1.0.0', '1.0.1', '1.1.0']);
    expect([...fixes.entries()]).toEqual([
      ['1.0.1', GHSA_A],
      ['2.0.0', GHSA_B],
    ]);
  });
});

describe('releaseAgeRule', () => {
  function run(settings: RuleSettings['releaseAge'], c: VersionContext, exempt?: string) {
    const notes: Note[] = [];
    const until: number[] = [];
    const denial = releaseAgeRule(settings, c, exempt, notes, (at) => until.push(at));
    return { denial, notes, until };
  }

  it('is off when the minimum is 0', () => {
    const r = run(ageSettings({ minimumMs: 0 }), ctx({ publishedAt: new Date(NOW - 1000).toISOString() }));
    expect(r).toEqual({ denial: undefined, notes: [], until: [] });
  });

  it('does not apply when there is no packument (publishedAt undefined)', () => {
    const r = run(ageSettings({ unknownAge: 'block' }), ctx({ publishedAt: undefined }));
    expect(r).toEqual({ denial: undefined, notes: [], until: [] });
  });

  it('denies a young version and depends on the moment it becomes installable', () => {
    const publishedAt = NOW - 5 * HOUR;
    const installableAt = publishedAt + 3 * DAY;
    const r = run(ageSettings(), ctx({ publishedAt: new Date(publishedAt).toISOString() }));
    expect(r.denial).toEqual({
      code: 'EQUARANTINED',
      ruleId: 'release-age',
      reason: `foo@1.0.0 was published ${new Date(publishedAt).toISOString().slice(0, 19)}Z; new versions install after 3 days, so it is installable after ${new Date(installableAt).toISOString().slice(0, 19)}Z`,
      brief: `foo@1.0.0 is installable after ${new Date(installableAt).toISOString().slice(0, 19)}Z`,
      details: { publishedAt: new Date(publishedAt).toISOString(), installableAt: new Date(installableAt).toISOString() },
    });
    expect(r.until).toEqual([installableAt]);
    expect(r.notes).toEqual([]);
  });

  it('allows a version exactly the minimum old, and denies it one millisecond earlier', () => {
    const publishedAt = new Date(NOW - 3 * DAY).toISOString();
    expect(run(ageSettings(), ctx({ publishedAt }))).toEqual({ denial: undefined, notes: [], until: [] });
    const early = run(ageSettings(), ctx({ publishedAt, now: NOW - 1 }));
    expect(early.denial?.code).toBe('EQUARANTINED');
    expect(early.until).toEqual([NOW]);
  });

  it('allows an old version', () => {
    expect(run(ageSettings(), ctx({ publishedAt: '2020-01-01T00:00:00.000Z' })).denial).toBeUndefined();
  });

  it('says the same while the decision is cached: absolute publish and installable times, no age', () => {
    const publishedAt = '2026-12-01T08:22:05.123Z';
    const at = (now: number) => run(ageSettings(), ctx({ publishedAt, now })).denial?.reason;
    const first = at(Date.parse(publishedAt) + 5 * 60_000);
    expect(first).toBe('foo@1.0.0 was published 2026-12-01T08:22:05Z; new versions install after 3 days, so it is installable after 2026-12-04T08:22:05Z');
    expect(at(Date.parse(publishedAt) + 2 * DAY)).toBe(first);
  });

  it('names the times as they are for a publish time in the future', () => {
    const r = run(ageSettings(), ctx({ publishedAt: new Date(NOW + HOUR).toISOString() }));
    expect(r.denial?.reason).toBe(`foo@1.0.0 was published ${new Date(NOW + HOUR).toISOString().slice(0, 19)}Z; new versions install after 3 days, so it is installable after ${new Date(NOW + HOUR + 3 * DAY).toISOString().slice(0, 19)}Z`);
    expect(r.until).toEqual([NOW + HOUR + 3 * DAY]);
  });

  it('lets an exempt version through with a note, without depending on time', () => {
    const r = run(ageSettings(), ctx({ publishedAt: new Date(NOW - HOUR).toISOString() }), 'exemption:4');
    expect(r.denial).toBeUndefined();
    expect(r.until).toEqual([]);
    expect(r.notes).toEqual([{ rule: 'release-age', ruleId: 'exemption:4', reason: 'foo@1.0.0 is exempt from the minimum release age' }]);
  });

  it('lets the fix of a known advisory skip the age gate (explicit fix)', () => {
    const a = advisory(GHSA_A, 'low', '<1.0.0', { fixedIn: ['1.0.0'] });
    const r = run(ageSettings(), ctx({ publishedAt: new Date(NOW - HOUR).toISOString(), advisories: known([a]), versions: ['0.9.0', '1.0.0'] }));
    expect(r.denial).toBeUndefined();
    expect(r.until).toEqual([]);
    expect(r.notes).toEqual([{ rule: 'release-age', ruleId: `fix:${GHSA_A}`, reason: `foo@1.0.0 fixes ${GHSA_A}, so it skips the minimum release age` }]);
  });

  it('gives no fast path for a malware entry, nor a withdrawn or overridden advisory: the version after them waits its age', () => {
    const entries = [
      advisory(GHSA_A, 'critical', '1.0.1', { malware: true }),
      advisory(GHSA_B, 'high', '<1.0.2', { fixedIn: ['1.0.2'], withdrawnAt: new Date(NOW - DAY).toISOString() }),
      advisory(GHSA_C, 'high', '<1.0.2', { fixedIn: ['1.0.2'], overridden: { by: 'admin', reason: 'a false positive', at: new Date(NOW - DAY).toISOString() } }),
    ];
    for (const a of entries) {
      const r = run(ageSettings(), ctx({ version: '1.0.2', publishedAt: new Date(NOW - HOUR).toISOString(), advisories: known([a]), versions: ['1.0.0', '1.0.1', '1.0.2'] }));
      expect([a.id, r.denial?.code]).toEqual([a.id, 'EQUARANTINED']);
    }
    // A withdrawal still ahead leaves the advisory in force until then.
    const later = advisory(GHSA_B, 'high', '<1.0.2', { fixedIn: ['1.0.2'], withdrawnAt: new Date(NOW + DAY).toISOString() });
    expect(run(ageSettings(), ctx({ version: '1.0.2', publishedAt: new Date(NOW - HOUR).toISOString(), advisories: known([later]), versions: ['1.0.0', '1.0.1', '1.0.2'] })).denial).toBeUndefined();
  });

  it('lets the implied fix (first unaffected version above the affected ones) skip the age gate', () => {
    const a = advisory(GHSA_A, 'low', '<1.0.0');
    const r = run(ageSettings(), ctx({ publishedAt: new Date(NOW - HOUR).toISOString(), advisories: known([a]), versions: ['0.9.0', '1.0.0', '1.0.1'] }));
    expect(r.denial).toBeUndefined();
    expect(r.notes[0].ruleId).toBe(`fix:${GHSA_A}`);
  });

  it('does not let a later version ride on the fix', () => {
    const a = advisory(GHSA_A, 'low', '<1.0.0');
    const r = run(
      ageSettings(),
      ctx({ version: '1.0.1', publishedAt: new Date(NOW - HOUR).toISOString(), advisories: known([a]), versions: ['0.9.0', '1.0.0', '1.0.1'] }),
    );
    expect(r.denial?.code).toBe('EQUARANTINED');
  });

  it.each([null, 'not a date'])('allows an unknown age (%p) with a note when unknownAge is allow', (publishedAt) => {
    const r = run(ageSettings({ unknownAge: 'allow' }), ctx({ publishedAt }));
    expect(r.denial).toBeUndefined();
    expect(r.until).toEqual([]);
    expect(r.notes).toEqual([{ rule: 'release-age', ruleId: 'unknown', reason: 'foo@1.0.0 has no publish time; unknown ages are allowed' }]);
  });

  it.each([null, 'not a date'])('blocks an unknown age (%p) when unknownAge is block', (publishedAt) => {
    const r = run(ageSettings({ unknownAge: 'block' }), ctx({ publishedAt }));
    expect(r.denial).toEqual({
      code: 'EQUARANTINED',
      ruleId: 'release-age:unknown',
      reason: 'foo@1.0.0 has no publish time, so its age is unknown; new versions install after 3 days and unknown ages are blocked',
      brief: 'foo@1.0.0 has no publish time, and versions of unknown age are blocked',
    });
    expect(r.until).toEqual([]);
    expect(r.notes).toEqual([]);
  });
});

describe('installScripts', () => {
  it("counts bundled dependencies as install scripts (theirs run from inside the tarball), from either manifest and either spelling", () => {
    expect(versionInstallScripts({ manifest: { bundleDependencies: ['a', 'b'] } })).toEqual(['whatever its bundled dependencies run (a, b)']);
    expect(versionInstallScripts({ manifest: { dependencies: { x: '1', y: '2' }, bundledDependencies: true } })).toEqual(['whatever its bundled dependencies run (x, y)']);
    const inspection = { manifest: { bundleDependencies: ['hidden'] }, hasBindingGyp: false } as unknown as TarballInspection;
    expect(versionInstallScripts({ manifest: {}, inspection })).toEqual(['whatever its bundled dependencies run (hidden)']);
    expect(versionInstallScripts({ manifest: { bundleDependencies: [], bundledDependencies: false } })).toEqual([]);
  });

  it('finds nothing without a manifest or scripts', () => {
    expect(installScripts(undefined)).toEqual([]);
    expect(installScripts({})).toEqual([]);
    expect(installScripts({ scripts: { test: 'jest', prepare: 'tsc', build: 'tsc', prepublishOnly: 'x' } })).toEqual([]);
  });

  it('lists preinstall, install and postinstall in that order', () => {
    expect(installScripts({ scripts: { postinstall: 'node post.js', test: 'jest', install: 'node install.js', preinstall: 'node pre.js' } })).toEqual([
      'preinstall: node pre.js',
      'install: node install.js',
      'postinstall: node post.js',
    ]);
  });

  it('ignores non-string script entries', () => {
    expect(installScripts({ scripts: { postinstall: true, install: 42 } })).toEqual([]);
  });

  it('treats gypfile as node-gyp rebuild', () => {
    expect(installScripts({ gypfile: true })).toEqual(['install: node-gyp rebuild (binding.gyp)']);
    expect(installScripts({ gypfile: 'true' })).toEqual([]);
  });

  it('lists an explicit script instead of the gypfile fallback', () => {
    expect(installScripts({ gypfile: true, scripts: { install: 'prebuild-install || node-gyp rebuild' } })).toEqual(['install: prebuild-install || node-gyp rebuild']);
  });

  it('recognises the abbreviated hasInstallScript flag', () => {
    expect(installScripts({ hasInstallScript: true })).toEqual(['an install script (hasInstallScript)']);
    expect(installScripts({ hasInstallScript: false })).toEqual([]);
  });
});

describe('installScripts with a binding.gyp, and versionInstallScripts', () => {
  const inspected = (manifest: Record<string, unknown>, hasBindingGyp = false) => ({
    name: 'foo',
    version: '1.0.0',
    manifest,
    hasBindingGyp,
    mismatches: [],
    integrity: 'sha512-AAAA',
    inspectedAt: new Date(NOW),
  });

  it('adds node-gyp rebuild for a binding.gyp unless install/preinstall is set or gypfile is false (as npm does)', () => {
    expect(installScripts({}, true)).toEqual(['install: node-gyp rebuild (binding.gyp)']);
    expect(installScripts({ scripts: { postinstall: 'x' } }, true)).toEqual(['postinstall: x', 'install: node-gyp rebuild (binding.gyp)']);
    expect(installScripts({ scripts: { preinstall: 'y' } }, true)).toEqual(['preinstall: y']);
    expect(installScripts({ gypfile: false }, true)).toEqual([]);
  });

  it('ignores inherited and malformed scripts', () => {
    expect(installScripts(JSON.parse('{"scripts":{"__proto__":{"install":"x"}}}'))).toEqual([]);
    expect(installScripts({ scripts: 'postinstall' })).toEqual([]);
    expect(installScripts({ scripts: null })).toEqual([]);
  });

  it('is the registry manifest alone without an inspection', () => {
    expect(versionInstallScripts({ manifest: { scripts: { install: 'a' } } })).toEqual(['install: a']);
  });

  it("adds what only the tarball declares, marked, and lists shared ones once", () => {
    expect(
      versionInstallScripts({ manifest: { scripts: { install: 'a' } }, inspection: inspected({ scripts: { install: 'a', postinstall: 'b' } }, true) }),
    ).toEqual(['install: a', "postinstall: b (only in the tarball's package.json)"]);
    expect(versionInstallScripts({ manifest: {}, inspection: inspected({}, true) })).toEqual([
      "install: node-gyp rebuild (binding.gyp) (only in the tarball's package.json)",
    ]);
  });
});

describe('manifestRule', () => {
  const withMismatches = (mismatches: TarballInspection['mismatches']): VersionContext =>
    ctx({ inspection: { name: 'foo', version: '1.0.0', manifest: {}, hasBindingGyp: false, mismatches, integrity: 'sha1-x', inspectedAt: new Date(NOW) } });

  it('does not apply without an inspection', () => {
    expect(manifestRule(ctx())).toBeUndefined();
  });

  it('fires on name, version and installScripts mismatches only', () => {
    expect(manifestRule(withMismatches([{ field: 'license', declared: 'MIT', actual: 'GPL-3.0' }]))).toBeUndefined();
    expect(manifestRule(withMismatches([{ field: 'dependencies', declared: {}, actual: { x: '1' } }]))).toBeUndefined();
    for (const field of ['name', 'version', 'installScripts'] as const) {
      const denial = manifestRule(withMismatches([{ field, declared: 'a', actual: 'b' }]));
      expect(denial).toMatchObject({ code: 'EMANIFESTMISMATCH', ruleId: 'manifest' });
    }
  });

  it('shows values as JSON, and absent values as nothing', () => {
    const denial = manifestRule(withMismatches([{ field: 'installScripts', declared: undefined, actual: { install: 'x' } }]));
    expect(denial?.reason).toBe(
      `foo@1.0.0: its tarball's package.json differs from the registry's manifest (install scripts: the registry says nothing, the tarball's package.json says {"install":"x"}). npm would act on the tarball's package.json, not on what the registry shows`,
    );
    expect(denial?.brief).toBe("foo@1.0.0: install script added in the tarball's package.json");
  });
});

describe('scriptsRule', () => {
  it('does nothing for a version without install scripts', () => {
    const notes: Note[] = [];
    expect(scriptsRule(ctx({ manifest: { scripts: { test: 'jest' } } }), undefined, notes)).toBeUndefined();
    expect(scriptsRule(ctx({ manifest: undefined }), undefined, notes)).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it('blocks a version with install scripts', () => {
    const notes: Note[] = [];
    const denial = scriptsRule(ctx({ manifest: { scripts: { preinstall: 'a', postinstall: 'b' } } }), undefined, notes);
    expect(denial).toEqual({
      code: 'EINSTALLSCRIPTS',
      ruleId: 'scripts',
      reason: 'foo@1.0.0 runs install scripts (preinstall: a; postinstall: b)',
      brief: 'foo@1.0.0 runs install scripts (preinstall, postinstall): preinstall: a; postinstall: b',
      details: { scripts: ['preinstall: a', 'postinstall: b'] },
    });
    expect(notes).toEqual([]);
  });

  it.each([
    ['gypfile', { gypfile: true }, 'install: node-gyp rebuild (binding.gyp)'],
    ['hasInstallScript', { hasInstallScript: true }, 'an install script (hasInstallScript)'],
    ['install', { scripts: { install: 'node-gyp rebuild' } }, 'install: node-gyp rebuild'],
  ])('blocks a version with %s', (_what, manifest, script) => {
    const denial = scriptsRule(ctx({ manifest }), undefined, []);
    expect(denial?.code).toBe('EINSTALLSCRIPTS');
    expect(denial?.details).toEqual({ scripts: [script] });
  });

  it('lets a version through that an approval allows to run scripts, with a note', () => {
    const notes: Note[] = [];
    expect(scriptsRule(ctx({ manifest: { scripts: { postinstall: 'node post.js' } } }), 'approval:7', notes)).toBeUndefined();
    expect(notes).toEqual([{ rule: 'scripts', ruleId: 'approval:7', reason: 'foo@1.0.0 runs postinstall: node post.js; approved for scripts' }]);
  });

  it('adds no note for an allowed version without scripts', () => {
    const notes: Note[] = [];
    expect(scriptsRule(ctx({ manifest: {} }), 'approval:7', notes)).toBeUndefined();
    expect(notes).toEqual([]);
  });
});

describe('deprecatedRule', () => {
  it('blocks a deprecated version with its message', () => {
    expect(deprecatedRule(ctx({ manifest: { deprecated: 'use bar instead' } }))).toEqual({
      code: 'EDEPRECATED',
      ruleId: 'deprecated',
      reason: 'foo@1.0.0 is deprecated: use bar instead',
    });
  });

  it("quotes the author's text on one line, without control characters, separators or bidi controls, and at most 200 characters", () => {
    const hostile = '\u001b[31mRED\u001b[0m\u0000NUL\r\nInjected: header\u2028line\u2029para\u202eevil\u2066';
    expect(deprecatedRule(ctx({ manifest: { deprecated: hostile } }))?.reason).toBe('foo@1.0.0 is deprecated: RED NUL Injected: header line paraevil');
    const reason = deprecatedRule(ctx({ manifest: { deprecated: 'Z'.repeat(3000) } }))?.reason ?? '';
    expect(reason).toBe(`foo@1.0.0 is deprecated: ${'Z'.repeat(199)}…`);
  });

  it.each([
    ['no manifest', undefined],
    ['no deprecated field', {}],
    ['an empty message (npm un-deprecates with "")', { deprecated: '' }],
    ['a non-string value', { deprecated: true }],
  ])('does nothing for %s', (_what, manifest) => {
    expect(deprecatedRule(ctx({ manifest }))).toBeUndefined();
  });
});

describe('isValidRange', () => {
  it('accepts semver ranges and refuses the rest', () => {
    expect(isValidRange('^1.2.3')).toBe(true);
    expect(isValidRange('>=1 <2 || 3.x')).toBe(true);
    expect(isValidRange('*')).toBe(true);
    expect(isValidRange('not a range!!')).toBe(false);
    expect(isValidRange('git+https://github.com/a/b.git')).toBe(false);
  });
});

describe('fixVersions across release lines', () => {
  it('lets every named fix skip the age gate, not only the lowest', () => {
    const fixes = fixVersions(
      [{ key: 'osv:X', name: 'm', id: 'GHSA-aaaa-bbbb-cccc', title: 't', url: null, severity: 'high', vulnerableVersions: '<1.2.5 || >=2.0.0 <2.0.3', fixedIn: ['1.2.5', '2.0.3'], source: 'osv' }],
      ['1.2.4', '1.2.5', '2.0.2', '2.0.3'],
    );
    expect([...fixes.keys()].sort()).toEqual(['1.2.5', '2.0.3']);
  });
});

describe('legacy version keys in the rules (express-like)', () => {
  it('isValidRange accepts an exact legacy version', () => {
    expect(isValidRange('1.0.0beta')).toBe(true);
    expect(isValidRange('^1.0.0beta')).toBe(false);
  });

  it('fixVersions tolerates legacy keys and never names one as a fix', () => {
    const versions = ['0.9.0', '1.0.0beta', '1.0.0rc', '1.0.0', '2.0.0rc'];
    const fixes = fixVersions([advisory(GHSA_A, 'high', '<1.0.0'), advisory(GHSA_B, 'low', '*', { fixedIn: ['2.0.0rc', '2.0.0'] })], versions);
    expect([...fixes.entries()]).toEqual([
      ['1.0.0', GHSA_A],
      ['2.0.0', GHSA_B],
    ]);
  });

  it('advisoryRule on a legacy key: only an advisory for every version applies, and its fix is found without throwing', () => {
    const notes: Note[] = [];
    const versions = ['1.0.0beta', '1.0.0', '1.0.1'];
    expect(advisoryRule(advisorySettings(), ctx({ version: '1.0.0beta', versions, advisories: known([advisory(GHSA_A, 'critical', '<1.0.1')]) }), notes)).toBeUndefined();
    const denial = advisoryRule(advisorySettings(), ctx({ version: '1.0.0beta', versions, advisories: known([advisory(GHSA_A, 'critical', '*', { fixedIn: ['1.0.1'] })]) }), notes);
    expect(denial?.reason).toBe(`foo@1.0.0beta: ${GHSA_A} (critical) title of ${GHSA_A}, fixed in 1.0.1`);
  });

  it('releaseAgeRule quarantines a young legacy key', () => {
    const denial = releaseAgeRule(ageSettings(), ctx({ version: '2.0.0rc', publishedAt: new Date(NOW - HOUR).toISOString(), versions: ['2.0.0rc', '2.0.0'] }), undefined, [], () => undefined);
    expect(denial?.code).toBe('EQUARANTINED');
  });
});

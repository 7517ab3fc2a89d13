import semver from 'semver';
import { versionKeys, type Advisory, type PackageAdvisories } from '../../../src/core/advisory';
import type { ManifestMismatch, TarballInspection } from '../../../src/core/inspection';
import { Approval, Ban, blockMessage, compilePolicy, nextStep, Decision, evaluate, EvaluationInput, Exemption, PolicySnapshot, RuleMatch, Waiver } from '../../../src/core/policy';

/** A fixed "now" so that no test depends on the real clock. */
const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const GHSA = 'GHSA-35jh-r3h4-6jhm';

function approval(id: string, pattern: string, range: string, extra: Partial<Approval> = {}): Approval {
  return { id, pattern, range, reason: `reason ${id}`, approvedBy: 'alice', createdAt: new Date(NOW - DAY), expiresAt: null, ...extra };
}

function ban(id: string, name: string, range: string): Ban {
  return { id, name, range, reason: `ban reason ${id}`, advisoryUrl: null, bannedBy: 'bob', createdAt: new Date(NOW - DAY) };
}

function waiver(id: string, name: string, range: string, expiresAt: Date | null = null): Waiver {
  return { id, name, range, reason: `waiver ${id}`, approvedBy: 'carol', createdAt: new Date(NOW - DAY), expiresAt };
}

function exemption(id: string, pattern: string, range = '*'): Exemption {
  return { id, rule: 'release-age', pattern, range, reason: `exempt ${id}`, createdBy: 'dave', createdAt: new Date(NOW - DAY) };
}

function critical(vulnerableVersions = '*', extra: Partial<Advisory> = {}): Advisory {
  return {
    key: `ghsa:${GHSA}`,
    name: 'foo',
    id: GHSA,
    title: 'Remote code execution',
    url: `https://github.com/advisories/${GHSA}`,
    severity: 'critical',
    vulnerableVersions,
    fixedIn: [],
    source: 'upstream',
    ...extra,
  };
}

function known(advisories: Advisory[], status: PackageAdvisories['status'] = 'fresh'): PackageAdvisories {
  return { advisories, status };
}

function snapshot(extra: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return { generation: 1, mode: 'open', approvals: [], bans: [], publishRules: [], ...extra };
}

function decide(snap: PolicySnapshot, extra: Partial<EvaluationInput> = {}): Decision {
  const name = extra.name ?? 'foo';
  const version = extra.version ?? '1.0.0';
  return evaluate(compilePolicy(snap), { name, version, manifest: { name, version }, now: NOW, ...extra });
}

const MIT_ONLY = { allow: ['MIT'] };
const GPL = { name: 'foo', version: '1.0.0', license: 'GPL-3.0-only' };
const POSTINSTALL = { name: 'foo', version: '1.0.0', license: 'MIT', scripts: { postinstall: 'node steal.js' } };
const YOUNG = new Date(NOW - HOUR).toISOString();

/** What reading foo@1.0.0's tarball found: its package.json, a binding.gyp, and the differences. */
function inspection(manifest: Record<string, unknown> = { name: 'foo', version: '1.0.0' }, mismatches: ManifestMismatch[] = [], hasBindingGyp = false): TarballInspection {
  return { name: 'foo', version: '1.0.0', manifest, hasBindingGyp, mismatches, integrity: 'sha512-AAAA', inspectedAt: new Date(NOW - HOUR) };
}
const NAME_MISMATCH: ManifestMismatch = { field: 'name', declared: 'foo', actual: 'evil' };

type Case = {
  rule: string;
  code: Decision['code'];
  ruleId: string;
  /** Rules settings with the rule in the given mode. */
  rules: (mode: string) => Record<string, unknown>;
  snap?: Partial<PolicySnapshot>;
  input: Partial<EvaluationInput>;
};

/** One input per rule that the rule objects to (and no other rule does). */
const CASES: Case[] = [
  {
    rule: 'manifest',
    code: 'EMANIFESTMISMATCH',
    ruleId: 'manifest',
    rules: (mode) => ({ manifest: { mode } }),
    input: { inspection: inspection({ name: 'evil', version: '1.0.0' }, [NAME_MISMATCH]) },
  },
  {
    rule: 'advisories',
    code: 'EADVISORY',
    ruleId: `advisory:${GHSA}`,
    rules: (mode) => ({ advisories: { mode } }),
    input: { advisories: known([critical()]) },
  },
  {
    rule: 'license',
    code: 'ELICENSE',
    ruleId: 'license:policy',
    rules: (mode) => ({ license: { mode } }),
    snap: { license: MIT_ONLY },
    input: { manifest: GPL },
  },
  {
    rule: 'release-age',
    code: 'EQUARANTINED',
    ruleId: 'release-age',
    rules: (mode) => ({ releaseAge: { mode, minimumMs: 3 * DAY } }),
    input: { publishedAt: YOUNG },
  },
  {
    rule: 'scripts',
    code: 'EINSTALLSCRIPTS',
    ruleId: 'scripts',
    rules: (mode) => ({ scripts: { mode } }),
    input: { manifest: POSTINSTALL },
  },
  {
    rule: 'deprecated',
    code: 'EDEPRECATED',
    ruleId: 'deprecated',
    rules: (mode) => ({ deprecated: { mode } }),
    input: { manifest: { name: 'foo', version: '1.0.0', deprecated: 'use bar' } },
  },
];

describe.each(CASES)('the $rule rule', ({ rule, code, ruleId, rules, snap, input }) => {
  it(`denies with ${code} in enforce mode`, () => {
    const d = decide(snapshot({ ...snap, rules: rules('enforce') }), input);
    expect(d.allowed).toBe(false);
    expect(d.code).toBe(code);
    expect(d.ruleId).toBe(ruleId);
    expect(d.reason).toMatch(/^foo@1\.0\.0/);
    const match = d.matches.find((m) => m.rule === rule && m.effect === 'deny');
    expect(match).toMatchObject({ rule, ruleId, effect: 'deny', code, reason: d.reason });
    expect(d.warnings).toEqual([]);
    // The decision stops at the denial: open mode never gets a say.
    expect(d.matches.some((m) => m.rule === 'mode')).toBe(false);
  });

  it('allows with a warning in warn mode', () => {
    const d = decide(snapshot({ ...snap, rules: rules('warn') }), input);
    expect(d.allowed).toBe(true);
    expect(d.code).toBe('ALLOWED');
    expect(d.ruleId).toBe('mode:open');
    expect(d.warnings).toHaveLength(1);
    const [warning] = d.warnings;
    expect(warning).toMatchObject({ rule, ruleId, effect: 'warn', code });
    expect(warning.reason).toMatch(/^foo@1\.0\.0/);
    expect(warning.reason).toContain(`[${code}; the ${rule} rule is in warn mode, so it is not enforced]`);
    // explain shows the rule as a warning too (with the plain reason).
    const match = d.matches.find((m) => m.rule === rule && m.effect === 'warn');
    expect(match).toBeDefined();
    expect(match?.code).toBe(code);
    expect(match?.reason).not.toContain('warn mode');
    expect(warning.reason.startsWith(match?.reason ?? '<none>')).toBe(true);
  });

  it('leaves no trace when off', () => {
    const d = decide(snapshot({ ...snap, rules: rules('off') }), input);
    expect(d.allowed).toBe(true);
    expect(d.ruleId).toBe('mode:open');
    expect(d.warnings).toEqual([]);
    expect(d.matches.filter((m) => m.rule === rule)).toEqual([]);
    expect(d.matches.map((m) => m.rule)).toEqual(['mode']);
    expect(d.validUntil).toBeNull();
  });
});

describe('default rule modes through evaluate', () => {
  it('enforces advisories by default', () => {
    expect(decide(snapshot(), { advisories: known([critical()]) }).code).toBe('EADVISORY');
  });

  it('enforces the license by default once an allowlist is set', () => {
    expect(decide(snapshot({ license: MIT_ONLY }), { manifest: GPL }).code).toBe('ELICENSE');
  });

  it('does not apply the license rule while its allowlist is empty', () => {
    const d = decide(snapshot({ license: { allow: [] } }), { manifest: GPL });
    expect(d.allowed).toBe(true);
    expect(d.matches.some((m) => m.rule === 'license')).toBe(false);
  });

  it('has no release age by default', () => {
    expect(decide(snapshot(), { publishedAt: YOUNG }).allowed).toBe(true);
  });

  it('only warns about install scripts by default', () => {
    const d = decide(snapshot(), { manifest: POSTINSTALL });
    expect(d.allowed).toBe(true);
    expect(d.warnings.map((w) => [w.rule, w.effect, w.code])).toEqual([['scripts', 'warn', 'EINSTALLSCRIPTS']]);
  });

  it('ignores deprecation by default', () => {
    const d = decide(snapshot(), { manifest: { deprecated: 'old' } });
    expect(d.allowed).toBe(true);
    expect(d.warnings).toEqual([]);
  });
});

describe('rule order', () => {
  const everything = {
    rules: { releaseAge: { minimumMs: 3 * DAY }, scripts: { mode: 'enforce' }, deprecated: { mode: 'enforce' } },
    license: MIT_ONLY,
  };
  const badInput: Partial<EvaluationInput> = {
    manifest: { name: 'foo', version: '1.0.0', license: 'GPL-3.0-only', scripts: { install: 'x' }, deprecated: 'old' },
    publishedAt: YOUNG,
    advisories: known([critical()]),
  };

  it('lets a ban beat the advisory rule (and every other rule)', () => {
    const d = decide(snapshot({ ...everything, bans: [ban('3', 'foo', '*')] }), badInput);
    expect(d.code).toBe('EBANNED');
    expect(d.ruleId).toBe('ban:3');
    expect(d.matches.map((m) => m.rule)).toEqual(['ban']);
  });

  it('checks advisories before the license', () => {
    const d = decide(snapshot(everything), badInput);
    expect(d.code).toBe('EADVISORY');
    expect(d.matches.some((m) => m.rule === 'license')).toBe(false);
  });

  it('checks the license before the release age', () => {
    const d = decide(snapshot(everything), { ...badInput, advisories: undefined });
    expect(d.code).toBe('ELICENSE');
    // The release-age rule never ran, so the decision does not expire with the quarantine.
    expect(d.validUntil).toBeNull();
    expect(d.matches.some((m) => m.rule === 'release-age')).toBe(false);
  });

  it('checks the release age before install scripts', () => {
    const d = decide(snapshot(everything), { ...badInput, advisories: undefined, manifest: { ...badInput.manifest, license: 'MIT' } });
    expect(d.code).toBe('EQUARANTINED');
    expect(d.validUntil).toBe(Date.parse(YOUNG) + 3 * DAY);
  });

  it('checks install scripts before deprecation', () => {
    const d = decide(snapshot(everything), { manifest: { license: 'MIT', scripts: { install: 'x' }, deprecated: 'old' } });
    expect(d.code).toBe('EINSTALLSCRIPTS');
  });

  it('lists warnings in rule order when every rule warns', () => {
    const warnAll = {
      license: MIT_ONLY,
      rules: {
        advisories: { mode: 'warn' },
        license: { mode: 'warn' },
        releaseAge: { mode: 'warn', minimumMs: 3 * DAY },
        scripts: { mode: 'warn' },
        deprecated: { mode: 'warn' },
      },
    };
    const d = decide(snapshot(warnAll), badInput);
    expect(d.allowed).toBe(true);
    expect(d.warnings.map((w) => w.code)).toEqual(['EADVISORY', 'ELICENSE', 'EQUARANTINED', 'EINSTALLSCRIPTS', 'EDEPRECATED']);
    expect(d.warnings.every((w) => w.effect === 'warn')).toBe(true);
    // The quarantine's end still changes the decision (its warning goes away).
    expect(d.validUntil).toBe(Date.parse(YOUNG) + 3 * DAY);
  });

  it('applies the supply-chain rules before allowlist mode', () => {
    const d = decide(snapshot({ mode: 'allowlist' }), { advisories: known([critical()]) });
    expect(d.code).toBe('EADVISORY');
    expect(d.matches.some((m) => m.rule === 'mode')).toBe(false);
  });

  it('does not let an approval override an enforced rule', () => {
    const d = decide(snapshot({ mode: 'allowlist', approvals: [approval('7', 'foo', '*')] }), { advisories: known([critical()]) });
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('EADVISORY');
  });

  it('still needs an approval in allowlist mode when a rule only warns', () => {
    const d = decide(snapshot({ mode: 'allowlist' }), { manifest: POSTINSTALL });
    expect(d.code).toBe('ENOTAPPROVED');
    expect(d.warnings.map((w) => w.code)).toEqual(['EINSTALLSCRIPTS']);
  });
});

describe('install scripts and approvals', () => {
  const enforceScripts = { rules: { scripts: { mode: 'enforce' } } };

  it('are allowed by an active approval with allowScripts', () => {
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '*', { allowScripts: true })] }), { manifest: POSTINSTALL });
    expect(d.allowed).toBe(true);
    expect(d.ruleId).toBe('mode:open');
    expect(d.warnings).toEqual([]);
    expect(d.matches).toContainEqual<RuleMatch>({
      rule: 'scripts',
      ruleId: 'approval:7',
      effect: 'info',
      reason: 'foo@1.0.0 runs postinstall: node steal.js; approved for scripts',
    });
  });

  it('are not allowed by a plain approval', () => {
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '*')] }), { manifest: POSTINSTALL });
    expect(d.code).toBe('EINSTALLSCRIPTS');
  });

  it('are not allowed by an approval with allowScripts: false', () => {
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '*', { allowScripts: false })] }), { manifest: POSTINSTALL });
    expect(d.code).toBe('EINSTALLSCRIPTS');
  });

  it('are not allowed by an expired allowScripts approval', () => {
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '*', { allowScripts: true, expiresAt: new Date(NOW) })] }), { manifest: POSTINSTALL });
    expect(d.code).toBe('EINSTALLSCRIPTS');
  });

  it('are not allowed by an allowScripts approval whose range misses the version', () => {
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '^2.0.0', { allowScripts: true })] }), { manifest: POSTINSTALL });
    expect(d.code).toBe('EINSTALLSCRIPTS');
  });

  it('are allowed by a scope approval with allowScripts', () => {
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('9', '@acme/*', '*', { allowScripts: true })] }), {
      name: '@acme/native',
      manifest: { gypfile: true },
    });
    expect(d.allowed).toBe(true);
    expect(d.matches.find((m) => m.rule === 'scripts')?.ruleId).toBe('approval:9');
  });

  it('picks the allowScripts approval among several in allowlist mode', () => {
    const d = decide(
      snapshot({ ...enforceScripts, mode: 'allowlist', approvals: [approval('1', 'foo', '*'), approval('2', 'foo', '1.x', { allowScripts: true })] }),
      { manifest: POSTINSTALL },
    );
    expect(d.allowed).toBe(true);
    expect(d.matches.find((m) => m.rule === 'scripts')?.ruleId).toBe('approval:2');
  });

  it('silence the warn-mode warning when approved', () => {
    const d = decide(snapshot({ approvals: [approval('7', 'foo', '*', { allowScripts: true })] }), { manifest: POSTINSTALL });
    expect(d.warnings).toEqual([]);
  });

  // BUG: the scripts grant of an expiring approval is not reflected in validUntil, so a cached
  // decision (policy-cache.ts keeps it until validUntil) keeps allowing the scripts after the
  // approval expired. The license waiver path calls dependsUntil for the same situation.
  it('expire with the allowScripts approval that allowed them (open mode)', () => {
    const expiresAt = new Date(NOW + HOUR);
    const snap = snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '*', { allowScripts: true, expiresAt })] });
    expect(decide(snap, { manifest: POSTINSTALL, now: expiresAt.getTime() }).code).toBe('EINSTALLSCRIPTS'); // holds today
    const d = decide(snap, { manifest: POSTINSTALL });
    expect(d.allowed).toBe(true);
    expect(d.validUntil).toBe(expiresAt.getTime());
  });

  it('expire with the allowScripts approval even when a longer plain approval grants the version', () => {
    const expiresAt = new Date(NOW + HOUR);
    const snap = snapshot({
      ...enforceScripts,
      mode: 'allowlist',
      approvals: [approval('1', 'foo', '*'), approval('2', 'foo', '*', { allowScripts: true, expiresAt })],
    });
    expect(decide(snap, { manifest: POSTINSTALL, now: expiresAt.getTime() }).code).toBe('EINSTALLSCRIPTS'); // holds today
    const d = decide(snap, { manifest: POSTINSTALL });
    expect(d.allowed).toBe(true);
    expect(d.validUntil).toBe(expiresAt.getTime());
  });
});

describe('release-age exemptions', () => {
  const quarantine = { rules: { releaseAge: { minimumMs: 3 * DAY } } };

  it('exempt a package by name', () => {
    const d = decide(snapshot({ ...quarantine, exemptions: [exemption('4', 'foo')] }), { publishedAt: YOUNG });
    expect(d.allowed).toBe(true);
    expect(d.validUntil).toBeNull();
    expect(d.matches).toContainEqual<RuleMatch>({ rule: 'release-age', ruleId: 'exemption:4', effect: 'info', reason: 'foo@1.0.0 is exempt from the minimum release age' });
    expect(d.warnings).toEqual([]);
  });

  it('exempt a whole scope with @scope/*', () => {
    const snap = snapshot({ ...quarantine, exemptions: [exemption('5', '@acme/*')] });
    expect(decide(snap, { name: '@acme/widgets', publishedAt: YOUNG }).allowed).toBe(true);
    expect(decide(snap, { name: '@acmecorp/widgets', publishedAt: YOUNG }).code).toBe('EQUARANTINED');
    expect(decide(snap, { name: 'acme', publishedAt: YOUNG }).code).toBe('EQUARANTINED');
  });

  it('do not exempt other names', () => {
    const d = decide(snapshot({ ...quarantine, exemptions: [exemption('4', 'foo')] }), { name: 'foo-bar', publishedAt: YOUNG });
    expect(d.code).toBe('EQUARANTINED');
  });

  it('apply only inside their range', () => {
    const snap = snapshot({ ...quarantine, exemptions: [exemption('4', 'foo', '<2')] });
    expect(decide(snap, { version: '1.9.0', publishedAt: YOUNG }).allowed).toBe(true);
    expect(decide(snap, { version: '2.0.0', publishedAt: YOUNG }).code).toBe('EQUARANTINED');
  });

  it('quarantine sets validUntil to the moment the version becomes installable', () => {
    const d = decide(snapshot(quarantine), { publishedAt: YOUNG });
    expect(d.code).toBe('EQUARANTINED');
    expect(d.validUntil).toBe(Date.parse(YOUNG) + 3 * DAY);
    expect(decide(snapshot(quarantine), { publishedAt: YOUNG, now: Date.parse(YOUNG) + 3 * DAY }).allowed).toBe(true);
  });

  it('let the fix of a known advisory skip the quarantine', () => {
    const low = { ...critical('<1.0.0'), severity: 'low' as const };
    const d = decide(snapshot(quarantine), { publishedAt: YOUNG, versions: ['0.9.0', '1.0.0'], advisories: known([low]) });
    expect(d.allowed).toBe(true);
    expect(d.matches.find((m) => m.rule === 'release-age')?.ruleId).toBe(`fix:${GHSA}`);
  });
});

describe('license waivers', () => {
  it('let an ELICENSE version pass and expire with the waiver', () => {
    const expiresAt = new Date(NOW + 2 * HOUR);
    const d = decide(snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'foo', '^1.0.0', expiresAt)] }), { manifest: GPL });
    expect(d.allowed).toBe(true);
    expect(d.code).toBe('ALLOWED');
    expect(d.validUntil).toBe(expiresAt.getTime());
    expect(d.matches.map((m) => [m.rule, m.ruleId, m.effect, m.code])).toEqual([
      ['license', 'policy', 'deny', 'ELICENSE'],
      ['waiver', 'w1', 'allow', undefined],
      ['mode', 'open', 'allow', undefined],
    ]);
    expect(d.matches[1].reason).toBe(`license waived for foo@^1.0.0 by carol: waiver w1, expires ${expiresAt.toISOString()}`);
    expect(d.warnings).toEqual([]);
  });

  it('stop applying at their expiry', () => {
    const expiresAt = new Date(NOW + 2 * HOUR);
    const d = decide(snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'foo', '*', expiresAt)] }), { manifest: GPL, now: expiresAt.getTime() });
    expect(d.code).toBe('ELICENSE');
  });

  it('apply only inside their range and to their package', () => {
    const snap = snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'foo', '<1.0.0')] });
    expect(decide(snap, { manifest: GPL }).code).toBe('ELICENSE');
    expect(decide(snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'bar', '*')] }), { manifest: GPL }).code).toBe('ELICENSE');
  });

  it('use the longest-lived waiver; one without expiry keeps the decision open-ended', () => {
    const short = waiver('w1', 'foo', '*', new Date(NOW + HOUR));
    const long = waiver('w2', 'foo', '*', new Date(NOW + 5 * HOUR));
    const d = decide(snapshot({ license: MIT_ONLY, waivers: [short, long] }), { manifest: GPL });
    expect(d.validUntil).toBe(NOW + 5 * HOUR);
    expect(d.matches.find((m) => m.rule === 'waiver')?.ruleId).toBe('w2');

    const forever = decide(snapshot({ license: MIT_ONLY, waivers: [short, waiver('w3', 'foo', '*')] }), { manifest: GPL });
    expect(forever.validUntil).toBeNull();
    expect(forever.matches.find((m) => m.rule === 'waiver')?.ruleId).toBe('w3');
  });

  it('combine with an approval expiry: the earlier one wins', () => {
    const d = decide(
      snapshot({
        mode: 'allowlist',
        license: MIT_ONLY,
        approvals: [approval('1', 'foo', '*', { expiresAt: new Date(NOW + 3 * HOUR) })],
        waivers: [waiver('w1', 'foo', '*', new Date(NOW + 2 * HOUR))],
      }),
      { manifest: GPL },
    );
    expect(d.ruleId).toBe('approval:1');
    expect(d.validUntil).toBe(NOW + 2 * HOUR);
  });

  it('are not needed for an allowed license', () => {
    const d = decide(snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'foo', '*', new Date(NOW + HOUR))] }), { manifest: { license: 'MIT' } });
    expect(d.validUntil).toBeNull();
    expect(d.matches.map((m) => [m.rule, m.effect])).toEqual([
      ['license', 'allow'],
      ['mode', 'allow'],
    ]);
  });

  it('an unknown version (no manifest) is not judged by its license', () => {
    const d = evaluate(compilePolicy(snapshot({ license: MIT_ONLY })), { name: 'foo', version: '1.0.0', manifest: undefined, now: NOW });
    expect(d.allowed).toBe(true);
    expect(d.matches[0]).toEqual({ rule: 'license', ruleId: null, effect: 'info', reason: 'the version is not known, so its license could not be read' });
  });
});

describe('the advisory source notice', () => {
  const sourceReason = 'advisories for foo could not be checked recently (the advisory source is unreachable); decided with what is known';

  it.each<PackageAdvisories['status']>(['stale', 'unchecked'])('is a warning when advisories are %s while the version stays allowed', (status) => {
    const d = decide(snapshot(), { advisories: known([], status) });
    expect(d.allowed).toBe(true);
    expect(d.code).toBe('ALLOWED');
    const notice: RuleMatch = { rule: 'advisories', ruleId: 'source', effect: 'info', reason: sourceReason };
    expect(d.warnings).toEqual([notice]);
    expect(d.matches).toContainEqual(notice);
  });

  it('is absent when advisories are fresh', () => {
    const d = decide(snapshot(), { advisories: known([]) });
    expect(d.warnings).toEqual([]);
    expect(d.matches.map((m) => m.rule)).toEqual(['mode']);
  });

  it('becomes a denial for unchecked packages when unavailable is block', () => {
    const d = decide(snapshot({ rules: { advisories: { unavailable: 'block' } } }), { advisories: known([], 'unchecked') });
    expect(d.code).toBe('EADVISORY');
    expect(d.ruleId).toBe('advisory:unchecked');
    // No advisory is known, so no version is "fixed": the step is to wait for the source (an admin may let unchecked packages through).
    expect(nextStep(d)).toBe('Try again later, once the advisory source answers; if it stays down, tell an admin (they can let unchecked packages through)');
    expect(nextStep(d, 'admin')).toMatch(/^Try again once the advisory source answers .*gatekeeper policy set advisories\.unavailable warn$/);
    expect(blockMessage(d)).not.toContain('fixed version');
  });

  it('is kept when a later rule denies the version', () => {
    const d = decide(snapshot({ license: MIT_ONLY }), { manifest: GPL, advisories: known([], 'stale') });
    expect(d.code).toBe('ELICENSE');
    expect(d.warnings.map((w) => w.ruleId)).toEqual(['source']);
  });

  it('is not raised for a below-threshold advisory, which only shows in matches', () => {
    const d = decide(snapshot(), { advisories: known([{ ...critical(), severity: 'high' }]) });
    expect(d.allowed).toBe(true);
    expect(d.warnings).toEqual([]);
    expect(d.matches.find((m) => m.rule === 'advisories')).toMatchObject({ ruleId: GHSA, effect: 'info' });
  });

  it('is not raised when the advisories rule is off', () => {
    const d = decide(snapshot({ rules: { advisories: { mode: 'off' } } }), { advisories: known([], 'stale') });
    expect(d.warnings).toEqual([]);
  });
});

describe('advisories through evaluate', () => {
  it('apply the configured severity threshold', () => {
    const high = { ...critical(), severity: 'high' as const };
    expect(decide(snapshot(), { advisories: known([high]) }).allowed).toBe(true);
    expect(decide(snapshot({ rules: { advisories: { severity: 'high' } } }), { advisories: known([high]) }).code).toBe('EADVISORY');
  });

  it('only block affected versions, and say where the fix is', () => {
    const snap = snapshot();
    const advisories = known([critical('<1.0.1')]);
    const versions = ['1.0.0', '1.0.1'];
    const d = decide(snap, { advisories, versions });
    expect(d.reason).toBe(`foo@1.0.0: ${GHSA} (critical) Remote code execution, fixed in 1.0.1`);
    expect(decide(snap, { version: '1.0.1', advisories, versions }).allowed).toBe(true);
  });
});

describe('the manifest rule (the tarball package.json against the registry manifest)', () => {
  it('is enforced by default and says what differs and what to do', () => {
    const d = decide(snapshot(), {
      inspection: inspection({ name: 'evil', version: '9.9.9' }, [NAME_MISMATCH, { field: 'version', declared: '1.0.0', actual: '9.9.9' }]),
    });
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('EMANIFESTMISMATCH');
    expect(d.ruleId).toBe('manifest');
    expect(d.reason).toBe(
      `foo@1.0.0: its tarball's package.json differs from the registry's manifest (name: the registry says "foo", the tarball's package.json says "evil"; version: the registry says "1.0.0", the tarball's package.json says "9.9.9"). npm would act on the tarball's package.json, not on what the registry shows`,
    );
    expect(d.brief).toBe("foo@1.0.0: name is 'evil'; version is '9.9.9' in the tarball's package.json");
    expect(d.matches[0].details).toEqual({
      mismatches: [
        { field: 'name', declared: 'foo', actual: 'evil' },
        { field: 'version', declared: '1.0.0', actual: '9.9.9' },
      ],
      integrity: 'sha512-AAAA',
    });
    const message = blockMessage(d);
    expect(message).toContain("ask the package's maintainer");
    expect(nextStep(d, 'admin')).toContain('gatekeeper policy set manifest warn');
    expect(blockMessage(d)).toContain('an admin who accepts the difference can set the rule to warn');
    expect(message).toContain("gatekeeper explain foo@1.0.0");
  });

  it('fires on an install-scripts mismatch', () => {
    const d = decide(snapshot({ rules: { scripts: { mode: 'off' } } }), {
      inspection: inspection({ name: 'foo', version: '1.0.0', scripts: { postinstall: 'node x' } }, [{ field: 'installScripts', declared: {}, actual: { postinstall: 'node x' } }]),
    });
    expect(d.code).toBe('EMANIFESTMISMATCH');
    expect(d.reason).toContain('install scripts: the registry says nothing, the tarball\'s package.json says {"postinstall":"node x"}');
  });

  it('does not fire on license or dependency differences (other rules judge those)', () => {
    const d = decide(snapshot(), {
      inspection: inspection({ name: 'foo', version: '1.0.0' }, [
        { field: 'license', declared: 'MIT', actual: 'MIT' },
        { field: 'dependencies', declared: {}, actual: { a: '1' } },
      ]),
    });
    expect(d.allowed).toBe(true);
    expect(d.matches.map((m) => m.rule)).toEqual(['mode']);
  });

  it('does not apply without an inspection, nor with one that found no difference', () => {
    for (const input of [{}, { inspection: inspection() }]) {
      const d = decide(snapshot({ rules: { manifest: { mode: 'enforce' } } }), input);
      expect(d.allowed).toBe(true);
      expect(d.matches.some((m) => m.rule === 'manifest')).toBe(false);
      expect(d.warnings).toEqual([]);
    }
  });

  it('comes before every other rule but a ban', () => {
    const input = { inspection: inspection({ name: 'evil' }, [NAME_MISMATCH]), advisories: known([critical()]) };
    expect(decide(snapshot(), input).code).toBe('EMANIFESTMISMATCH');
    expect(decide(snapshot({ bans: [ban('1', 'foo', '*')] }), input).code).toBe('EBANNED');
  });

  it('keeps display values short and printable', () => {
    const d = decide(snapshot(), { inspection: inspection({}, [{ field: 'name', declared: 'foo', actual: `x\u0000\n${'y'.repeat(500)}` }]) });
    expect(d.reason).not.toMatch(/[^\x20-\x7e]/);
    expect(d.reason.length).toBeLessThan(400);
  });
});

describe('install scripts: the stricter of the registry manifest and the tarball', () => {
  const enforceScripts = { rules: { scripts: { mode: 'enforce' }, manifest: { mode: 'off' } } };

  it('blocks scripts only the tarball declares', () => {
    const d = decide(snapshot(enforceScripts), { inspection: inspection({ name: 'foo', version: '1.0.0', scripts: { postinstall: 'node steal.js' } }) });
    expect(d.code).toBe('EINSTALLSCRIPTS');
    expect(d.reason).toBe("foo@1.0.0 runs install scripts (postinstall: node steal.js (only in the tarball's package.json))");
  });

  it("blocks a tarball's binding.gyp (npm runs node-gyp rebuild)", () => {
    const d = decide(snapshot(enforceScripts), { inspection: inspection({ name: 'foo', version: '1.0.0' }, [], true) });
    expect(d.code).toBe('EINSTALLSCRIPTS');
    expect(d.matches.find((m) => m.rule === 'scripts')?.details).toEqual({ scripts: ["install: node-gyp rebuild (binding.gyp) (only in the tarball's package.json)"] });
  });

  it('does not count binding.gyp when the package sets its own install script or gypfile: false', () => {
    const own = decide(snapshot(enforceScripts), { manifest: { scripts: { install: 'make' } }, inspection: inspection({ scripts: { install: 'make' } }, [], true) });
    expect(own.matches.find((m) => m.rule === 'scripts')?.details).toEqual({ scripts: ['install: make'] });
    expect(decide(snapshot(enforceScripts), { inspection: inspection({ gypfile: false }, [], true) }).allowed).toBe(true);
  });

  it('lists a script both declare once', () => {
    const d = decide(snapshot(enforceScripts), { manifest: POSTINSTALL, inspection: inspection(POSTINSTALL) });
    expect(d.reason).toBe('foo@1.0.0 runs install scripts (postinstall: node steal.js)');
  });

  it('are allowed by an allowScripts approval, whose expiry bounds the decision', () => {
    const expiresAt = new Date(NOW + HOUR);
    const d = decide(snapshot({ ...enforceScripts, approvals: [approval('7', 'foo', '*', { allowScripts: true, expiresAt })] }), {
      inspection: inspection({ scripts: { preinstall: 'x' } }),
    });
    expect(d.allowed).toBe(true);
    expect(d.validUntil).toBe(expiresAt.getTime());
  });

  it('only warns by default, about the tarball scripts too', () => {
    const d = decide(snapshot({ rules: { manifest: { mode: 'off' } } }), { inspection: inspection({ scripts: { install: 'x' } }) });
    expect(d.allowed).toBe(true);
    expect(d.warnings.map((w) => w.code)).toEqual(['EINSTALLSCRIPTS']);
  });
});

describe('licenses: the stricter of the registry manifest and the tarball', () => {
  const MIT = { name: 'foo', version: '1.0.0', license: 'MIT' };

  it("denies when only the tarball's license is not allowed, and says so", () => {
    const d = decide(snapshot({ license: MIT_ONLY }), { manifest: MIT, inspection: inspection(GPL) });
    expect(d.code).toBe('ELICENSE');
    expect(d.reason).toMatch(/^foo@1\.0\.0: its tarball's package\.json is licensed GPL-3\.0-only.*\(the registry's manifest says MIT\)$/);
    const match = d.matches.find((m) => m.rule === 'license');
    expect((match?.details as { license: string; tarball: { license: string } }).license).toBe('MIT');
    expect((match?.details as { tarball: { license: string } }).tarball.license).toBe('GPL-3.0-only');
  });

  it("denies when only the registry's license is not allowed", () => {
    const d = decide(snapshot({ license: MIT_ONLY }), { manifest: GPL, inspection: inspection(MIT) });
    expect(d.code).toBe('ELICENSE');
    expect(d.reason).toMatch(/^foo@1\.0\.0 is licensed GPL-3\.0-only/);
  });

  it('allows when both are allowed', () => {
    const d = decide(snapshot({ license: MIT_ONLY }), { manifest: MIT, inspection: inspection(MIT) });
    expect(d.allowed).toBe(true);
    expect(d.matches.find((m) => m.rule === 'license')?.effect).toBe('allow');
  });

  it('reads the tarball when the registry has no manifest', () => {
    const d = decide(snapshot({ license: MIT_ONLY }), { manifest: undefined, inspection: inspection(GPL) });
    expect(d.code).toBe('ELICENSE');
    expect(d.reason).toContain("(read from its tarball's package.json)");
  });

  it("lets a waiver cover the tarball's license too", () => {
    const d = decide(snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'foo', '*')] }), { manifest: MIT, inspection: inspection(GPL) });
    expect(d.allowed).toBe(true);
    expect(d.matches.map((m) => m.rule)).toEqual(['license', 'waiver', 'mode']);
  });

  it('follows the license rule mode', () => {
    const warn = decide(snapshot({ license: MIT_ONLY, rules: { license: { mode: 'warn' } } }), { manifest: MIT, inspection: inspection(GPL) });
    expect(warn.allowed).toBe(true);
    expect(warn.warnings.map((w) => w.code)).toEqual(['ELICENSE']);
    const off = decide(snapshot({ license: MIT_ONLY, rules: { license: { mode: 'off' } } }), { manifest: MIT, inspection: inspection(GPL) });
    expect(off.allowed).toBe(true);
    expect(off.warnings).toEqual([]);
  });
});

describe('legacy version keys in the rules (express-like)', () => {
  const LEGACY = ['1.0.0beta', '1.0.0rc2', '2.0.0rc', '3.0.0alpha1'];
  const quarantine = { rules: { releaseAge: { minimumMs: 3 * DAY } } };

  it('a license waiver with a semver range does not cover a legacy key; an exact one does', () => {
    const ranged = snapshot({ license: MIT_ONLY, waivers: [waiver('w1', 'foo', '*')] });
    const exact = snapshot({ license: MIT_ONLY, waivers: [waiver('w2', 'foo', '1.0.0beta')] });
    expect(decide(ranged, { version: '1.0.0beta', manifest: GPL }).code).toBe('ELICENSE');
    expect(decide(exact, { version: '1.0.0beta', manifest: GPL }).allowed).toBe(true);
    expect(decide(exact, { version: '1.0.0rc2', manifest: GPL }).code).toBe('ELICENSE');
  });

  it('a release-age exemption with a range does not cover a legacy key; an exact one does', () => {
    const ranged = snapshot({ ...quarantine, exemptions: [exemption('4', 'foo', '*')] });
    const exact = snapshot({ ...quarantine, exemptions: [exemption('5', 'foo', '2.0.0rc')] });
    expect(decide(ranged, { version: '2.0.0rc', publishedAt: YOUNG }).code).toBe('EQUARANTINED');
    expect(decide(exact, { version: '2.0.0rc', publishedAt: YOUNG }).allowed).toBe(true);
  });

  it('advisories: a ranged advisory does not reach legacy keys, one for every version does, and "fixed in" ignores them', () => {
    const versions = ['0.9.0', ...LEGACY, '1.0.0', '1.0.1', '2.0.0'];
    for (const v of LEGACY) {
      expect(decide(snapshot(), { version: v, advisories: known([critical('<1.0.1')]), versions }).allowed).toBe(true);
      const d = decide(snapshot(), { version: v, advisories: known([critical('*')]), versions });
      expect(d.code).toBe('EADVISORY');
      expect(d.reason).toContain('no fixed version yet');
    }
    const d = decide(snapshot(), { version: '1.0.0', advisories: known([critical('<1.0.1')]), versions });
    expect(d.reason).toContain('fixed in 1.0.1');
  });

  it('the security-fix fast path works beside legacy keys, and a legacy key is never a fix', () => {
    const low = { ...critical('<1.0.0'), severity: 'low' as const };
    const versions = ['0.9.0', ...LEGACY, '1.0.0'];
    expect(decide(snapshot(quarantine), { publishedAt: YOUNG, versions, advisories: known([low]) }).allowed).toBe(true);
    expect(decide(snapshot(quarantine), { version: '1.0.0beta', publishedAt: YOUNG, versions, advisories: known([low]) }).code).toBe('EQUARANTINED');
    const fixedLegacy = { ...low, fixedIn: ['1.0.0beta', '1.0.0'] };
    expect(decide(snapshot(quarantine), { version: '1.0.0beta', publishedAt: YOUNG, versions, advisories: known([fixedLegacy]) }).code).toBe('EQUARANTINED');
  });

  it('explains a legacy key in allowlist mode with an exact approval', () => {
    const d = decide(snapshot({ mode: 'allowlist', approvals: [approval('1', 'foo', '3.0.0alpha1', { allowScripts: true })], rules: { scripts: { mode: 'enforce' } } }), {
      version: '3.0.0alpha1',
      manifest: { ...POSTINSTALL, version: '3.0.0alpha1' },
    });
    expect(d.allowed).toBe(true);
    expect(d.ruleId).toBe('approval:1');
  });
});

describe("deciding every version of a package with many versions", () => {
  it('works out the versions list and an advisory first fix once per packument, not once per version', () => {
    // A package with 1,000 versions, all affected by one advisory, all young: the advisories and
    // release-age rules both look at the whole version list for every version they decide.
    const versions: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) versions[`1.0.${i}`] = { name: 'foo', version: `1.0.${i}` };
    const policy = compilePolicy(snapshot({ rules: { releaseAge: { minimumMs: 3 * DAY } } } as Partial<PolicySnapshot>));
    const advisories = known([critical('<2.0.0')]);
    const list = versionKeys(versions);
    expect(versionKeys(versions)).toBe(list);
    const compare = jest.spyOn(semver, 'compare');
    try {
      for (const version of list) {
        const d = evaluate(policy, { name: 'foo', version, manifest: versions[version] as Record<string, unknown>, publishedAt: YOUNG, versions: versionKeys(versions), advisories, now: NOW });
        expect(d.code).toBe('EADVISORY');
      }
      // One sort of 1,000 versions takes about 10,000 comparisons; one per version would take 10 million.
      expect(compare.mock.calls.length).toBeLessThan(50_000);
    } finally {
      compare.mockRestore();
    }
  });
});

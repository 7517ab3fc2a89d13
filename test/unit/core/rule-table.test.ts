/**
 * The rule table (src/core/rules) is the only place a rule is declared: a rule added to it
 * shows up in evaluation and explain, in the admin API's settings (defaults, validation,
 * views), in `gatekeeper policy set` and `policy show`, and in the docs' rule table, with no
 * other file changed. Proven with a rule that exists only in this test.
 */
import { compilePolicy, Decision, evaluate, nextStep, PolicySnapshot } from '../../../src/core/policy';
import {
  cliSettings,
  DenialCode,
  defineRule,
  explainLines,
  oneOf,
  policySettingKeys,
  RULES,
  RuleMode,
  ruleSettings,
  RuleTable,
  ruleTableMarkdown,
  ruleViews,
  showRules,
  validRuleChange,
} from '../../../src/core/rules';
import { showPolicy } from '../../../src/cli/commands/policy';
import { ErrorCodes, GatekeeperError } from '../../../src/core/errors';

const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);

/** A rule that exists only here: blocks versions whose manifest has `evil: true`. */
const evil = defineRule({
  key: 'evilFlag',
  name: 'evil-flag',
  code: 'EEVILFLAG' as DenialCode,
  summary: 'a version whose manifest says `evil: true`',
  defaults: { mode: 'warn' as RuleMode, strictness: 'loose' as 'loose' | 'strict' },
  settings: [oneOf('strictness', 'strict', ['loose', 'strict'])],
  show: (v) => `(strictness ${String(v.strictness)})`,
  check: ({ ctx, settings }) =>
    ctx.manifest?.evil === true ? { code: 'EEVILFLAG' as DenialCode, ruleId: 'evil-flag', reason: `${ctx.name}@${ctx.version} says it is evil (${settings.strictness})`, details: { flag: 'evil' } } : undefined,
  explain: (details) => [`flag: ${String(details.flag)}`],
  nextStep: (spec) => `Do not install ${spec}`,
});
const TABLE: RuleTable = [...RULES, evil];

function snapshot(rules?: unknown): PolicySnapshot {
  return { generation: 1, mode: 'open', approvals: [], bans: [], publishRules: [], rules };
}

function decide(rules: unknown, manifest: Record<string, unknown>, table: RuleTable = TABLE): Decision {
  return evaluate(compilePolicy(snapshot(rules), table), { name: 'foo', version: '1.0.0', manifest: { name: 'foo', version: '1.0.0', ...manifest }, now: NOW });
}

describe('the rule table', () => {
  it('holds the built-in rules in evaluation order, each with a unique key, name and code', () => {
    expect(RULES.map((r) => r.name)).toEqual(['malware', 'manifest', 'advisories', 'license', 'release-age', 'scripts', 'new-publisher', 'provenance-downgrade', 'deprecated']);
    for (const field of ['key', 'name', 'code'] as const) expect(new Set(RULES.map((r) => r[field])).size).toBe(RULES.length);
  });

  it("gives every built-in rule's code a 403 in the error table (a refusal is written from its code)", () => {
    for (const rule of RULES) expect({ code: rule.code, status: (ErrorCodes as Record<string, number>)[rule.code] }).toEqual({ code: rule.code, status: 403 });
  });

  it('evaluates an added rule in its default mode and shows it in explain', () => {
    const warned = decide(undefined, { evil: true });
    expect(warned.allowed).toBe(true);
    expect(warned.matches).toContainEqual(expect.objectContaining({ rule: 'evil-flag', effect: 'warn', code: 'EEVILFLAG', reason: 'foo@1.0.0 says it is evil (loose)' }));
    expect(warned.warnings[0].reason).toContain('the evil-flag rule is in warn mode');
    const match = warned.matches.find((m) => m.rule === 'evil-flag');
    expect(explainLines('evil-flag', match?.details, TABLE)).toEqual(['flag: evil']);
    // Without the rule in the table, nothing sees it.
    expect(decide(undefined, { evil: true }, RULES).matches.some((m) => m.rule === 'evil-flag')).toBe(false);
  });

  it('enforces, skips and configures an added rule from its stored settings', () => {
    const enforced = decide({ evilFlag: { mode: 'enforce', strictness: 'strict' } }, { evil: true });
    expect(enforced).toMatchObject({ allowed: false, code: 'EEVILFLAG', ruleId: 'evil-flag', reason: 'foo@1.0.0 says it is evil (strict)' });
    expect(decide({ evilFlag: { mode: 'off' } }, { evil: true }).allowed).toBe(true);
    expect(decide({ evilFlag: { mode: 'enforce' } }, {}).allowed).toBe(true);
    // Rules earlier in the table decide first.
    const deprecatedToo = decide({ evilFlag: { mode: 'enforce' }, deprecated: { mode: 'enforce' } }, { evil: true, deprecated: 'old' });
    expect(deprecatedToo.code).toBe('EDEPRECATED');
    expect(nextStep({ name: 'foo', version: '1.0.0', code: 'EEVILFLAG' as DenialCode })).toBe("Run 'gatekeeper explain foo@1.0.0'");
  });

  it('derives the settings: defaults, merge, API view and validation', () => {
    expect(ruleSettings(undefined, TABLE)).toMatchObject({ evilFlag: { mode: 'warn', strictness: 'loose' } });
    expect(ruleSettings({ evilFlag: { strictness: 'strict' } }, TABLE)).toMatchObject({ evilFlag: { mode: 'warn', strictness: 'strict' } });
    expect(ruleSettings(undefined)).not.toHaveProperty('evilFlag');
    expect(ruleViews(ruleSettings(undefined, TABLE), TABLE).evilFlag).toEqual({ mode: 'warn', strictness: 'loose' });
    expect(policySettingKeys(TABLE)).toContain('evilFlag');
    expect(policySettingKeys()).not.toContain('evilFlag');
    expect(validRuleChange('evilFlag', { mode: 'enforce', strictness: 'strict' }, TABLE)).toEqual({ mode: 'enforce', strictness: 'strict' });
    const refused = (change: Record<string, unknown>) => {
      try {
        validRuleChange('evilFlag', change, TABLE);
      } catch (e) {
        expect(e).toBeInstanceOf(GatekeeperError);
        return (e as GatekeeperError).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ mode: 'loud' })).toContain('evilFlag.mode must be one of enforce, warn, off');
    expect(refused({ strictness: 'very' })).toContain("evilFlag.strictness must be 'loose' or 'strict'");
    expect(refused({ colour: 'red' })).toContain("evilFlag has no setting 'colour'; it has mode, strictness");
  });

  it('derives the built-in settings as before', () => {
    expect(validRuleChange('releaseAge', { minimum: '3d', unknownAge: 'block' })).toEqual({ minimumMs: 3 * 86_400_000, unknownAge: 'block' });
    expect(ruleViews(ruleSettings(undefined)).releaseAge).toEqual({ mode: 'enforce', minimumMs: 0, unknownAge: 'allow', minimum: '0' });
    expect(Object.keys(cliSettings()).sort()).toEqual(
      [
        'mode',
        'malware',
        'malware.mode',
        'manifest',
        'manifest.mode',
        'advisories',
        'advisories.mode',
        'advisories.severity',
        'advisories.unavailable',
        'license',
        'license.mode',
        'release-age',
        'release-age.mode',
        'release-age.minimum',
        'release-age.unknown',
        'scripts',
        'scripts.mode',
        'new-publisher',
        'new-publisher.mode',
        'new-publisher.previous',
        'new-publisher.publishers',
        'provenance-downgrade',
        'provenance-downgrade.mode',
        'provenance-downgrade.publishers',
        'deprecated',
        'deprecated.mode',
      ].sort(),
    );
    expect(cliSettings()['release-age']('7d')).toEqual({ releaseAge: { minimum: '7d' } });
    expect(cliSettings()['release-age.unknown']('block')).toEqual({ releaseAge: { unknownAge: 'block' } });
    expect(cliSettings().scripts('enforce')).toEqual({ scripts: { mode: 'enforce' } });
  });

  it("gives the CLI's policy set names and policy show line for an added rule", () => {
    const settings = cliSettings(TABLE);
    expect(settings['evil-flag']('enforce')).toEqual({ evilFlag: { mode: 'enforce' } });
    expect(settings['evil-flag.mode']('off')).toEqual({ evilFlag: { mode: 'off' } });
    expect(settings['evil-flag.strict']('strict')).toEqual({ evilFlag: { strictness: 'strict' } });
    expect(cliSettings()).not.toHaveProperty('evil-flag');
    const view = { mode: 'open', generation: 3, rules: ruleViews(ruleSettings(undefined, TABLE), TABLE) };
    const shown = showPolicy(view, TABLE).split('\n');
    expect(shown).toContain('evil-flag: warn (strictness loose)');
    expect(shown).toContain('release-age: enforce (minimum 0, off; unknown age: allow)');
    expect(showPolicy(view).split('\n')).not.toContain('evil-flag: warn (strictness loose)');
    // A server that does not report a rule: its line is left out.
    expect(showRules({ manifest: { mode: 'warn' } }, TABLE)).toEqual(["manifest: warn (the tarball's package.json against the registry's manifest)"]);
  });

  it("puts an added rule in the docs' rule table", () => {
    const docs = ruleTableMarkdown(TABLE).split('\n');
    expect(docs).toContain('| 10 | evil-flag | `EEVILFLAG` | `warn` | `evil-flag.strict`: loose or strict (default `loose`) | a version whose manifest says `evil: true` |');
    expect(ruleTableMarkdown().split('\n')).toHaveLength(RULES.length + 2);
  });
});

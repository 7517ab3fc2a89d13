import {
  Approval,
  Ban,
  audienceOf,
  blockMessage,
  compilePolicy,
  CompiledPolicy,
  Decision,
  describeBan,
  evaluate,
  nextStep,
  PolicyMode,
  PolicySnapshot,
} from '../../../src/core/policy';

/** A fixed "now" so that no test depends on the real clock. */
const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

function approval(id: string, pattern: string, range: string, extra: Partial<Approval> = {}): Approval {
  return {
    id,
    pattern,
    range,
    reason: `reason ${id}`,
    approvedBy: 'alice',
    createdAt: new Date(NOW - 24 * HOUR),
    expiresAt: null,
    ...extra,
  };
}

function ban(id: string, name: string, range: string, extra: Partial<Ban> = {}): Ban {
  return {
    id,
    name,
    range,
    reason: `ban reason ${id}`,
    advisoryUrl: null,
    bannedBy: 'bob',
    createdAt: new Date(NOW - 24 * HOUR),
    ...extra,
  };
}

function snapshot(mode: PolicyMode, approvals: Approval[] = [], bans: Ban[] = [], generation = 1): PolicySnapshot {
  return { generation, mode, approvals, bans, publishRules: [] };
}

function decide(snap: PolicySnapshot, name: string, version: string, now = NOW): Decision {
  return evaluate(compilePolicy(snap), { name, version, manifest: { name, version }, now });
}

describe('compilePolicy', () => {
  it('keeps generation and mode and indexes approvals by name and by scope', () => {
    const compiled = compilePolicy(
      snapshot('allowlist', [approval('1', 'left-pad', '^1.0.0'), approval('2', '@acme/*', '*'), approval('3', 'left-pad', '2.x')], [ban('4', 'evil', '*')], 42),
    );
    expect(compiled.generation).toBe(42);
    expect(compiled.mode).toBe('allowlist');
    expect(compiled.approvalsByName.get('left-pad')?.map((a) => a.id)).toEqual(['1', '3']);
    expect(compiled.approvalsByScope.get('@acme')?.map((a) => a.id)).toEqual(['2']);
    expect(compiled.approvalsByName.has('@acme/*')).toBe(false);
    expect(compiled.bansByName.get('evil')?.map((b) => b.id)).toEqual(['4']);
  });

  it('parses each range once across reloads: the policy it replaces lends its matchers, by range and kind', () => {
    const first = compilePolicy(snapshot('allowlist', [approval('1', 'left-pad', '^1.0.0'), approval('2', 'other', '*')], [ban('3', 'evil', '*')], 1));
    const second = compilePolicy(
      snapshot('allowlist', [approval('1', 'left-pad', '^1.0.0'), approval('2', 'other', '*'), approval('4', 'new', '^1.0.0'), approval('5', 'newer', '~2.0.0')], [ban('3', 'evil', '*')], 2),
      undefined,
      first,
    );
    const approvalMatcher = (p: CompiledPolicy, name: string) => p.approvalsByName.get(name)?.[0].matcher;
    expect(approvalMatcher(second, 'left-pad')).toBe(approvalMatcher(first, 'left-pad'));
    expect(approvalMatcher(second, 'new')).toBe(approvalMatcher(first, 'left-pad'));
    expect(approvalMatcher(second, 'other')).toBe(approvalMatcher(first, 'other'));
    expect(second.bansByName.get('evil')?.[0].matcher).toBe(first.bansByName.get('evil')?.[0].matcher);
    // A ban's '*' also covers legacy keys, an approval's does not: never shared between the two.
    expect(second.bansByName.get('evil')?.[0].matcher).not.toBe(approvalMatcher(second, 'other'));
    expect(second.bansByName.get('evil')?.[0].matcher.test('legacy-key')).toBe(true);
    expect(approvalMatcher(second, 'other')?.test('legacy-key')).toBe(false);
    expect(approvalMatcher(second, 'newer')?.test('2.0.5')).toBe(true);
    expect(approvalMatcher(second, 'newer')?.test('2.1.0')).toBe(false);
  });

  it('throws on an invalid stored approval range', () => {
    expect(() => compilePolicy(snapshot('allowlist', [approval('1', 'left-pad', 'not a range!!')]))).toThrow();
  });

  it('throws on an invalid stored ban range', () => {
    expect(() => compilePolicy(snapshot('open', [], [ban('1', 'left-pad', '>>>1')]))).toThrow();
  });

  it('throws on an unknown mode', () => {
    expect(() => compilePolicy(snapshot('closed' as PolicyMode))).toThrow(/unknown policy mode 'closed'/);
  });

  it('accepts an empty policy in both modes', () => {
    expect(() => compilePolicy(snapshot('allowlist'))).not.toThrow();
    expect(() => compilePolicy(snapshot('open'))).not.toThrow();
  });
});

describe('evaluate: allowlist mode', () => {
  it('denies a package with no approval as ENOTAPPROVED by mode:allowlist', () => {
    const d = decide(snapshot('allowlist'), 'left-pad', '1.0.0');
    expect(d).toMatchObject({
      name: 'left-pad',
      version: '1.0.0',
      allowed: false,
      code: 'ENOTAPPROVED',
      ruleId: 'mode:allowlist',
      validUntil: null,
    });
    expect(d.reason).toBe(
      'left-pad@1.0.0 is not approved: the policy is in allowlist mode and no active approval covers this version',
    );
    expect(d.matches).toEqual([
      {
        rule: 'mode',
        ruleId: 'allowlist',
        effect: 'deny',
        code: 'ENOTAPPROVED',
        reason: 'the policy is in allowlist mode and no active approval covers this version',
      },
    ]);
  });

  it('allows a version inside an approved range and names the approval', () => {
    const d = decide(snapshot('allowlist', [approval('7', 'left-pad', '^1.0.0')]), 'left-pad', '1.3.0');
    expect(d.allowed).toBe(true);
    expect(d.code).toBe('ALLOWED');
    expect(d.ruleId).toBe('approval:7');
    expect(d.reason).toBe('left-pad@1.3.0 is approved (left-pad@^1.0.0)');
    expect(d.validUntil).toBeNull();
    expect(d.matches).toEqual([
      { rule: 'approval', ruleId: '7', effect: 'allow', reason: 'approved as left-pad@^1.0.0 by alice: reason 7' },
    ]);
  });

  it('denies a version outside the approved range', () => {
    const d = decide(snapshot('allowlist', [approval('7', 'left-pad', '^1.0.0')]), 'left-pad', '2.0.0');
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('ENOTAPPROVED');
    expect(d.ruleId).toBe('mode:allowlist');
  });

  it('does not let an approval for one package cover another', () => {
    const d = decide(snapshot('allowlist', [approval('7', 'left-pad', '*')]), 'right-pad', '1.0.0');
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('ENOTAPPROVED');
  });

  it('approves every package in a scope with a scope wildcard', () => {
    const snap = snapshot('allowlist', [approval('9', '@acme/*', '*')]);
    for (const name of ['@acme/widgets', '@acme/gadgets']) {
      const d = decide(snap, name, '3.1.4');
      expect(d.allowed).toBe(true);
      expect(d.ruleId).toBe('approval:9');
      expect(d.reason).toBe(`${name}@3.1.4 is approved (@acme/*@*)`);
    }
  });

  it('applies the range of a scope wildcard approval', () => {
    const snap = snapshot('allowlist', [approval('9', '@acme/*', '<2')]);
    expect(decide(snap, '@acme/widgets', '1.9.9').allowed).toBe(true);
    expect(decide(snap, '@acme/widgets', '2.0.0').allowed).toBe(false);
  });

  it('does not let a scope wildcard cover other scopes or unscoped names', () => {
    const snap = snapshot('allowlist', [approval('9', '@acme/*', '*')]);
    expect(decide(snap, '@acmecorp/widgets', '1.0.0').allowed).toBe(false);
    expect(decide(snap, '@acm/widgets', '1.0.0').allowed).toBe(false);
    expect(decide(snap, 'acme', '1.0.0').allowed).toBe(false);
    expect(decide(snap, 'widgets', '1.0.0').allowed).toBe(false);
  });

  it('combines name approvals and scope approvals in matches', () => {
    const snap = snapshot('allowlist', [approval('1', '@acme/widgets', '1.x'), approval('2', '@acme/*', '*')]);
    const d = decide(snap, '@acme/widgets', '1.0.0');
    expect(d.allowed).toBe(true);
    expect(d.matches.map((m) => m.ruleId)).toEqual(['1', '2']);
    expect(d.matches.every((m) => m.effect === 'allow')).toBe(true);
  });

  it('matches prerelease versions with a * range', () => {
    const d = decide(snapshot('allowlist', [approval('1', 'left-pad', '*')]), 'left-pad', '2.0.0-beta.1');
    expect(d.allowed).toBe(true);
    expect(d.ruleId).toBe('approval:1');
  });

  it('matches prerelease versions inside a caret range', () => {
    const snap = snapshot('allowlist', [approval('1', 'left-pad', '^1.0.0')]);
    expect(decide(snap, 'left-pad', '1.5.0-rc.1').allowed).toBe(true);
    // 2.0.0-rc.1 sorts below 2.0.0 but is outside ^1.0.0 (<2.0.0-0).
    expect(decide(snap, 'left-pad', '2.0.0-rc.1').allowed).toBe(false);
  });

  describe('expiry', () => {
    it('applies an approval that has not yet expired', () => {
      const snap = snapshot('allowlist', [approval('1', 'left-pad', '*', { expiresAt: new Date(NOW + HOUR) })]);
      const d = decide(snap, 'left-pad', '1.0.0');
      expect(d.allowed).toBe(true);
      expect(d.validUntil).toBe(NOW + HOUR);
      expect(d.matches[0].reason).toBe(
        `approved as left-pad@* by alice: reason 1, expires ${new Date(NOW + HOUR).toISOString()}`,
      );
    });

    it('stops applying an expired approval', () => {
      const snap = snapshot('allowlist', [approval('1', 'left-pad', '*', { expiresAt: new Date(NOW - 1) })]);
      const d = decide(snap, 'left-pad', '1.0.0');
      expect(d.allowed).toBe(false);
      expect(d.code).toBe('ENOTAPPROVED');
      expect(d.matches.some((m) => m.rule === 'approval')).toBe(false);
    });

    it('treats an approval as expired at exactly its expiry instant', () => {
      const expiresAt = new Date(NOW + HOUR);
      const snap = snapshot('allowlist', [approval('1', 'left-pad', '*', { expiresAt })]);
      expect(decide(snap, 'left-pad', '1.0.0', expiresAt.getTime() - 1).allowed).toBe(true);
      expect(decide(snap, 'left-pad', '1.0.0', expiresAt.getTime()).allowed).toBe(false);
    });

    it('uses the now input rather than the clock (same policy, different now)', () => {
      const compiled = compilePolicy(
        snapshot('allowlist', [approval('1', 'left-pad', '*', { expiresAt: new Date('2001-01-01T00:00:00Z') })]),
      );
      const input = { name: 'left-pad', version: '1.0.0', manifest: undefined };
      expect(evaluate(compiled, { ...input, now: Date.parse('2000-06-01T00:00:00Z') }).allowed).toBe(true);
      expect(evaluate(compiled, { ...input, now: Date.parse('2002-06-01T00:00:00Z') }).allowed).toBe(false);
    });

    it('sets validUntil to the expiry of the longest-lived granting approval', () => {
      const snap = snapshot('allowlist', [
        approval('1', 'left-pad', '*', { expiresAt: new Date(NOW + HOUR) }),
        approval('2', 'left-pad', '^1.0.0', { expiresAt: new Date(NOW + 3 * HOUR) }),
        approval('3', 'left-pad', '1.0.x', { expiresAt: new Date(NOW + 2 * HOUR) }),
      ]);
      const d = decide(snap, 'left-pad', '1.0.0');
      expect(d.allowed).toBe(true);
      expect(d.validUntil).toBe(NOW + 3 * HOUR);
      expect(d.ruleId).toBe('approval:2');
    });

    it('ignores a longer-lived approval whose range does not cover the version', () => {
      const snap = snapshot('allowlist', [
        approval('1', 'left-pad', '*', { expiresAt: new Date(NOW + HOUR) }),
        approval('2', 'left-pad', '^2.0.0', { expiresAt: new Date(NOW + 5 * HOUR) }),
      ]);
      const d = decide(snap, 'left-pad', '1.0.0');
      expect(d.validUntil).toBe(NOW + HOUR);
      expect(d.ruleId).toBe('approval:1');
    });

    it('ignores an expired approval when computing validUntil', () => {
      const snap = snapshot('allowlist', [
        approval('1', 'left-pad', '*', { expiresAt: new Date(NOW - HOUR) }),
        approval('2', 'left-pad', '*', { expiresAt: new Date(NOW + HOUR) }),
      ]);
      const d = decide(snap, 'left-pad', '1.0.0');
      expect(d.validUntil).toBe(NOW + HOUR);
      expect(d.ruleId).toBe('approval:2');
      expect(d.matches.map((m) => m.ruleId)).toEqual(['2']);
    });

    it('sets validUntil to null when one granting approval never expires', () => {
      const snap = snapshot('allowlist', [
        approval('1', 'left-pad', '*', { expiresAt: new Date(NOW + HOUR) }),
        approval('2', '@never/*', '*'),
        approval('3', 'left-pad', '*', { expiresAt: null }),
      ]);
      const d = decide(snap, 'left-pad', '1.0.0');
      expect(d.allowed).toBe(true);
      expect(d.validUntil).toBeNull();
      expect(d.ruleId).toBe('approval:3');
    });

    it('takes a never-expiring scope approval into account for validUntil', () => {
      const snap = snapshot('allowlist', [
        approval('1', '@acme/widgets', '*', { expiresAt: new Date(NOW + HOUR) }),
        approval('2', '@acme/*', '*'),
      ]);
      const d = decide(snap, '@acme/widgets', '1.0.0');
      expect(d.validUntil).toBeNull();
      expect(d.ruleId).toBe('approval:2');
    });
  });
});

describe('evaluate: bans', () => {
  it('denies a banned version as EBANNED with ruleId ban:<id>', () => {
    const d = decide(snapshot('open', [], [ban('3', 'evil', '<=1.2.3')]), 'evil', '1.2.3');
    expect(d).toMatchObject({ allowed: false, code: 'EBANNED', ruleId: 'ban:3', validUntil: null });
    expect(d.reason).toBe('evil@1.2.3 is banned: ban reason 3');
    expect(d.matches).toEqual([
      { rule: 'ban', ruleId: '3', effect: 'deny', code: 'EBANNED', reason: 'evil@1.2.3 is banned: ban reason 3' },
    ]);
  });

  it('only bans versions inside the ban range', () => {
    const snap = snapshot('open', [], [ban('3', 'evil', '<=1.2.3')]);
    expect(decide(snap, 'evil', '1.2.4').allowed).toBe(true);
  });

  it('bans prerelease versions with a * range', () => {
    const d = decide(snapshot('open', [], [ban('3', 'evil', '*')]), 'evil', '9.0.0-alpha.0');
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('EBANNED');
  });

  it('does not ban other packages', () => {
    const d = decide(snapshot('open', [], [ban('3', 'evil', '*')]), 'evil-twin', '1.0.0');
    expect(d.allowed).toBe(true);
  });

  it('beats a matching approval in allowlist mode', () => {
    const snap = snapshot('allowlist', [approval('7', 'evil', '*')], [ban('3', 'evil', '1.0.0')]);
    const d = decide(snap, 'evil', '1.0.0');
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('EBANNED');
    expect(d.ruleId).toBe('ban:3');
    expect(d.validUntil).toBeNull();
    // explain shows both: the ban that decided and the approval it overrode.
    expect(d.matches.map((m) => [m.rule, m.ruleId, m.effect])).toEqual([
      ['ban', '3', 'deny'],
      ['approval', '7', 'allow'],
    ]);
  });

  it('beats a scope wildcard approval', () => {
    const snap = snapshot('allowlist', [approval('7', '@acme/*', '*')], [ban('3', '@acme/bad', '*')]);
    expect(decide(snap, '@acme/bad', '1.0.0').ruleId).toBe('ban:3');
    expect(decide(snap, '@acme/good', '1.0.0').ruleId).toBe('approval:7');
  });

  it('beats open mode', () => {
    const d = decide(snapshot('open', [approval('7', 'evil', '*')], [ban('3', 'evil', '*')]), 'evil', '2.0.0');
    expect(d.allowed).toBe(false);
    expect(d.ruleId).toBe('ban:3');
    expect(d.matches.some((m) => m.rule === 'mode')).toBe(false);
  });

  it('decides by the first matching ban and lists every matching ban', () => {
    const snap = snapshot('open', [], [ban('3', 'evil', '1.x'), ban('4', 'evil', '2.x'), ban('5', 'evil', '*')]);
    const d = decide(snap, 'evil', '1.0.0');
    expect(d.ruleId).toBe('ban:3');
    expect(d.matches.map((m) => m.ruleId)).toEqual(['3', '5']);
  });

  it('includes the advisory URL in the reason when there is one', () => {
    const b = ban('3', 'evil', '*', { reason: 'steals tokens', advisoryUrl: 'https://example.test/advisory/1' });
    expect(describeBan(b)).toBe('steals tokens (https://example.test/advisory/1)');
    expect(describeBan({ ...b, advisoryUrl: null })).toBe('steals tokens');
    const d = decide(snapshot('open', [], [b]), 'evil', '1.0.0');
    expect(d.reason).toBe('evil@1.0.0 is banned: steals tokens (https://example.test/advisory/1)');
  });
});

describe('evaluate: open mode', () => {
  it('allows an unlisted package with ruleId mode:open', () => {
    const d = decide(snapshot('open'), 'anything', '0.0.1');
    expect(d).toMatchObject({ allowed: true, code: 'ALLOWED', ruleId: 'mode:open', validUntil: null });
    expect(d.reason).toBe('anything@0.0.1 is allowed: the policy is in open mode and no rule blocks it');
    expect(d.matches).toEqual([{ rule: 'mode', ruleId: 'open', effect: 'allow', reason: 'the policy is in open mode' }]);
  });

  it('still lists matching approvals for explain, but decides by mode', () => {
    const d = decide(
      snapshot('open', [approval('7', 'left-pad', '*', { expiresAt: new Date(NOW + HOUR) })]),
      'left-pad',
      '1.0.0',
    );
    expect(d.ruleId).toBe('mode:open');
    // The open-mode decision does not depend on the approval, so it does not expire with it.
    expect(d.validUntil).toBeNull();
    expect(d.matches.map((m) => m.rule)).toEqual(['approval', 'mode']);
  });
});

describe('nextStep and blockMessage', () => {
  it('tells a developer how to ask for ENOTAPPROVED, and an admin how to approve', () => {
    const d = decide(snapshot('allowlist'), 'left-pad', '1.0.0');
    const step = nextStep(d);
    expect(step).toContain('gatekeeper request left-pad@1.0.0');
    expect(step).not.toContain('gatekeeper approve');
    expect(step).toContain('gatekeeper explain left-pad@1.0.0');
    expect(nextStep(d, 'developer')).toBe(step);
    const admin = nextStep(d, 'admin');
    expect(admin).toContain('gatekeeper approve left-pad@1.0.0');
    expect(admin).not.toContain('gatekeeper request ');
    expect(admin).toContain('gatekeeper explain left-pad@1.0.0');
  });

  it('gives developers no admin-only command for any code', () => {
    for (const code of ['ENOTAPPROVED', 'ELICENSE', 'EINSTALLSCRIPTS', 'EQUARANTINED', 'EADVISORY', 'EMANIFESTMISMATCH', 'EBANNED'] as const) {
      const step = nextStep({ name: 'pkg', version: '1.0.0', code }, 'developer');
      expect([code, /gatekeeper (approve|policy|license waive)/.test(step)]).toEqual([code, false]);
    }
    expect(nextStep({ name: 'pkg', version: '1.0.0', code: 'EINSTALLSCRIPTS' }, 'admin')).toContain('gatekeeper approve pkg --allow-scripts');
    expect(nextStep({ name: 'pkg', version: '1.0.0', code: 'EQUARANTINED' }, 'admin')).toContain('gatekeeper policy exempt release-age pkg');
  });

  it('maps roles to audiences: only admins get the admin text', () => {
    expect(audienceOf('admin')).toBe('admin');
    for (const role of ['developer', 'publisher', 'reader', undefined]) expect(audienceOf(role)).toBe('developer');
  });

  it('does not suggest an approval for EBANNED (a ban beats any approval)', () => {
    const d = decide(snapshot('open', [], [ban('3', 'evil', '*')]), 'evil', '1.0.0');
    for (const audience of ['developer', 'admin'] as const) {
      const step = nextStep(d, audience);
      expect(step).toContain("gatekeeper explain evil@1.0.0");
      expect(step).not.toContain('approve');
      expect(step).not.toContain('request');
    }
  });

  it('uses the full scoped name in the suggested commands', () => {
    const step = nextStep({ name: '@acme/widgets', version: '2.0.0-beta.1', code: 'ENOTAPPROVED' });
    expect(step).toContain('gatekeeper request @acme/widgets@2.0.0-beta.1');
    expect(step).toContain('gatekeeper explain @acme/widgets@2.0.0-beta.1');
    expect(nextStep({ name: '@acme/widgets', version: '2.0.0-beta.1', code: 'ENOTAPPROVED' }, 'admin')).toContain('gatekeeper approve @acme/widgets@2.0.0-beta.1');
  });

  it('joins the reason and the next step', () => {
    const notApproved = decide(snapshot('allowlist'), 'left-pad', '1.0.0');
    expect(blockMessage(notApproved)).toBe(`${notApproved.reason}. ${nextStep(notApproved)}`);
    expect(blockMessage(notApproved)).toContain('is not approved');
    expect(blockMessage(notApproved)).toContain('gatekeeper explain left-pad@1.0.0');

    const banned = decide(snapshot('open', [], [ban('3', 'evil', '*', { reason: 'malware' })]), 'evil', '1.0.0');
    expect(blockMessage(banned)).toBe("evil@1.0.0 is banned: malware. Run 'gatekeeper explain evil@1.0.0'");
  });
});

describe('legacy version keys (express-like: 1.0.0beta, 2.0.0rc, 3.0.0alpha1)', () => {
  const LEGACY = ['1.0.0beta', '1.0.0beta2', '1.0.0rc', '1.0.0rc4', '2.0.0beta', '2.0.0rc', '3.0.0alpha1'];

  it('compiles an exact legacy range (a policy holding one must not become unavailable)', () => {
    expect(() => compilePolicy(snapshot('allowlist', [approval('1', 'express', '1.0.0beta')], [ban('2', 'express', '2.0.0rc')]))).not.toThrow();
  });

  it('a semver range approval never allows a legacy key', () => {
    for (const range of ['*', '^1.0.0-0', '>=1.0.0-0 <4', '1.x']) {
      const snap = snapshot('allowlist', [approval('1', 'express', range)]);
      for (const v of LEGACY) expect([range, v, decide(snap, 'express', v).code]).toEqual([range, v, 'ENOTAPPROVED']);
      expect(decide(snap, 'express', '1.0.0').allowed).toBe(true);
    }
  });

  it('a scope approval does not allow legacy keys either', () => {
    expect(decide(snapshot('allowlist', [approval('1', '@acme/*', '*')]), '@acme/old', '1.0.0beta').code).toBe('ENOTAPPROVED');
  });

  it('an exact approval (gatekeeper approve express@1.0.0beta) allows just that key', () => {
    const snap = snapshot('allowlist', [approval('1', 'express', '1.0.0beta')]);
    const d = decide(snap, 'express', '1.0.0beta');
    expect(d.allowed).toBe(true);
    expect(d.ruleId).toBe('approval:1');
    expect(d.reason).toBe('express@1.0.0beta is approved (express@1.0.0beta)');
    for (const v of ['1.0.0beta2', '1.0.0-beta', '1.0.0', '1.0.0rc']) expect([v, decide(snap, 'express', v).allowed]).toEqual([v, false]);
  });

  it('an exact ban bans just that key; a semver range ban does not reach legacy keys', () => {
    const exact = snapshot('open', [], [ban('5', 'express', '2.0.0rc')]);
    expect(decide(exact, 'express', '2.0.0rc').code).toBe('EBANNED');
    expect(decide(exact, 'express', '2.0.0rc2').allowed).toBe(true);
    expect(decide(exact, 'express', '2.0.0').allowed).toBe(true);
    const ranged = snapshot('open', [], [ban('6', 'express', '<3')]);
    expect(decide(ranged, 'express', '2.9.0').code).toBe('EBANNED');
    expect(decide(ranged, 'express', '2.0.0rc').allowed).toBe(true);
  });

  it('a ban of the whole package (*, >=0.0.0) covers legacy keys too: failing closed', () => {
    for (const range of ['*', '>=0.0.0']) {
      const snap = snapshot('open', [], [ban('7', 'express', range)]);
      for (const v of LEGACY) expect([range, v, decide(snap, 'express', v).code]).toEqual([range, v, 'EBANNED']);
    }
  });

  it('a ban beats an exact approval of a legacy key', () => {
    const d = decide(snapshot('allowlist', [approval('1', 'express', '1.0.0rc')], [ban('2', 'express', '*')]), 'express', '1.0.0rc');
    expect(d.code).toBe('EBANNED');
  });

  it('messages name the legacy key as it is', () => {
    const d = decide(snapshot('allowlist'), 'express', '3.0.0alpha1');
    expect(blockMessage(d)).toContain('gatekeeper request express@3.0.0alpha1');
    expect(nextStep(d, 'admin')).toContain('gatekeeper approve express@3.0.0alpha1');
  });
});

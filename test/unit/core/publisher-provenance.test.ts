import { compilePolicy, Decision, evaluate, Exemption, PolicySnapshot } from '../../../src/core/policy';
import { explainLines } from '../../../src/core/rules';
import { previousInLine, publishedBefore, releaseLine } from '../../../src/core/rules/history';

const NOW = Date.UTC(2025, 8, 10);
const DAY = 86_400_000;
const ATTESTED = { attestations: { url: 'https://registry.example.test/-/npm/v1/attestations/x', provenance: { predicateType: 'https://slsa.dev/provenance/v1' } } };

type V = { version: string; by?: string; attested?: boolean; day: number };
function packument(versions: V[]) {
  const out: Record<string, Record<string, unknown>> = {};
  const time: Record<string, string> = {};
  for (const v of versions) {
    out[v.version] = { name: 'pkg', version: v.version, ...(v.by ? { _npmUser: { name: v.by, email: `${v.by}@example.test` } } : {}), dist: { tarball: 'x', ...(v.attested ? ATTESTED : {}) } };
    time[v.version] = new Date(NOW - (100 - v.day) * DAY).toISOString();
  }
  return { versions: out, time };
}

function snapshot(extra: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return { generation: 1, mode: 'open', approvals: [], bans: [], publishRules: [], ...extra };
}

function decide(p: ReturnType<typeof packument>, version: string, snap = snapshot()): Decision {
  return evaluate(compilePolicy(snap), { name: 'pkg', version, manifest: p.versions[version], publishedAt: p.time[version], versions: Object.keys(p.versions), packument: p, now: NOW });
}

const exemption = (rule: string): Exemption => ({ id: '9', rule, pattern: 'pkg', range: '*', reason: 'known', createdBy: 'root', createdAt: new Date(NOW) });

describe('publish history', () => {
  it('orders by publish time and finds the previous versions and release line', () => {
    const p = packument([
      { version: '1.0.0', day: 1 },
      { version: '2.0.0', day: 2 },
      { version: '1.1.0', day: 3 },
      { version: '1.2.0', day: 4 },
    ]);
    expect(publishedBefore(p, '1.2.0')).toEqual(['1.1.0', '2.0.0', '1.0.0']);
    expect(publishedBefore(p, '1.2.0', 2)).toEqual(['1.1.0', '2.0.0']);
    expect(publishedBefore(p, '1.0.0')).toEqual([]);
    expect(previousInLine(p, '1.2.0')).toBe('1.1.0');
    expect(previousInLine(p, '2.0.0')).toBeUndefined();
    expect(releaseLine('0.3.1')).toBe('0.3');
    expect(releaseLine('1.0.0beta')).toBe('1');
  });
});

describe('the new-publisher rule (ENEWPUBLISHER)', () => {
  const p = packument([
    { version: '1.0.0', by: 'alice', day: 1 },
    { version: '1.0.1', by: 'alice', day: 2 },
    { version: '1.0.2', by: 'bob', day: 3 },
    { version: '1.0.3', by: 'mallory', day: 4 },
  ]);

  it('warns by default on a version whose publisher published none of the previous ones, naming both', () => {
    const d = decide(p, '1.0.2');
    expect(d.allowed).toBe(true);
    const w = d.warnings.find((m) => m.code === 'ENEWPUBLISHER');
    expect(w?.reason).toContain('pkg@1.0.2 was published by bob, who published none of the 2 versions before it (1.0.1, 1.0.0: published by alice)');
    expect(explainLines('new-publisher', w?.details)).toEqual(['publisher: bob; before: alice']);
  });

  it('enforces, looks back N versions, and is quiet on first versions and known publishers', () => {
    const enforce = snapshot({ rules: { newPublisher: { mode: 'enforce' } } });
    expect(decide(p, '1.0.3', enforce)).toMatchObject({ allowed: false, code: 'ENEWPUBLISHER' });
    expect(decide(p, '1.0.0', enforce).allowed).toBe(true);
    expect(decide(p, '1.0.1', enforce).allowed).toBe(true);
    // With N = 1, bob's version is the only one looked at before 1.0.3; still new. Alice after bob is new with N = 1.
    const withAlice = packument([...['1.0.0', '1.0.1'].map((version, i) => ({ version, by: 'alice', day: i + 1 })), { version: '1.0.2', by: 'bob', day: 3 }, { version: '1.0.3', by: 'alice', day: 4 }]);
    expect(decide(withAlice, '1.0.3', enforce).allowed).toBe(true);
    expect(decide(withAlice, '1.0.3', snapshot({ rules: { newPublisher: { mode: 'enforce', previous: 1 } } })).code).toBe('ENEWPUBLISHER');
    // No publisher recorded: nothing to compare.
    expect(decide(packument([{ version: '1.0.0', by: 'alice', day: 1 }, { version: '1.0.1', day: 2 }]), '1.0.1', enforce).allowed).toBe(true);
  });

  it('lets exempt packages and publishers through, saying so in explain', () => {
    const byPublisher = decide(p, '1.0.2', snapshot({ rules: { newPublisher: { mode: 'enforce', publishers: ['bob'] } } }));
    expect(byPublisher.allowed).toBe(true);
    expect(byPublisher.matches.some((m) => m.rule === 'new-publisher' && m.reason.includes('bob is an exempt publisher'))).toBe(true);
    const byPackage = decide(p, '1.0.2', snapshot({ rules: { newPublisher: { mode: 'enforce' } }, exemptions: [exemption('new-publisher')] }));
    expect(byPackage.allowed).toBe(true);
    // A release-age exemption is not a new-publisher one.
    expect(decide(p, '1.0.2', snapshot({ rules: { newPublisher: { mode: 'enforce' } }, exemptions: [exemption('release-age')] })).allowed).toBe(false);
  });
});

describe('the provenance-downgrade rule (EPROVENANCEDOWNGRADE)', () => {
  const p = packument([
    { version: '1.0.0', day: 1 },
    { version: '1.1.0', attested: true, day: 2 },
    { version: '1.2.0', day: 3 },
    { version: '2.0.0', day: 4 },
    { version: '1.2.1', attested: true, day: 5 },
  ]);
  const enforce = snapshot({ rules: { provenanceDowngrade: { mode: 'enforce' } } });

  it('fires on a version without attestations after an attested one in its line, in warn and enforce', () => {
    expect(decide(p, '1.2.0').warnings.map((w) => w.code)).toEqual(['EPROVENANCEDOWNGRADE']);
    const d = decide(p, '1.2.0', enforce);
    expect(d).toMatchObject({ allowed: false, code: 'EPROVENANCEDOWNGRADE' });
    expect(d.reason).toBe('pkg@1.2.0 has no provenance (dist.attestations), while 1.1.0, the newest earlier version in its release line, has it');
  });

  it('is quiet on first versions, other lines, attested versions and exempt packages', () => {
    expect(decide(p, '1.0.0', enforce).allowed).toBe(true);
    expect(decide(p, '2.0.0', enforce).allowed).toBe(true);
    expect(decide(p, '1.2.1', enforce).allowed).toBe(true);
    expect(decide(p, '1.1.0', enforce).allowed).toBe(true);
    expect(decide(p, '1.2.0', snapshot({ rules: { provenanceDowngrade: { mode: 'enforce' } }, exemptions: [exemption('provenance-downgrade')] })).allowed).toBe(true);
  });
});

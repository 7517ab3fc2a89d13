import { CompiledLicensePolicy, describeLicense, evaluateLicense, parseLicense } from '../license';
import type { CompiledPolicy, EvaluationInput, RuleMatch, VersionManifest } from '../policy';
import { defineRule, Denial, RuleMode } from './types';

/**
 * The license rule: evaluates the version's license field against the policy, and when the
 * tarball was inspected the license in its package.json too (the stricter of the two: either
 * one not allowed is a violation). A violation is let through by an active waiver for the
 * version; otherwise it blocks with ELICENSE. Applies only while the license allowlist is set.
 */
export function licenseRule(policy: CompiledPolicy, input: EvaluationInput, matches: RuleMatch[], dependsUntil: (at: number | null) => void): Denial | undefined {
  if (!policy.license) return undefined;
  const spec = `${input.name}@${input.version}`;
  const fromTarball = input.inspection?.manifest;
  const tarballManifest = fromTarball && typeof fromTarball === 'object' ? fromTarball : undefined;
  if (!input.manifest && !tarballManifest) {
    matches.push({ rule: 'license', ruleId: null, effect: 'info', reason: 'the version is not known, so its license could not be read' });
    return undefined;
  }
  const judge = (manifest: VersionManifest) => {
    const parsed = parseLicense(manifest as { license?: unknown; licenses?: unknown });
    const verdict = evaluateLicense(parsed, policy.license as CompiledLicensePolicy);
    const details: Record<string, unknown> = {
      raw: parsed.raw ?? null,
      kind: parsed.kind,
      expression: parsed.expression ?? null,
      correctedFrom: parsed.correctedFrom ?? null,
      license: describeLicense(parsed),
      failedIds: verdict.failedIds,
      deniedIds: verdict.deniedIds,
      satisfiedBy: verdict.satisfiedBy,
    };
    return { verdict, details };
  };
  const registry = input.manifest ? judge(input.manifest) : undefined;
  const tarball = tarballManifest ? judge(tarballManifest) : undefined;
  // The registry's verdict decides the details explain shows; the tarball's is added to them.
  const main = (registry ?? tarball) as NonNullable<typeof registry>;
  const details = registry && tarball ? { ...registry.details, tarball: tarball.details } : tarball && !registry ? { ...tarball.details, source: 'tarball' } : main.details;
  const tarballNote = (verdictReason: string) =>
    registry ? `${spec}: its tarball's package.json is licensed ${verdictReason} (the registry's manifest says ${String(registry.details.license)})` : `${spec} is licensed ${verdictReason} (read from its tarball's package.json)`;
  let reason: string | undefined;
  if (registry && !registry.verdict.allowed) reason = `${spec} is licensed ${registry.verdict.reason}`;
  else if (tarball && !tarball.verdict.allowed) reason = tarballNote(tarball.verdict.reason);
  if (reason === undefined) {
    matches.push({ rule: 'license', ruleId: 'policy', effect: 'allow', reason: registry ? `${spec} is licensed ${registry.verdict.reason}` : tarballNote(main.verdict.reason), details });
    return undefined;
  }
  const waivers = (policy.waiversByName.get(input.name) ?? []).filter(
    (w) => (w.expiresAt === null || w.expiresAt.getTime() > input.now) && w.matcher.test(input.version),
  );
  if (waivers.length > 0) {
    const waiver = waivers.reduce((a, b) => ((a.expiresAt?.getTime() ?? Infinity) >= (b.expiresAt?.getTime() ?? Infinity) ? a : b));
    matches.push({ rule: 'license', ruleId: 'policy', effect: 'deny', code: 'ELICENSE', reason, details });
    const expiry = waiver.expiresAt ? `, expires ${waiver.expiresAt.toISOString()}` : '';
    matches.push({ rule: 'waiver', ruleId: waiver.id, effect: 'allow', reason: `license waived for ${waiver.name}@${waiver.range} by ${waiver.approvedBy}: ${waiver.reason}${expiry}` });
    dependsUntil(waiver.expiresAt?.getTime() ?? null);
    return undefined;
  }
  return { code: 'ELICENSE', ruleId: 'license:policy', reason, details };
}

export const license = defineRule({
  key: 'license',
  name: 'license',
  code: 'ELICENSE',
  summary:
    "only while the license allowlist is set: a version whose license the policy does not allow, unless a waiver covers it (see [licenses.md](licenses.md)); when the tarball was read, the license in its `package.json` is checked too and either one not allowed denies",
  defaults: { mode: 'enforce' as RuleMode },
  settings: [],
  check: ({ policy, input, matches, dependsUntil }) => licenseRule(policy, input, matches, dependsUntil),
  explain(details) {
    const tarball = details.tarball as { license?: unknown } | undefined;
    return tarball && typeof tarball === 'object' ? [`license: registry manifest ${String(details.license)}, tarball package.json ${String(tarball.license)}`] : [];
  },
});

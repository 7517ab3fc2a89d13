import { Advisory, firstPatched, inForce } from '../advisory';
import { formatDuration, parseDuration } from '../duration';
import { scopeOf } from '../names';
import type { CompiledPolicy, EvaluationInput } from '../policy';
import { isSemverVersion } from '../versions';
import { validation } from '../errors';
import { defineRule, Denial, Note, RuleMode, VersionContext } from './types';

export interface ReleaseAgeSettings {
  mode: RuleMode;
  minimumMs: number;
  unknownAge: 'block' | 'allow';
}

/** Versions that an advisory names (or implies) as its first fix. */
export function fixVersions(advisories: readonly Advisory[], versions: readonly string[]): Map<string, string> {
  // firstPatched works the implied fix out once per advisory and list: this stays linear in the advisories.
  const fixes = new Map<string, string>();
  for (const a of advisories) {
    // Every fix the source names (one per release line), or the implied first fix.
    // Fixes are strict semver versions: a legacy key (1.0.0beta) never skips the age gate as one.
    const named = a.fixedIn.length > 0 ? a.fixedIn.filter((v) => isSemverVersion(v)) : [firstPatched(a, versions)];
    for (const fixed of named) if (fixed) fixes.set(fixed, a.id);
  }
  return fixes;
}

export function releaseAgeRule(settings: ReleaseAgeSettings, ctx: VersionContext, exempt: string | undefined, notes: Note[], dependsUntil: (at: number) => void): Denial | undefined {
  if (settings.minimumMs <= 0 || ctx.publishedAt === undefined) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  if (exempt) {
    notes.push({ rule: 'release-age', ruleId: exempt, reason: `${spec} is exempt from the minimum release age` });
    return undefined;
  }
  // Only an advisory in force names a fix: a withdrawn or overridden one counts for nothing, and
  // a malware entry names none (the version after a hijacked one is what the hijacker publishes next).
  const fixing = ctx.advisories?.advisories.filter((a) => !a.malware && inForce(a, ctx.now));
  const fix = fixing ? fixVersions(fixing, ctx.versions ?? []).get(ctx.version) : undefined;
  if (fix) {
    notes.push({ rule: 'release-age', ruleId: `fix:${fix}`, reason: `${spec} fixes ${fix}, so it skips the minimum release age` });
    return undefined;
  }
  const minimum = formatDuration(settings.minimumMs);
  const published = ctx.publishedAt === null ? NaN : Date.parse(ctx.publishedAt);
  if (Number.isNaN(published)) {
    if (settings.unknownAge === 'allow') {
      notes.push({ rule: 'release-age', ruleId: 'unknown', reason: `${spec} has no publish time; unknown ages are allowed` });
      return undefined;
    }
    return {
      code: 'EQUARANTINED',
      ruleId: 'release-age:unknown',
      reason: `${spec} has no publish time, so its age is unknown; new versions install after ${minimum} and unknown ages are blocked`,
      brief: `${spec} has no publish time, and versions of unknown age are blocked`,
    };
  }
  const installableAt = published + settings.minimumMs;
  if (ctx.now >= installableAt) return undefined;
  dependsUntil(installableAt);
  // Absolute times, not an age: the decision is cached until installableAt, and its text must stay true meanwhile.
  return {
    code: 'EQUARANTINED',
    ruleId: 'release-age',
    reason: `${spec} was published ${utcSeconds(published)}; new versions install after ${minimum}, so it is installable after ${utcSeconds(installableAt)}`,
    brief: `${spec} is installable after ${utcSeconds(installableAt)}`,
    details: { publishedAt: new Date(published).toISOString(), installableAt: new Date(installableAt).toISOString() },
  };
}

/** A moment as ISO 8601 in UTC to the second: `2026-12-01T08:22:05Z`. */
function utcSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The exemption (`exemption:<id>`) that lets the version skip `rule`, if any. */
export function exemptionFor(policy: CompiledPolicy, input: Pick<EvaluationInput, 'name' | 'version'>, rule: string): string | undefined {
  const scope = scopeOf(input.name);
  const hit = policy.exemptions.find(
    (e) => e.rule === rule && (e.pattern === input.name || (scope !== undefined && e.pattern === `${scope}/*`)) && e.matcher.test(input.version),
  );
  return hit ? `exemption:${hit.id}` : undefined;
}

export const releaseAge = defineRule({
  key: 'releaseAge',
  name: 'release-age',
  exemptable: true,
  code: 'EQUARANTINED',
  summary: 'a version younger than the minimum age (or of unknown age, with `unknown: block`), unless an exemption covers it or it fixes an advisory',
  defaults: { mode: 'enforce' as RuleMode, minimumMs: 0, unknownAge: 'allow' as 'block' | 'allow' },
  settings: [
    {
      api: 'minimum',
      cli: 'minimum',
      values: 'a duration (`7d`, `12h`; `0` turns it off)',
      parse: (value) => ['minimumMs', parseDuration(value)],
    },
    {
      api: 'unknownAge',
      cli: 'unknown',
      values: 'allow or block',
      parse(value, key) {
        if (value !== 'allow' && value !== 'block') throw validation(`${key}.unknownAge must be 'allow' or 'block'`);
        return ['unknownAge', value];
      },
    },
  ],
  primary: 'minimum',
  view: (s) => ({ ...s, minimum: s.minimumMs === 0 ? '0' : formatDuration(s.minimumMs) }),
  show: (v) => `(minimum ${v.minimum === '0' ? '0, off' : String(v.minimum)}; unknown age: ${String(v.unknownAge)})`,
  check: ({ settings, ctx, policy, input, notes, dependsUntil }) => releaseAgeRule(settings, ctx, exemptionFor(policy, input, 'release-age'), notes, dependsUntil),
});

import { exemptionFor } from './release-age';
import { previousInLine } from './history';
import { namesSetting, publisherOf } from './new-publisher';
import { defineRule, Denial, RuleMode, RuleRun } from './types';

export interface ProvenanceSettings {
  mode: RuleMode;
  publishers: string[];
}

/** Whether a manifest carries provenance: `dist.attestations` (verifying the bundles is not this rule's job). */
export function hasAttestations(manifest: Record<string, unknown> | undefined): boolean {
  const dist = manifest?.dist;
  if (!dist || typeof dist !== 'object') return false;
  const attestations = (dist as { attestations?: unknown }).attestations;
  return !!attestations && typeof attestations === 'object';
}

export function provenanceRule(run: Pick<RuleRun<ProvenanceSettings>, 'settings' | 'ctx' | 'notes'>, exempt: string | undefined): Denial | undefined {
  const { settings, ctx, notes } = run;
  const packument = ctx.packument;
  if (!packument || hasAttestations(ctx.manifest)) return undefined;
  const previous = previousInLine(packument, ctx.version);
  if (previous === undefined || !hasAttestations(packument.versions[previous])) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  const said = `${spec} has no provenance (dist.attestations), while ${previous}, the newest earlier version in its release line, has it`;
  const publisher = publisherOf(ctx.manifest);
  if (publisher && settings.publishers.includes(publisher)) {
    notes.push({ rule: 'provenance-downgrade', ruleId: `publisher:${publisher}`, reason: `${said}; ${publisher} is an exempt publisher` });
    return undefined;
  }
  if (exempt) {
    notes.push({ rule: 'provenance-downgrade', ruleId: exempt, reason: `${said}; the package is exempt` });
    return undefined;
  }
  return { code: 'EPROVENANCEDOWNGRADE', ruleId: 'provenance-downgrade', reason: said, details: { previous, publisher: publisher ?? null } };
}

export const provenanceDowngrade = defineRule({
  key: 'provenanceDowngrade',
  name: 'provenance-downgrade',
  exemptable: true,
  code: 'EPROVENANCEDOWNGRADE',
  summary:
    'a version without provenance (`dist.attestations`) while the newest earlier version in its release line (its major; 0.x: its minor) has it (a trust downgrade); the attestations themselves are not verified; exempt per package (`gatekeeper policy exempt provenance-downgrade <name>`) or per publisher',
  defaults: { mode: 'warn' as RuleMode, publishers: [] as string[] },
  settings: [namesSetting('publishers', 'publishers', 'npm usernames whose versions never trigger it')],
  show: (v) => (Array.isArray(v.publishers) && v.publishers.length > 0 ? `(exempt publishers: ${v.publishers.join(', ')})` : ''),
  check: (run) => provenanceRule(run, exemptionFor(run.policy, run.input, 'provenance-downgrade')),
  explain: (details) => [`without provenance; ${String(details.previous)} has it`],
  nextStep: (spec, audience) =>
    audience === 'admin'
      ? `Check how it was published; if the downgrade is expected, exempt the package (gatekeeper policy exempt provenance-downgrade <name>) or its publisher (gatekeeper policy set provenance-downgrade.publishers <names>); run 'gatekeeper explain ${spec}'`
      : `Use an earlier version, or ask for it: gatekeeper request ${spec} --reason '<why you need it>'; run 'gatekeeper explain ${spec}'`,
});

import { affects, firstPatched, inForce, isSeverity, SEVERITIES, Severity, severityAtLeast } from '../advisory';
import { validation } from '../errors';
import { quoteText } from '../text';
import { defineRule, Denial, Note, oneOf, RuleMode, VersionContext } from './types';

export interface AdvisorySettings {
  mode: RuleMode;
  severity: Severity;
  unavailable: 'warn' | 'block';
}

/**
 * How long a decision made without a fresh answer from the advisory source stands: once the
 * source answers again (or the feed is read), the version is decided again within this time,
 * whether the answer reached this process as an announcement or not.
 */
export const UNCHECKED_DECISION_MS = 10_000;

export function advisoryRule(settings: AdvisorySettings, ctx: VersionContext, notes: Note[], dependsUntil: (at: number | null) => void = () => undefined): Denial | undefined {
  const known = ctx.advisories;
  if (!known) return undefined;
  if (known.status !== 'fresh') dependsUntil(ctx.now + UNCHECKED_DECISION_MS);
  const spec = `${ctx.name}@${ctx.version}`;
  // Malware is the malware rule's verdict; entries withdrawn or overridden count for nothing.
  const counted = known.advisories.filter((a) => !a.malware && inForce(a, ctx.now));
  const relevant = counted.filter((a) => severityAtLeast(a.severity, settings.severity) && affects(a, ctx.version));
  for (const a of counted.filter((x) => !relevant.includes(x) && affects(x, ctx.version))) {
    notes.push({ rule: 'advisories', ruleId: a.id, reason: `${spec}: ${a.id} (${a.severity}) is below the ${settings.severity} threshold` });
  }
  if (relevant.length > 0) {
    const worst = [...relevant].sort((a, b) => (severityAtLeast(a.severity, b.severity) ? -1 : 1))[0];
    const fixed = firstPatched(worst, ctx.versions ?? [], ctx.version);
    const more = relevant.length > 1 ? ` and ${relevant.length - 1} more` : '';
    const titled = worst.title && worst.title !== worst.id;
    return {
      code: 'EADVISORY',
      ruleId: `advisory:${worst.id}`,
      reason: `${spec}: ${quoteText(worst.id, 100)} (${worst.severity})${titled ? ` ${quoteText(worst.title)}` : ''}, ${fixed ? `fixed in ${fixed}` : 'no fixed version yet'}${more}`,
      // The fix before the title, which is cut first.
      brief: `${spec}: ${quoteText(worst.id, 60)} (${worst.severity}), ${fixed ? `fixed in ${fixed}` : 'no fixed version yet'}${more}${titled ? `: ${quoteText(worst.title, 80)}` : ''}`,
      details: { advisories: relevant.map((a) => ({ id: a.id, severity: a.severity, url: a.url, vulnerableVersions: a.vulnerableVersions })) },
    };
  }
  if (known.status === 'unchecked' && settings.unavailable === 'block') {
    return {
      code: 'EADVISORY',
      ruleId: 'advisory:unchecked',
      reason: `${spec}: its advisories could not be checked (the advisory source is unreachable), and the policy blocks unchecked packages`,
    };
  }
  if (known.status !== 'fresh') {
    notes.push({
      rule: 'advisories',
      ruleId: 'source',
      reason: `advisories for ${ctx.name} could not be checked recently (the advisory source is unreachable); decided with what is known`,
      notice: true,
    });
  }
  return undefined;
}

export const advisories = defineRule({
  key: 'advisories',
  name: 'advisories',
  code: 'EADVISORY',
  summary: 'a known advisory at or above the severity threshold (or, with `unavailable: block`, advisories that could not be checked)',
  defaults: { mode: 'enforce' as RuleMode, severity: 'critical' as Severity, unavailable: 'warn' as 'warn' | 'block' },
  settings: [
    {
      api: 'severity',
      cli: 'severity',
      values: SEVERITIES.join(', '),
      parse(value, key) {
        if (!isSeverity(value)) throw validation(`${key}.severity must be one of ${SEVERITIES.join(', ')}`);
        return ['severity', value];
      },
    },
    oneOf('unavailable', 'unavailable', ['warn', 'block']),
  ],
  show: (v) => `(severity >= ${String(v.severity)}; source unreachable: ${String(v.unavailable)})`,
  check: ({ settings, ctx, notes, dependsUntil }) => advisoryRule(settings, ctx, notes, dependsUntil),
});

import { RULE_FIELDS } from '../inspection';
import { mismatchInBrief } from '../manifest-compare';
import { shownValue } from '../text';
import { defineRule, Denial, RuleMode, VersionContext } from './types';

const FIELD_LABELS: Record<string, string> = { name: 'name', version: 'version', installScripts: 'install scripts' };

/** A value as a message shows it: JSON, on one line, printable ASCII, at most 120 characters. */
export function shown(value: unknown): string {
  // No scripts at all reads as nothing, as docs/supply-chain.md shows it.
  if (value === undefined || (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)) return 'nothing';
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return shownValue(json ?? String(value), 120);
}

/** Install scripts first in a brief: they run. */
const briefOrder = (field: string) => (field === 'installScripts' ? 0 : 1);

/**
 * The manifest rule: the tarball's own package.json is what npm acts on, so a version whose
 * tarball names another package, another version or other install scripts than the registry's
 * manifest ("manifest confusion") is refused. Applies only when the tarball was inspected.
 */
export function manifestRule(ctx: VersionContext): Denial | undefined {
  const inspection = ctx.inspection;
  if (!inspection || !Array.isArray(inspection.mismatches)) return undefined;
  const mismatches = inspection.mismatches.filter((m) => m && RULE_FIELDS.includes(m.field));
  if (mismatches.length === 0) return undefined;
  const what = mismatches
    .map((m) => `${FIELD_LABELS[m.field] ?? m.field}: the registry says ${shown(m.declared)}, the tarball's package.json says ${shown(m.actual)}`)
    .join('; ');
  return {
    code: 'EMANIFESTMISMATCH',
    ruleId: 'manifest',
    reason: `${ctx.name}@${ctx.version}: its tarball's package.json differs from the registry's manifest (${what}). npm would act on the tarball's package.json, not on what the registry shows`,
    // What differs right after the package (install scripts first), no quoted script: the status text keeps it.
    brief: `${ctx.name}@${ctx.version}: ${[...mismatches].sort((a, b) => briefOrder(a.field) - briefOrder(b.field)).map(mismatchInBrief).join('; ')} in the tarball's package.json`,
    details: { mismatches: mismatches.map((m) => ({ field: m.field, declared: m.declared, actual: m.actual })), integrity: inspection.integrity },
  };
}

export const manifest = defineRule({
  key: 'manifest',
  name: 'manifest',
  code: 'EMANIFESTMISMATCH',
  summary: "when the version's tarball was read, a `package.json` in it that differs from the registry's manifest (name, version, install scripts); without a tarball inspection the rule does not apply",
  defaults: { mode: 'enforce' as RuleMode },
  settings: [],
  show: () => "(the tarball's package.json against the registry's manifest)",
  check: ({ ctx }) => manifestRule(ctx),
  explain(details) {
    const mismatches = details.mismatches;
    if (!Array.isArray(mismatches)) return [];
    return (mismatches as Array<{ field?: unknown; declared?: unknown; actual?: unknown }>).map(
      (x) => `${String(x.field)}: registry manifest ${shown(x.declared)}, tarball package.json ${shown(x.actual)}`,
    );
  },
});

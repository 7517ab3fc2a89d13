import { isGlobPattern, PublishRule } from '../../core/publish';
import { UPLINK_NAME } from '../upstream-gateway';

/**
 * Private names are never fetched from the upstream: Verdaccio's package rules give them no
 * proxy, so neither reads, tarball downloads nor Verdaccio's own publish check ever ask the
 * upstream about them, and upstream versions are never merged into them.
 *
 * Verdaccio matches a name against its package rules in order, first match wins; the
 * private patterns come first. Rules change at run time (admin API), so the live rules
 * object of Verdaccio's configuration is rebuilt in place whenever the policy reloads.
 */

export interface PackageAccess {
  access: string[];
  publish: string[];
  unpublish: string[];
  proxy: string[];
}

export const PROXIED: PackageAccess = { access: ['$all'], publish: ['$authenticated'], unpublish: ['$authenticated'], proxy: [UPLINK_NAME] };
export const PRIVATE: PackageAccess = { ...PROXIED, proxy: [] };

/** Verdaccio's `packages` section: private patterns first, then everything proxied. */
export function packageRules(rules: readonly PublishRule[]): Record<string, PackageAccess> {
  const out: Record<string, PackageAccess> = {};
  // Glob rules (*, acme-*) make nothing private by themselves: a claimed name has its own rule.
  for (const rule of rules.filter((r) => !isGlobPattern(r.pattern))) out[rule.pattern] = { ...PRIVATE, access: [...PRIVATE.access], publish: [...PRIVATE.publish], unpublish: [...PRIVATE.unpublish], proxy: [] };
  out['@*/*'] = { ...PROXIED, proxy: [...PROXIED.proxy] };
  out['**'] = { ...PROXIED, proxy: [...PROXIED.proxy] };
  return out;
}

/** Rewrites Verdaccio's live package rules object in place (its identity is shared). */
export function applyPackageRules(live: Record<string, unknown>, rules: readonly PublishRule[]): void {
  const next = packageRules(rules);
  for (const key of Object.keys(live)) delete live[key];
  Object.assign(live, next);
}

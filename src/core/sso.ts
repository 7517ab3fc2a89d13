import { isUsername, scopeOf } from './names';
import { Role, ROLES } from './roles';

/**
 * Single sign-on decisions that need no network or database: which role the identity
 * provider's groups give, which username a sign-in gets, where the console may send a
 * browser afterwards, and what a service account token's scope allows. docs/sso.md.
 */

/** Our role for each IdP group, from the settings (`sso_admin_groups` ...). */
export type GroupRoles = Record<Role, readonly string[]>;

/** Higher is more: a user in groups of two roles gets the higher one. */
const RANK: Record<Role, number> = { reader: 0, developer: 1, publisher: 2, admin: 3 };

/** Whether moving from `from` to `to` takes something away (then the user's tokens are revoked). */
export function isDemotion(from: Role, to: Role): boolean {
  return RANK[to] < RANK[from];
}

/** The groups a claim carries: a list of strings, or one string (some IdPs send one group as a string). */
/**
 * Claim text we keep (groups, email, subject): at most `max` characters and no control
 * characters, which PostgreSQL text and jsonb cannot hold (\u0000) or logs would misread.
 */
export function isPlainClaim(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max && !/[\u0000-\u001f\u007f]/.test(value);
}

export function groupsOf(claim: unknown): string[] {
  const all = typeof claim === 'string' ? [claim] : Array.isArray(claim) ? claim : [];
  return all.filter((g): g is string => isPlainClaim(g, 1000));
}

export type RoleDecision = { kind: 'role'; role: Role; mapped: boolean; groups: string[] } | { kind: 'refused'; groups: string[] };

/**
 * The role a sign-in gets: the highest role any of the user's groups maps to; without a
 * mapped group, the default role, or a refusal when unmapped users are refused.
 */
export function roleForGroups(groups: readonly string[], mapping: GroupRoles, fallback: { defaultRole: Role; refuseUnmapped: boolean }): RoleDecision {
  let best: Role | undefined;
  const matched: string[] = [];
  for (const role of ROLES) {
    for (const group of mapping[role] ?? []) {
      if (groups.includes(group)) {
        matched.push(group);
        if (best === undefined || RANK[role] > RANK[best]) best = role;
      }
    }
  }
  if (best) return { kind: 'role', role: best, mapped: true, groups: matched };
  if (fallback.refuseUnmapped) return { kind: 'refused', groups: [] };
  return { kind: 'role', role: fallback.defaultRole, mapped: false, groups: [] };
}


/**
 * Our username for an IdP user: the configured claim (preferred_username, email, ...), with
 * an email's domain dropped and anything a username cannot hold replaced; undefined when
 * nothing usable is left (the caller refuses the sign-in).
 */
export function usernameFromClaims(claims: Record<string, unknown>, claim: string): string | undefined {
  const raw = claims[claim];
  if (typeof raw !== 'string') return undefined;
  let text = raw.trim();
  if (text.includes('@')) text = text.slice(0, text.indexOf('@'));
  text = text
    .replace(/[^a-z0-9._-]+/gi, '-')
    .replace(/^[^a-z0-9]+/i, '')
    .slice(0, 64)
    .toLowerCase();
  return isUsername(text) ? text : undefined;
}

/** `<issuer> <sub>`: who a user is at the IdP, whatever their username there becomes. */
export function externalSubject(issuer: string, sub: string): string {
  return `${issuer} ${sub}`;
}

// Where the console may send a browser afterwards: shared with the console (src/ui), in its own module.
export { CONSOLE_PREFIX, consolePathOf, safeConsolePath } from './console-path';

// ------------------------------------------------------------------ token scopes

/**
 * A token's scope, narrower than its user's role: `read` (install and explain only) or
 * `publish:@a,@b` (read, and publish only names in these scopes). Service account tokens
 * always carry one.
 */
export type TokenScope = { kind: 'read' } | { kind: 'publish'; scopes: string[] };

const SCOPE_NAME = /^@[a-z0-9][a-z0-9._-]{0,213}$/;

export function parseTokenScope(text: unknown): TokenScope | undefined {
  if (typeof text !== 'string') return undefined;
  const value = text.trim().toLowerCase();
  if (value === 'read' || value === 'read-only' || value === 'readonly') return { kind: 'read' };
  const m = /^publish:(.+)$/.exec(value);
  if (!m) return undefined;
  const scopes = [...new Set(m[1].split(',').map((s) => s.trim()).filter(Boolean))];
  if (scopes.length === 0 || scopes.length > 50 || !scopes.every((s) => SCOPE_NAME.test(s))) return undefined;
  return { kind: 'publish', scopes: scopes.sort() };
}

export function formatTokenScope(scope: TokenScope): string {
  return scope.kind === 'read' ? 'read' : `publish:${scope.scopes.join(',')}`;
}

/** Whether a scoped token may write (publish, dist-tag, unpublish) this package name. */
export function scopeAllowsWrite(scope: TokenScope | undefined, packageName: string): boolean {
  if (!scope) return true;
  if (scope.kind === 'read') return false;
  const at = scopeOf(packageName);
  return at !== undefined && scope.scopes.includes(at.toLowerCase());
}

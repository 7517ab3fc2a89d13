import { GatekeeperError } from '../../core/errors';
import { describeLicense, parseLicense } from '../../core/license';
import { assertPackageName } from '../../core/names';
import type { DecisionCode, RuleMatch } from '../../core/policy';
import { installScripts } from '../../core/rules';
import { CSRF_HEADER, SessionInfo } from '../../services/sessions';
import { clearedSessionCookie, sessionCookie, sessionCookiesOf } from '../../server/registry/session-cookie';
import { sessionOfRequest } from '../../server/registry/identity';
import { CREATED, ok, RouteDef } from '../route';

/**
 * What the web console (src/ui) needs that the rest of the API does not give: signing in and
 * out (a session cookie, see services/sessions.ts) and one package's versions with their
 * decisions. The console's typed client imports these response types.
 */

/** GET/POST /session: who is signed in; `csrfToken` is null when the caller used a token, not the cookie. */
export type SessionView = Omit<SessionInfo, 'csrfToken' | 'expiresAt'> & { csrfToken: string | null; expiresAt: string | null; csrfHeader: string };

export interface VersionRow {
  version: string;
  publishedAt: string | null;
  license: string;
  installScripts: string[];
  deprecated: string | null;
  advisories: string[];
  /** Published here (a private name) or proxied from the upstream. */
  origin: 'private' | 'upstream';
  allowed: boolean;
  code: DecisionCode;
  ruleId: string;
  reason: string;
  warnings: RuleMatch[];
}

export interface PackageView {
  name: string;
  distTags: Record<string, string>;
  /** Newest first; at most MAX_VERSIONS. */
  versions: VersionRow[];
  totalVersions: number;
}

export const MAX_VERSIONS = 200;

export const create_session: RouteDef = {
  name: 'create_session',
  method: 'post',
  path: '/session',
  access: 'public',
  responses: CREATED,
  summary:
    "The web console's sign-in: checks username and password (throttled like every login) and sets an HttpOnly, SameSite=Strict session cookie that expires; the answer carries the session's CSRF token, which state-changing calls made with the cookie send in X-Gatekeeper-CSRF",
  body: [
    { name: 'username', description: 'the username', required: true },
    { name: 'password', description: 'the password', required: true },
  ],
  handler: async ({ runtime, body, actor, req }) => {
    const { session, info } = await runtime.sessions.signIn({ username: body.username, password: body.password, ip: actor.ip });
    const view: SessionView = { ...info, csrfHeader: CSRF_HEADER };
    return { body: view, headers: { 'set-cookie': sessionCookie(runtime, req, session, runtime.sessions.ttlMs) } };
  },
};

/** GET /sign-in: how the console's sign-in page signs people in. */
export interface SignInOptions {
  /** Whether the password form is offered (password_login). */
  password: boolean;
  /** "Sign in with <name>": the IdP's name and where the button leads (with ?next=); null when SSO is off. */
  sso: { name: string; url: string } | null;
}

export const get_sign_in_options: RouteDef = {
  name: 'get_sign_in_options',
  method: 'get',
  path: '/sign-in',
  access: 'public',
  summary: "How the console's sign-in page signs people in: the password form (unless password_login is off) and \"Sign in with <IdP>\" (when SSO is configured; docs/sso.md)",
  handler: async ({ runtime }) => {
    const options: SignInOptions = {
      password: runtime.settings.passwordLogin !== false,
      sso: runtime.sso ? { name: runtime.sso.name, url: '/-/v1/login/sso/console' } : null,
    };
    return ok(options);
  },
};

export const get_session: RouteDef = {
  name: 'get_session',
  method: 'get',
  path: '/session',
  access: 'authenticated',
  summary: 'The caller (username, role) and, for a console session, its CSRF token and expiry',
  handler: async ({ runtime, principal, req }) => {
    const session = sessionOfRequest(req);
    if (session) {
      const info = await runtime.sessions.resolve(session);
      return ok({ ...info, csrfHeader: CSRF_HEADER } satisfies SessionView);
    }
    const view: SessionView = { username: principal!.username, role: principal!.role, tokenId: principal!.tokenId as number, csrfToken: null, expiresAt: null, csrfHeader: CSRF_HEADER };
    return ok(view);
  },
};

export const delete_session: RouteDef = {
  name: 'delete_session',
  method: 'delete',
  path: '/session',
  access: 'public',
  summary: "The web console's sign-out: revokes the session (it is refused on its next request, in every process) and clears the cookie",
  handler: async ({ runtime, actor, req }) => {
    const session = sessionOfRequest(req);
    if (!session) {
      if (req.headers.authorization || sessionCookiesOf(runtime, req).kind === 'none') throw new GatekeeperError('EUNAUTHENTICATED', 'there is no console session to sign out of. Sign in first');
      // Reached with a cookie only through the identity middleware, which checked its CSRF token.
      throw new GatekeeperError('ETOKENREVOKED', 'this console session has ended. Sign in again');
    }
    await runtime.sessions.signOut(actor, session);
    return { status: 200, body: { signedOut: true }, headers: { 'set-cookie': clearedSessionCookie(runtime, req) } };
  },
};

export const get_package: RouteDef = {
  name: 'get_package',
  method: 'get',
  path: '/packages/:name',
  access: 'explain',
  summary: 'One package as the console shows it: its versions, newest first, each with publish time, license, install scripts, advisories and the decision (code and reason when blocked)',
  handler: async ({ runtime, params }) => {
    const name = assertPackageName(params.name);
    const manifests = runtime.governance.manifests;
    if (!manifests) throw new GatekeeperError('EPOLICYUNAVAILABLE', 'package metadata cannot be read yet. Try again in a moment');
    const packument = await manifests.getPackument(name);
    if (!packument) throw new GatekeeperError('ENOTFOUND', `'${name}' is not in this registry or its upstream. Check the name`);
    await runtime.governance.prepare(packument);
    const time = (packument.time ?? {}) as Record<string, string>;
    const all = Object.keys(packument.versions ?? {});
    const origin = runtime.publishing.isPrivate(name) ? 'private' : 'upstream';
    const sorted = all.sort((a, b) => (Date.parse(time[b] ?? '') || 0) - (Date.parse(time[a] ?? '') || 0) || b.localeCompare(a));
    const versions = sorted.slice(0, MAX_VERSIONS).map((version): VersionRow => {
      const manifest = (packument.versions?.[version] ?? {}) as Record<string, unknown>;
      const decision = runtime.governance.decide(name, version, packument);
      const advisories = [...decision.matches, ...decision.warnings].filter((m) => m.rule.startsWith('advisor')).map((m) => m.reason);
      return {
        version,
        publishedAt: time[version] ?? null,
        license: describeLicense(parseLicense(manifest as { license?: unknown })),
        installScripts: installScripts(manifest),
        deprecated: typeof manifest.deprecated === 'string' && manifest.deprecated ? manifest.deprecated.slice(0, 500) : null,
        advisories: [...new Set(advisories)],
        origin,
        allowed: decision.allowed,
        code: decision.code,
        ruleId: decision.ruleId,
        reason: decision.reason,
        warnings: decision.warnings,
      };
    });
    const view: PackageView = { name, distTags: (packument['dist-tags'] ?? {}) as Record<string, string>, versions, totalVersions: all.length };
    return ok(view);
  },
};

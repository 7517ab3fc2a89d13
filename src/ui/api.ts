/**
 * The console's typed client of the admin API (/-/gatekeeper/v1). Every response type is the
 * server's own type (imported, type-only, from src/), as JSON carries it (dates as strings),
 * so a change on the server that the console does not follow fails `npm run build`.
 * The API decides everything; this only calls it.
 */
import type { PackageView, SessionView, SignInOptions, VersionRow } from '../admin/routes/console';
import type { Explanation, PolicyView } from '../services/governance';
import type { RequestChecks, RequestView } from '../services/requests';
import type { PackageRequest } from '../db/repositories/requests';
import type { AuditRecord } from '../db/repositories/audit';
import type { Token } from '../db/repositories/tokens';
import type { User } from '../db/repositories/users';
import type { Approval, Ban, Exemption, Waiver } from '../core/policy';
import type { PublishRule } from '../core/publish';
import type { CataloguePackage } from '../services/catalogue';
import type { Tag, TagAssignment } from '../db/repositories/tags';
import type { LicensePolicyView } from '../services/licenses';
import type { Page } from '../db/pagination';
import type { HealthReport } from '../server/runtime';
import type { ErrorCode } from '../core/errors';

/** A value as JSON carries it: dates become strings. */
export type Json<T> = T extends Date ? string : T extends Array<infer U> ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;

export type { PackageView, SessionView, SignInOptions, VersionRow, ErrorCode };
export type ExplanationJson = Json<Explanation>;
export type RequestJson = Json<RequestView>;
export type RequestSummary = Json<PackageRequest>;
export type Checks = Json<RequestChecks>;
export type AuditJson = Json<AuditRecord>;
export type TokenJson = Json<Token>;
export type UserJson = Json<User>;
export type BanJson = Json<Ban>;
export type PageOf<T> = Json<Page<T>>;

export const API = '/-/gatekeeper/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: { header: string; token: string } | undefined;

/** The header the API records a change's reason from (in the audit entry's details). */
export const REASON_HEADER = 'x-gatekeeper-reason';

export function setCsrf(session: SessionView | undefined): void {
  csrf = session?.csrfToken ? { header: session.csrfHeader, token: session.csrfToken } : undefined;
}

async function call<T>(method: string, path: string, body?: unknown, reason?: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (reason) headers[REASON_HEADER] = encodeURIComponent(reason);
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers[csrf.header] = csrf.token;
  const res = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed ?? {}) as { code?: string; error?: string; message?: string };
    throw new ApiError(res.status, e.code ?? `HTTP${res.status}`, e.message ?? e.error ?? res.statusText);
  }
  return parsed as T;
}

const q = (params: Record<string, string | number | boolean | undefined>) => {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== '') as Array<[string, string | number | boolean]>;
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}` : '';
};
const seg = encodeURIComponent;

export const api = {
  session: () => call<SessionView>('GET', '/session'),
  signIn: (username: string, password: string) => call<SessionView>('POST', '/session', { username, password }),
  signInOptions: () => call<SignInOptions>('GET', '/sign-in'),
  signOut: () => call<{ signedOut: boolean }>('DELETE', '/session'),
  health: () => call<Json<HealthReport> | { ok: boolean }>('GET', '/health'),
  catalogue: (params: { q?: string; tag?: string; cursor?: string }) => call<Json<{ items: CataloguePackage[]; nextCursor: string | null }>>('GET', `/packages${q(params)}`),
  tags: () => call<{ items: Json<Tag & { packages: number }>[] }>('GET', '/tags'),
  packageTags: (name: string) => call<{ name: string; tags: Json<TagAssignment>[] }>('GET', `/packages/${seg(name)}/tags`),
  assignTag: (name: string, tag: string) => call<unknown>('POST', `/packages/${seg(name)}/tags`, { tag }),
  unassignTag: (name: string, tag: string) => call<unknown>('DELETE', `/packages/${seg(name)}/tags/${seg(tag)}`),
  pkg: (name: string) => call<PackageView>('GET', `/packages/${seg(name)}`),
  explain: (name: string, version: string) => call<ExplanationJson>('GET', `/decisions/${seg(name)}/${seg(version)}`),
  usage: (spec: string) => call<unknown>('GET', `/usage/${seg(spec)}`),
  createRequest: (input: { name: string; range: string; reason: string; withDependencies: boolean }) => call<RequestJson>('POST', '/requests', input),
  requests: (params: { status?: string; mine?: boolean; cursor?: string }) => call<PageOf<PackageRequest>>('GET', `/requests${q(params)}`),
  request: (id: number) => call<RequestJson>('GET', `/requests/${id}`),
  approve: (id: number, comment: string, withDependencies: boolean) => call<RequestJson>('POST', `/requests/${id}/approve`, { comment, withDependencies }),
  reject: (id: number, comment: string) => call<RequestJson>('POST', `/requests/${id}/reject`, { comment }),
  policy: () => call<Json<PolicyView>>('GET', '/policy'),
  updatePolicy: (change: Record<string, unknown>, reason: string) => call<Json<PolicyView>>('PATCH', '/policy', change, reason),
  exemptions: () => call<{ items: Json<Exemption>[] }>('GET', '/policy/exemptions'),
  createExemption: (input: { name: string; range: string; reason: string }) => call<Json<Exemption>>('POST', '/policy/exemptions', { rule: 'release-age', ...input }, input.reason),
  deleteExemption: (id: string, reason: string) => call<unknown>('DELETE', `/policy/exemptions/${seg(id)}`, undefined, reason),
  licenses: () => call<LicensePolicyView>('GET', '/licenses'),
  setLicenses: (input: { allow: string[]; deny: string[]; unknown: string }, reason: string) => call<LicensePolicyView>('PUT', '/licenses', input, reason),
  waivers: () => call<PageOf<Waiver>>('GET', '/licenses/waivers'),
  createWaiver: (input: { name: string; range: string; reason: string; expiresIn?: string }) => call<Json<Waiver>>('POST', '/licenses/waivers', input, input.reason),
  deleteWaiver: (id: string, reason: string) => call<unknown>('DELETE', `/licenses/waivers/${seg(id)}`, undefined, reason),
  createApproval: (input: { name: string; range: string; reason: string; expiresIn?: string; allowScripts: boolean }) => call<Json<Approval>>('POST', '/approvals', input, input.reason),
  deleteApproval: (id: string, reason: string) => call<unknown>('DELETE', `/approvals/${seg(id)}`, undefined, reason),
  publishRules: () => call<{ items: Json<PublishRule>[] }>('GET', '/publish-rules'),
  createPublishRule: (input: { pattern: string; role?: string; user?: string }, reason: string) => call<Json<PublishRule>>('POST', '/publish-rules', input, reason),
  deletePublishRule: (id: string, reason: string) => call<unknown>('DELETE', `/publish-rules/${seg(id)}`, undefined, reason),
  setRole: (username: string, role: string) => call<UserJson>('PATCH', `/users/${seg(username)}`, { role }),
  bans: (name?: string) => call<PageOf<Ban>>('GET', `/bans${q({ name })}`),
  createBan: (input: { name: string; range: string; reason: string }) => call<BanJson>('POST', '/bans', input, input.reason),
  deleteBan: (id: number, reason?: string) => call<unknown>('DELETE', `/bans/${id}`, undefined, reason),
  approvals: (name?: string) => call<PageOf<Approval>>('GET', `/approvals${q({ name })}`),
  audit: (params: { package?: string; actor?: string; action?: string; since?: string; until?: string; cursor?: string; limit?: number }) =>
    call<PageOf<AuditRecord>>('GET', `/audit${q(params)}`),
  users: () => call<{ items: UserJson[] }>('GET', '/users'),
  createUser: (input: { username: string; password: string; role: string }) => call<UserJson>('POST', '/users', input),
  setDisabled: (username: string, disabled: boolean) => call<UserJson>('PATCH', `/users/${seg(username)}`, { disabled }),
  tokens: () => call<{ items: TokenJson[] }>('GET', '/tokens'),
  revokeToken: (id: number) => call<TokenJson>('DELETE', `/tokens/${id}`),
};

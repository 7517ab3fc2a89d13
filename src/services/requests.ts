import { randomUUID } from 'node:crypto';
import semver from 'semver';
import { CatalogueRecord, recordOfTree, recordOfVersion } from '../core/catalogue';
import { GatekeeperError, validation } from '../core/errors';
import { describeLicense, parseLicense } from '../core/license';
import { assertPackageName, assertRange, assertVersion } from '../core/names';
import { hasInstallScript, Packument } from '../core/packument';
import type { VersionManifest } from '../core/policy';
import type { Decision } from '../core/policy';
import { PackumentFetcher, resolveTree, ResolveResult } from '../core/resolve';
import { can } from '../core/roles';
import { sanitizeText } from '../core/text';
import { isSemverVersion, sortVersions } from '../core/versions';
import { chunks } from '../db/batch';
import { isUniqueViolation } from '../db/errors';
import { clampLimit, decodeCursor, Page } from '../db/pagination';
import { PackageRequest, REQUEST_STATUSES, RequestStatus } from '../db/repositories/requests';
import type { Rejection } from '../db/repositories/request-limits';
import type { Repositories, Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import { liveApprovalOf } from './approvals';
import { EventSink, NO_EVENTS } from './webhooks';
import { assertBatch, batchEntry, LOCKFILE_ENTRY_FIELDS, optionalBoolean, type GovernanceService } from './governance';
import type { Principal } from './identity';
import type { PolicyCache } from './policy-cache';
import { changePolicy } from './policy-change';

export interface VersionCheck {
  version: string;
  license: string;
  installScripts: boolean;
  deprecated: boolean;
  /** ENOTAPPROVED means: nothing but the missing approval blocks it. */
  code: string;
  reason: string;
}

export interface TreeNodeCheck {
  name: string;
  version: string;
  kind: string;
  parent: string | null;
  license: string;
  installScripts: boolean;
  allowed: boolean;
  code: string;
  reason: string;
}

export interface RequestChecks {
  versions: VersionCheck[];
  tree?: { root: string; nodes: TreeNodeCheck[]; skipped: ResolveResult['skipped'] } | { error: string };
}

export interface RequestView extends PackageRequest {
  children?: PackageRequest[];
  /** The rejected request of the same name@range this one was filed again after (within the cooldown). */
  previous?: Omit<Rejection, 'requester'>;
}

/** A rejection as a request view shows it: without who filed it. */
function shownRejection({ requester: _requester, ...shown }: Rejection): Omit<Rejection, 'requester'> {
  return shown;
}

/** Request limits (docs/catalogue.md): filings per user and hour, and the cooldown after a rejection. */
export interface RequestLimits {
  /** Requests one user may file per hour (a lockfile batch is one; auto-queued dependency requests none). */
  perHour: number;
  /** How long a rejected name@range can be filed again only with a new reason (0: no cooldown). */
  rejectionCooldownMs: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { perHour: 50, rejectionCooldownMs: 24 * 3_600_000 };

/** The request limit's window. */
export const REQUEST_LIMIT_WINDOW_MS = 3_600_000;

/** What `requests --mine` shows about the caller's limits. */
export interface LimitsView {
  perHour: number;
  used: number;
  remaining: number;
  /** When the oldest counted filing leaves the window (ISO), while any counts. */
  nextSlotAt: string | null;
  rejectionCooldown: string;
}

/** Reasons are compared without regard to case and spacing: a new reason must say something new. */
const sameReason = (a: string, b: string) => a.trim().replace(/\s+/g, ' ').toLowerCase() === b.trim().replace(/\s+/g, ' ').toLowerCase();

function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  if (seconds < 5400) return `${Math.ceil(seconds / 60)} minutes`;
  return `${Math.round(seconds / 360) / 10} hours`;
}

function formatCooldown(ms: number): string {
  if (ms <= 0) return 'none';
  if (ms % 86_400_000 === 0 && ms >= 2 * 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.ceil(ms / 1000)}s`;
}

const isAdmin = (p: Principal | undefined) => can(p?.role, 'govern');

/**
 * The refusal of a request for name@range while one is open. Its id is named only to whom
 * `GET /requests/:id` shows it (its requester, admins): to anyone else, another user's request
 * is no request of theirs, and this says only that one is open and where its outcome shows.
 */
/** A name@range left out of a batch for its recent rejection; the rejected request named only to its requester and admins. */
export interface CoolingDown {
  spec: string;
  rejectedRequestId?: number;
  until: string;
}

/** Whether the caller may be told which request another's is: their own, or an admin. */
function mayName(request: { requester: string }, actor: Actor, principal: Principal | undefined): boolean {
  return request.requester === actor.username || isAdmin(principal);
}

function alreadyOpen(name: string, range: string, open: { id: number; requester: string } | undefined, actor: Actor, principal: Principal | undefined): GatekeeperError {
  if (open && (open.requester === actor.username || isAdmin(principal))) {
    const whose = open.requester === actor.username ? 'yours' : `by ${open.requester}`;
    return new GatekeeperError('ECONFLICT', `there is already an open request for ${name}@${range}: request ${open.id} (${whose}). Wait for its decision, or cancel it first`, { id: open.id });
  }
  return new GatekeeperError(
    'ECONFLICT',
    `a request for ${name}@${range} is already open (another user filed it), so yours was not filed. Once an admin decides it, installing works if it was approved ('gatekeeper explain ${name}@<version>' shows the decision); ask an admin if you need it sooner or want to add your reason`,
  );
}

function versionCheck(version: string, manifest: VersionManifest, decision: Decision): VersionCheck {
  return {
    version,
    license: describeLicense(parseLicense(manifest as { license?: unknown; licenses?: unknown })),
    installScripts: hasInstallScript(manifest),
    deprecated: typeof manifest.deprecated === 'string' && manifest.deprecated !== '',
    code: decision.code,
    reason: decision.reason,
  };
}

/** Free text from a client (a reason, a comment): absent, or text of at most 2000 characters, stored as `sanitizeText` leaves it. */
function optionalComment(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > 2000) throw validation(`${field} must be text of at most 2000 characters`);
  const text = sanitizeText(value).trim();
  return text === '' ? undefined : text;
}

/** A request as webhook events show it (no checks: they can be large). */
function requestEvent(r: PackageRequest): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    range: r.range,
    reason: r.reason,
    requester: r.requester,
    status: r.status,
    summary: r.summary,
    ...(r.sourceRequestId !== null ? { sourceRequestId: r.sourceRequestId } : {}),
    ...(r.decidedBy ? { decidedBy: r.decidedBy, decidedAt: r.decidedAt ? new Date(r.decidedAt).toISOString() : null, comment: r.comment } : {}),
    ...(r.approvalId !== null ? { approvalId: r.approvalId } : {}),
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "MIT, no install scripts, 3 new transitive dependencies, 1 banned" */
export function summarize(checks: RequestChecks): string {
  const parts: string[] = [];
  const licenses = [...new Set(checks.versions.map((v) => v.license))];
  parts.push(licenses.length > 0 ? licenses.join(' / ') : 'no matching version');
  const scripted = checks.versions.filter((v) => v.installScripts).length;
  parts.push(scripted === 0 ? 'no install scripts' : `install scripts in ${plural(scripted, 'version')}`);
  const blocked = (code: string) => checks.versions.filter((v) => v.code === code).length + (checks.tree && 'nodes' in checks.tree ? checks.tree.nodes.filter((n) => n.code === code && n.kind !== 'root').length : 0);
  if (checks.tree && 'nodes' in checks.tree) {
    const fresh = checks.tree.nodes.filter((n) => n.kind !== 'root' && !n.allowed).length;
    parts.push(`${plural(fresh, 'new transitive dependency', 'new transitive dependencies')}`);
  } else if (checks.tree) {
    parts.push(`dependencies not resolved (${checks.tree.error})`);
  }
  const banned = blocked('EBANNED');
  if (banned > 0) parts.push(`${banned} banned`);
  const licensed = blocked('ELICENSE');
  if (licensed > 0) parts.push(`${plural(licensed, 'license violation')}`);
  return parts.join(', ');
}

/**
 * Package requests: a developer asks, the gatekeeper checks (versions on the upstream, their
 * licenses and install scripts, the dependency tree, every policy rule), an admin decides.
 * Approving creates the approval; approving with dependencies approves the resolved tree.
 */
export class RequestsService {
  constructor(
    private readonly store: Store,
    private readonly cache: PolicyCache,
    private readonly governance: GovernanceService,
    private readonly upstream: PackumentFetcher,
    private readonly limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    /** request.created and request.decided (webhooks): queued after the change commits, never awaited. */
    private readonly events: EventSink = NO_EVENTS,
  ) {}

  /**
   * Throws 429 ETOOMANYREQUESTS (with Retry-After) when `requester` has filed `perHour`
   * requests within the last hour. Filings are counted by the database's clock.
   */
  private async assertWithinLimit(repos: Repositories, requester: string): Promise<void> {
    const { at, now } = await repos.requestLimits.filings(requester, REQUEST_LIMIT_WINDOW_MS);
    if (at.length < this.limits.perHour) return;
    // The filing whose leaving the window frees a slot.
    const freeing = at[at.length - this.limits.perHour];
    const retryAfter = Math.max(1, Math.ceil((freeing.getTime() + REQUEST_LIMIT_WINDOW_MS - now.getTime()) / 1000));
    throw new GatekeeperError(
      'ETOOMANYREQUESTS',
      `${requester} has filed ${at.length} requests in the last hour, the most allowed is ${this.limits.perHour}. Try again in ${formatWait(retryAfter)}, or ask an admin to approve what you need`,
      { limit: this.limits.perHour, used: at.length, retryAfter },
      { retryAfter },
    );
  }

  /** The caller's limits as they stand now (for `requests --mine`). */
  async limitsOf(requester: string): Promise<LimitsView> {
    const { at } = await this.store.repos.requestLimits.filings(requester, REQUEST_LIMIT_WINDOW_MS);
    return {
      perHour: this.limits.perHour,
      used: at.length,
      remaining: Math.max(0, this.limits.perHour - at.length),
      nextSlotAt: at.length > 0 ? new Date(at[0].getTime() + REQUEST_LIMIT_WINDOW_MS).toISOString() : null,
      rejectionCooldown: formatCooldown(this.limits.rejectionCooldownMs),
    };
  }

  /**
   * The cooldown after a rejection: name@range rejected within it can be filed again only with
   * a reason none of those rejected requests gave (ECONFLICT otherwise). Returns the latest
   * such rejection, which the new request is linked to so that admins see both reasons.
   */
  private async assertRefilable(name: string, range: string, reason: string, actor: Actor, principal: Principal | undefined): Promise<Rejection | undefined> {
    const rejections = (await this.store.repos.requestLimits.recentRejections([{ name, range }], this.limits.rejectionCooldownMs)).get(`${name}@${range}`) ?? [];
    if (rejections.length === 0) return undefined;
    const repeated = rejections.find((r) => sameReason(r.reason, reason));
    if (repeated) {
      const until = new Date(repeated.decidedAt.getTime() + this.limits.rejectionCooldownMs);
      // The admin's comment is what a new reason must answer; another user's request itself (its
      // id) is theirs, as in alreadyOpen.
      const visible = mayName(repeated, actor, principal);
      const which = visible ? `request ${repeated.id}` : "another user's request";
      throw new GatekeeperError(
        'ECONFLICT',
        `${name}@${range} was rejected at ${repeated.decidedAt.toISOString()} (${which}${repeated.comment ? `: ${repeated.comment}` : ''}). ` +
          `Until ${until.toISOString()} it can be requested again only with a new reason that answers the rejection; this one repeats the rejected request's`,
        { ...(visible ? { rejectedRequestId: repeated.id } : {}), until: until.toISOString() },
      );
    }
    return rejections[0];
  }

  private async upstreamPackument(name: string): Promise<Packument> {
    const packument = await this.upstream(name);
    if (!packument) throw new GatekeeperError('ENOTFOUND', `${name} is not on the upstream registry. Check the name`);
    return packument;
  }

  /** The automated checks of name@range: every matching version, and the tree of the one npm would pick. */
  async check(name: string, range: string): Promise<RequestChecks> {
    return (await this.checkAndRecord(name, range)).checks;
  }

  /**
   * The checks, and what the catalogue records of them: the resolved tree's versions and
   * their dependency edges (resolved within the tree), or, when the tree cannot be resolved,
   * the newest matching version with its declared dependencies.
   */
  private async checkAndRecord(name: string, range: string): Promise<{ checks: RequestChecks; record: CatalogueRecord }> {
    const packument = await this.upstreamPackument(name);
    // A range never matches a legacy key (1.0.0beta); a request for exactly that key does.
    const versions = sortVersions(
      Object.keys(packument.versions ?? {}).filter((v) => v === range || (isSemverVersion(v) && semver.satisfies(v, range, { includePrerelease: range === '*' }))),
      true,
    );
    if (versions.length === 0) throw new GatekeeperError('ENOTFOUND', `no version of ${name} on the upstream satisfies ${range}. Check the range (npm view ${name} versions lists them)`);
    await this.governance.prepare(packument);
    const checks: RequestChecks = {
      versions: versions.map((v) => versionCheck(v, (packument.versions?.[v] ?? {}) as VersionManifest, this.governance.decide(name, v, packument, false))),
    };
    const fetched = new Map<string, Packument | undefined>([[name, packument]]);
    const fetchOnce = async (n: string) => {
      if (!fetched.has(n)) {
        const p = await this.upstream(n);
        if (p) await this.governance.prepare(p);
        fetched.set(n, p);
      }
      return fetched.get(n);
    };
    let record: CatalogueRecord = recordOfVersion(name, versions[0], (packument.versions?.[versions[0]] ?? {}) as Record<string, unknown>);
    try {
      const tree = await resolveTree(name, range, fetchOnce);
      record = recordOfTree(tree.nodes, fetched);
      checks.tree = {
        root: `${tree.nodes[0].name}@${tree.nodes[0].version}`,
        skipped: tree.skipped,
        nodes: tree.nodes.map((node) => {
          const d = this.governance.decide(node.name, node.version, fetched.get(node.name), false);
          return { ...versionCheck(node.version, node.manifest, d), name: node.name, kind: node.kind, parent: node.parent, allowed: d.allowed };
        }),
      };
    } catch (err) {
      if (!(err instanceof GatekeeperError)) throw err;
      checks.tree = { error: err.message };
    }
    return { checks, record };
  }

  /** Files a request; `principal` (the caller) decides whether a clash may name another user's open request (admins only). */
  async create(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown; withDependencies?: unknown }, principal?: Principal): Promise<RequestView> {
    const name = assertPackageName(input.name);
    const range = assertRange(input.range);
    const reason = typeof input.reason === 'string' && sanitizeText(input.reason).trim() !== '' ? sanitizeText(input.reason).trim() : undefined;
    if (!reason) throw validation('say why you need it: a request needs a reason (--reason)');
    const withDependencies = optionalBoolean(input.withDependencies, 'withDependencies') === true;
    // Limits first: a refused request costs no upstream fetch.
    await this.assertWithinLimit(this.store.repos, actor.username);
    const previous = await this.assertRefilable(name, range, reason, actor, principal);
    const { checks, record } = await this.checkAndRecord(name, range);
    const pending = await this.store.repos.requests.findPending(name, range);
    if (pending) throw alreadyOpen(name, range, pending, actor, principal);
    let created: RequestView;
    try {
      created = await this.store.transaction(async (repos) => {
        // Counted again under the requester's lock: concurrent requests cannot overrun the limit.
        await repos.requestLimits.lockRequester(actor.username);
        await this.assertWithinLimit(repos, actor.username);
        const parent = await repos.requests.save({ name, range, reason, requester: actor.username, withDependencies, checks: checks as unknown as Record<string, unknown>, summary: summarize(checks) });
        if (previous) await repos.requestLimits.annotate(parent.id, { previousRequestId: previous.id });
        await repos.audit.save(
          auditEntry(actor, 'request.create', { package: name, details: { id: parent.id, range, requestReason: reason, summary: parent.summary, ...(previous ? { previousRequestId: previous.id } : {}) } }),
        );
        const children = withDependencies ? await this.queueDependencies(repos, actor, parent, checks) : [];
        await repos.catalogue.record('request', record.versions, record.edges);
        return { ...parent, children, ...(previous ? { previous: shownRejection(previous) } : {}) };
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw alreadyOpen(name, range, await this.store.repos.requests.findPending(name, range), actor, principal);
      }
      throw err;
    }
    this.events.emit('request.created', { by: actor.username, requests: [created, ...(created.children ?? [])].map(requestEvent) });
    return created;
  }

  /** One child request per package of the tree that the policy does not allow yet. */
  private async queueDependencies(repos: Repositories, actor: Actor, parent: PackageRequest, checks: RequestChecks): Promise<PackageRequest[]> {
    if (!checks.tree || !('nodes' in checks.tree)) return [];
    const children: PackageRequest[] = [];
    for (const node of checks.tree.nodes) {
      if (node.kind === 'root' || node.allowed) continue;
      if (await repos.requests.findPending(node.name, node.version)) continue;
      const child = await repos.requests.save({
        name: node.name,
        range: node.version,
        reason: `dependency of ${parent.name}@${parent.range} (request ${parent.id}), needed by ${node.parent}`,
        requester: actor.username,
        sourceRequestId: parent.id,
        checks: { versions: [{ version: node.version, license: node.license, installScripts: node.installScripts, deprecated: false, code: node.code, reason: node.reason }] },
        summary: `${node.license}, ${node.installScripts ? 'install scripts' : 'no install scripts'}${node.code === 'EBANNED' ? ', banned' : ''}`,
      });
      children.push(child);
    }
    if (children.length > 0) {
      await repos.audit.saveMany(children.map((c) => auditEntry(actor, 'request.create', { package: c.name, details: { id: c.id, range: c.range, sourceRequestId: parent.id } })));
    }
    return children;
  }

  /**
   * Files one request per blocked name@version (a lockfile's), as one batch: at most
   * MAX_BATCH_ENTRIES entries (else 413), looked up and inserted a chunk of rows per statement.
   * Each entry is decided as `gatekeeper check` decides it (its manifest read, so its license,
   * install scripts and advisories count); a version that exists nowhere is listed in
   * `notFound`, not requested: no approval could make it install.
   */
  async createBatch(
    actor: Actor,
    input: { entries?: unknown; reason?: unknown },
    principal?: Principal,
  ): Promise<{ created: PackageRequest[]; alreadyOpen: string[]; allowed: number; notFound: string[]; coolingDown: CoolingDown[] }> {
    const reason = optionalComment(input.reason, 'reason') ?? 'needed by a lockfile';
    const blocked = new Map<string, { name: string; version: string }>();
    const notFound: string[] = [];
    let allowed = 0;
    for (const { name, version, allowed: ok, known } of await this.governance.checkEntries(input.entries)) {
      if (!known) notFound.push(`${name}@${version}`);
      else if (ok) allowed++;
      else blocked.set(`${name}@${version}`, { name, version });
    }
    // Entries rejected within the cooldown are filed again only when the batch's reason is new.
    const allSpecs = [...blocked.values()].map(({ name, version }) => ({ name, range: version }));
    const rejections = await this.store.repos.requestLimits.recentRejections(allSpecs, this.limits.rejectionCooldownMs);
    const coolingDown: CoolingDown[] = [];
    const specs = allSpecs.filter((s) => {
      const repeated = rejections.get(`${s.name}@${s.range}`)?.find((r) => sameReason(r.reason, reason));
      if (repeated) {
        coolingDown.push({
          spec: `${s.name}@${s.range}`,
          ...(mayName(repeated, actor, principal) ? { rejectedRequestId: repeated.id } : {}),
          until: new Date(repeated.decidedAt.getTime() + this.limits.rejectionCooldownMs).toISOString(),
        });
      }
      return !repeated;
    });
    // A batch is one filing towards the hourly limit.
    if (specs.length > 0) await this.assertWithinLimit(this.store.repos, actor.username);
    try {
      const result = await this.store.transaction(async (repos) => {
        const open = await repos.requests.findPendingMany(specs);
        const alreadyOpen = specs.filter((s) => open.has(`${s.name}@${s.range}`)).map((s) => `${s.name}@${s.range}`);
        const toFile = specs.filter((s) => !open.has(`${s.name}@${s.range}`));
        if (toFile.length > 0) {
          await repos.requestLimits.lockRequester(actor.username);
          await this.assertWithinLimit(repos, actor.username);
        }
        const created = await repos.requests.saveMany(toFile.map((s) => ({ ...s, reason, requester: actor.username, summary: 'filed from a lockfile' })));
        if (created.length > 0) await repos.requestLimits.annotateMany(created.map((c) => c.id), { batchId: randomUUID() });
        for (const c of created) {
          const previous = rejections.get(`${c.name}@${c.range}`)?.[0];
          if (previous) await repos.requestLimits.annotate(c.id, { previousRequestId: previous.id });
        }
        for (const part of chunks(created)) {
          await repos.audit.saveMany(part.map((c) => auditEntry(actor, 'request.create', { package: c.name, details: { id: c.id, range: c.range, batch: true } })));
        }
        return { created, alreadyOpen, allowed, notFound, coolingDown };
      });
      if (result.created.length > 0) this.events.emit('request.created', { by: actor.username, batch: true, requests: result.created.map(requestEvent) });
      return result;
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new GatekeeperError('ECONFLICT', 'another request for one of these packages was filed at the same moment; send the batch again (open requests are skipped)');
      }
      throw err;
    }
  }

  async list(
    principal: Principal | undefined,
    query: { status?: string; mine?: string; cursor?: string; limit?: unknown },
  ): Promise<Page<PackageRequest & { previousRequestId?: number }> & { limits?: LimitsView }> {
    if (query.status !== undefined && !REQUEST_STATUSES.includes(query.status as RequestStatus)) {
      throw validation(`status must be one of ${REQUEST_STATUSES.join(', ')}`);
    }
    const onlyMine = query.mine === 'true' || !isAdmin(principal);
    const page = await this.store.repos.requests.list({
      status: query.status as RequestStatus | undefined,
      requester: onlyMine ? principal?.username : undefined,
      after: decodeCursor(query.cursor),
      limit: clampLimit(query.limit),
    });
    const previous = await this.store.repos.requestLimits.previousIds(page.items.map((r) => r.id));
    const items = page.items.map((r) => (previous.has(r.id) ? { ...r, previousRequestId: previous.get(r.id) as number } : r));
    // The caller's own limits, where the caller looks at their own requests.
    const limits = onlyMine && principal ? await this.limitsOf(principal.username) : undefined;
    return { items, nextCursor: page.nextCursor, ...(limits ? { limits } : {}) };
  }

  async get(principal: Principal | undefined, id: number): Promise<RequestView> {
    const request = await this.store.repos.requests.find(id);
    if (!request || (!isAdmin(principal) && request.requester !== principal?.username)) throw new GatekeeperError('ENOTFOUND', `there is no request ${id}. 'gatekeeper requests' lists yours`);
    const previous = await this.store.repos.requestLimits.previousOf(id);
    return { ...request, children: await this.store.repos.requests.children(id), ...(previous ? { previous: shownRejection(previous) } : {}) };
  }

  async approve(actor: Actor, id: number, input: { comment?: unknown; withDependencies?: unknown }): Promise<RequestView> {
    optionalBoolean(input.withDependencies, 'withDependencies');
    const comment = optionalComment(input.comment, 'comment') ?? null;
    const withIt: number[] = [];
    const approved = await changePolicy(this.store, this.cache, actor, 'the request', async (repos) => {
      const request = await repos.requests.findForDecision(id);
      if (!request) throw new GatekeeperError('ENOTFOUND', `there is no request ${id}. List the requests with gatekeeper requests`);
      if (request.status !== 'pending') throw alreadyDecided(request.id, request.status);
      const children = await repos.requests.childrenForDecision(id);
      const approvalId = await this.ensureApproval(repos, actor, request.name, request.range, `request ${id}: ${request.reason}`);
      const decided = decidedOrConflict(request, await repos.requests.decide(id, { status: 'approved', by: actor.username, comment, approvalId }));
      await repos.audit.save(auditEntry(actor, 'request.approve', { package: request.name, ruleId: `approval:${approvalId}`, details: { id, range: request.range, comment } }));
      if (input.withDependencies === true || request.withDependencies) {
        for (const child of children.filter((c) => c.status === 'pending')) {
          withIt.push(child.id);
          const childApproval = await this.ensureApproval(repos, actor, child.name, child.range, `dependency of ${request.name}@${request.range} (request ${id})`);
          decidedOrConflict(child, await repos.requests.decide(child.id, { status: 'approved', by: actor.username, comment: `approved with request ${id}`, approvalId: childApproval }));
          await repos.audit.save(auditEntry(actor, 'request.approve', { package: child.name, ruleId: `approval:${childApproval}`, details: { id: child.id, range: child.range, sourceRequestId: id } }));
        }
      }
      return { ...decided, children: await repos.requests.children(id) };
    });
    this.decided(actor, approved, withIt);
    return approved;
  }

  /** request.decided: the request and the children this action decided with it (`withIt`, their ids). */
  private decided(actor: Actor, view: RequestView, withIt: readonly number[]): void {
    const requests = [view, ...(view.children ?? []).filter((c) => withIt.includes(c.id))];
    this.events.emit('request.decided', { by: actor.username, decision: view.status, comment: view.comment, requests: requests.map(requestEvent) });
  }

  /** The approval for name@range: the existing one, or a new one (also in place of an expired one, which approves nothing). */
  private async ensureApproval(repos: Repositories, actor: Actor, name: string, range: string, reason: string): Promise<number> {
    const existing = await liveApprovalOf(repos, actor, name, range, Date.now());
    if (existing) return Number(existing.id);
    const approval = await repos.policy.saveApproval({ pattern: name, range, reason, approvedBy: actor.username, expiresAt: null });
    await repos.audit.save(auditEntry(actor, 'approval.create', { package: name, ruleId: `approval:${approval.id}`, details: { range, approvalReason: reason } }));
    return Number(approval.id);
  }

  async close(actor: Actor, principal: Principal | undefined, id: number, status: 'rejected' | 'cancelled', input: { comment?: unknown }): Promise<RequestView> {
    const comment = optionalComment(input.comment, 'comment') ?? null;
    const withIt: number[] = [];
    const closed = await this.store.transaction(async (repos) => {
      const request = await repos.requests.findForDecision(id);
      if (!request || (status === 'cancelled' && !isAdmin(principal) && request.requester !== principal?.username)) {
        throw new GatekeeperError('ENOTFOUND', `there is no request ${id}. List the requests with gatekeeper requests`);
      }
      if (request.status !== 'pending') throw alreadyDecided(request.id, request.status);
      const children = await repos.requests.childrenForDecision(id);
      const decided = decidedOrConflict(request, await repos.requests.decide(id, { status, by: actor.username, comment }));
      const action = status === 'rejected' ? 'request.reject' : 'request.cancel';
      await repos.audit.save(auditEntry(actor, action, { package: request.name, details: { id, range: request.range, comment } }));
      for (const child of children.filter((c) => c.status === 'pending')) {
        withIt.push(child.id);
        decidedOrConflict(child, await repos.requests.decide(child.id, { status, by: actor.username, comment: `${status} with request ${id}` }));
        await repos.audit.save(auditEntry(actor, action, { package: child.name, details: { id: child.id, range: child.range, sourceRequestId: id } }));
      }
      return { ...decided, children: await repos.requests.children(id) };
    });
    this.decided(actor, closed, withIt);
    return closed;
  }

  /** `gatekeeper approve <name>@<range> --with-dependencies`: approves the resolved tree at once. */
  async approveTree(actor: Actor, input: { name?: unknown; range?: unknown; reason?: unknown }): Promise<{ approved: string[]; alreadyAllowed: string[] }> {
    const name = assertPackageName(input.name);
    const range = assertRange(input.range);
    const reason = optionalComment(input.reason, 'reason') ?? 'approved with its dependencies';
    const packuments = new Map<string, Packument | undefined>();
    const tree = await resolveTree(name, range, async (n) => {
      const p = await this.upstream(n);
      packuments.set(n, p);
      return p;
    });
    const approved: string[] = [];
    const alreadyAllowed: string[] = [];
    const record = recordOfTree(tree.nodes, packuments);
    await changePolicy(this.store, this.cache, actor, 'the approvals', async (repos) => {
      await repos.catalogue.record('approval', record.versions, record.edges);
      await this.ensureApproval(repos, actor, name, range, reason);
      approved.push(`${name}@${range}`);
      for (const node of tree.nodes.slice(1)) {
        if (this.governance.decide(node.name, node.version, packuments.get(node.name), false).allowed) {
          alreadyAllowed.push(`${node.name}@${node.version}`);
          continue;
        }
        await this.ensureApproval(repos, actor, node.name, node.version, `dependency of ${name}@${range}: ${reason}`);
        approved.push(`${node.name}@${node.version}`);
      }
    });
    return { approved, alreadyAllowed };
  }
}

/** A request that is not pending any more: deciding it again is a conflict. */
function alreadyDecided(id: number, status: string): GatekeeperError {
  return new GatekeeperError('ECONFLICT', `request ${id} is ${status} already. Look at it with gatekeeper requests show ${id}; file a new request to change the outcome`);
}

/**
 * The decided request; a conflict (rolling the whole decision back) when it was no longer
 * pending. The rows are locked (findForDecision), so this holds by construction; it is checked
 * all the same, since an approval made for a request that was decided meanwhile must not stay.
 */
function decidedOrConflict(request: PackageRequest, decided: PackageRequest | undefined): PackageRequest {
  if (!decided) throw alreadyDecided(request.id, 'decided');
  return decided;
}

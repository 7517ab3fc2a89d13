import type { RefusableWrite, RefusedWriteAction } from '../core/audit-actions';
import { GatekeeperError, validation } from '../core/errors';
import { assertPackageName, assertPackagePattern, isScopeWildcard, scopeOf } from '../core/names';
import type { Packument } from '../core/packument';
import {
  compareNewestFirst,
  isGlobPattern,
  isPrivateName,
  isValidGlob,
  mayPublish,
  PublishRequest,
  publishRefusal,
  Publisher,
  PublishRule,
  STALE_RESERVATION_MS,
  UnpublishPolicy,
  unpublishRefusal,
  versionExists,
  VersionRecord,
} from '../core/publish';
import { isRole } from '../core/roles';
import { isUniqueViolation, mapDbError } from '../db/errors';
import type { Repositories, Store } from '../db/store';
import { Actor, auditEntry, SYSTEM } from './audit';
import type { JobDefinition } from './jobs';
import type { GovernanceService } from './governance';
import type { PolicyCache } from './policy-cache';
import { changePolicy } from './policy-change';

/** Asks the upstream whether it has a package (for unscoped private names). */
export interface UpstreamProbe {
  hasPackage(name: string): Promise<boolean>;
}

export interface ConfiguredRule {
  pattern: string;
  roles?: string[];
  users?: string[];
  shadowUpstream?: boolean;
}

export interface VersionRow {
  version: string;
  publishedAt: string | null;
  integrity: string | null;
  origin: 'local' | 'upstream';
  state: 'available' | 'unpublished';
  publisher: string | null;
  allowed: boolean;
  code: string;
  reason: string;
}

/** How a publish that was not stored was answered: its status, and the code and message the client got. */
export interface PublishOutcome {
  status: number;
  code: string;
  reason: string;
}

/** A reservation of name@version: confirm it once the publish stored, release it if it failed. */
export interface Reservation {
  confirm(): Promise<void>;
  /**
   * The publish was answered with an error: the reservation is freed, with what the publish
   * wrote; but a version storage holds nevertheless is recorded as published instead.
   */
  release(outcome: PublishOutcome): Promise<void>;
}

/** A version as storage holds it: the digests of its stored tarball, and when it was stored. */
export interface StoredVersion {
  integrity: string;
  shasum: string;
  publishedAt?: Date;
}

/**
 * What storage (Verdaccio's document and tarballs) holds of a version. The database's record
 * and storage are written one after the other, so a publish killed between them leaves a
 * reservation whose version is stored (served, never confirmed) or a tarball whose version is
 * not (an orphan, which would make every later publish of the version fail).
 */
export interface StoredVersions {
  /** The version, when the package's stored document lists it; undefined when it does not. */
  find(name: string, version: string): Promise<StoredVersion | undefined>;
  /** Removes the tarball of a version the stored document does not list (under the package's lock); whether one was removed. */
  removeOrphan(name: string, version: string): Promise<boolean>;
}

/** How often stale reservations are looked for, and how many a run settles. */
const RECONCILE_INTERVAL_MS = 5 * 60_000;
const RECONCILE_BATCH = 100;

/**
 * Private publishing. Each name@version is recorded when it is first published and the
 * record outlives any unpublish, so the version can never be published again, even with
 * identical bytes. Concurrent publishes of one version race on the primary key: exactly one
 * insert wins, every other one maps its 23505 to the same 409 EVERSIONEXISTS.
 */
export class PublishingService {
  constructor(
    private readonly store: Store,
    private readonly cache: PolicyCache,
    private readonly governance: GovernanceService,
    private readonly upstream: UpstreamProbe,
    private readonly stored: StoredVersions,
    private readonly unpublishPolicy: UnpublishPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  private rules(): PublishRule[] {
    return this.cache.current().publishRules;
  }

  isPrivate(name: string): boolean {
    return isPrivateName(this.rules(), name);
  }

  mayPublish(who: Publisher | undefined, name: string): boolean {
    return mayPublish(this.rules(), who, name);
  }

  /** Throws EFORBIDDEN / ENOTPRIVATE / EUNAUTHENTICATED when `who` may not write `name`. */
  assertMayPublish(who: Publisher | undefined, name: string): void {
    const refusal = publishRefusal(this.rules(), who, name);
    if (refusal) throw refusal;
  }

  /**
   * Reserves name@version for a publish, or throws its refusal (which the caller audits as
   * package.publish_refused). A name a glob rule lets `who` claim is claimed only after the
   * version is reserved, so the loser of a race for the same version never claims; a claim
   * made here is released with the reservation when the publish fails.
   */
  async reserve(actor: Actor, who: Publisher | undefined, request: PublishRequest): Promise<Reservation> {
    const { name, version, tarball } = request;
    const refusal = publishRefusal(this.rules(), who, name, { claim: true });
    if (refusal) throw await this.withUpstreamName(refusal, who, name);
    const publisher = who as Publisher;
    const claiming = !this.isPrivate(name);
    if (claiming) await this.assertNotUpstream(publisher, name);
    const reservation = await this.claim(actor, { name, version, integrity: tarball.integrity, shasum: tarball.shasum, publisher: publisher.username });
    let claimed: PublishRule | undefined;
    try {
      // The version is ours now. Storage may list it already (its record was lost) or hold a tarball
      // a failed or killed publish of it wrote: Verdaccio would refuse to write over that tarball.
      const stored = await this.stored.find(name, version);
      if (stored) throw versionExists(await this.recordStored(actor, { name, version, publisher: publisher.username }, stored, 'its record was missing'));
      await this.stored.removeOrphan(name, version);
      if (claiming) claimed = await this.claimName(actor, publisher, name);
    } catch (err) {
      await this.store.repos.publishing.release(name, version).catch(() => undefined);
      throw err;
    }
    let settled = false;
    return {
      confirm: async () => {
        if (settled) return;
        settled = true;
        await this.store.transaction(async (repos) => {
          await repos.publishing.confirm(name, version);
          await repos.audit.save(auditEntry(actor, 'package.publish', { package: name, version, details: { integrity: tarball.integrity, shasum: tarball.shasum } }));
        });
      },
      release: async (outcome: PublishOutcome) => {
        if (settled) return;
        settled = true;
        // A 4xx refused the client's publish; a 5xx is a failure of ours.
        const action = outcome.status < 500 ? 'package.publish_refused' : 'package.publish_failed';
        const details = { code: outcome.code, reason: outcome.reason, status: outcome.status };
        const why = `the registry answered ${outcome.status} after storing it`;
        // Settles this publish's own reservation and audits what the client was told, unless the version
        // was stored nevertheless (a write after the version's): then it is published, never released,
        // and audited as such (recordStoredIn). Returns whether the version is not published.
        const failed = async (repos: Repositories): Promise<boolean> => {
          const state = await this.settleIn(repos, actor, { name, version, publisher: publisher.username }, { reservedAt: reservation.reservedAt }, why);
          if (state === 'published') return false;
          await repos.audit.save(auditEntry(actor, action, { package: name, version, details }));
          return true;
        };
        const rule = claimed;
        try {
          if (!rule) return void (await this.store.transaction(failed));
          // The claim came with this publish: it goes with it, unless another version of the name
          // (the same claimant's concurrent publish) is reserved or published meanwhile.
          await this.change(actor, async (repos) => {
            await repos.publishing.lockName(name);
            if (!(await failed(repos))) return;
            if ((await repos.publishing.list(name)).length > 0) return;
            if (!(await repos.publishing.removeRule(Number(rule.id)))) return;
            await repos.audit.save(
              auditEntry(actor, 'publish_rule.delete', {
                package: name,
                ruleId: `publish:${rule.id}`,
                details: { principalType: rule.principalType, principal: rule.principal, source: 'claim', why: `the publish of ${name}@${version} that claimed the name failed` },
              }),
            );
          });
        } catch (err) {
          // Storage could not be read or cleaned: whether the version was stored is unknown, so it stays
          // reserved, and the reconcile job settles it once stale.
          const kept = `the publish could not be settled (${(err as Error).message}); the version stays reserved until it is settled once stale`;
          await this.store.repos.audit.save(auditEntry(actor, action, { package: name, version, details: { ...details, kept } }));
        }
      },
    };
  }

  /**
   * The refusal of an unscoped name that is not private says whether the upstream has it: a
   * plain publish rule for such a name is refused (EUPSTREAMNAME), so the next step is not "ask
   * for a publish rule" (ENOTPRIVATE names a scoped name or --shadow-upstream instead), also
   * when a glob rule for someone else covers it. An upstream that cannot be asked leaves the
   * refusal as it is.
   */
  private async withUpstreamName(refusal: GatekeeperError, who: Publisher | undefined, name: string): Promise<GatekeeperError> {
    if (!who || scopeOf(name) || this.isPrivate(name) || (refusal.code !== 'ENOTPRIVATE' && refusal.code !== 'EFORBIDDEN')) return refusal;
    const upstreamHas = await this.upstream.hasPackage(name).catch(() => false);
    return upstreamHas ? (publishRefusal(this.rules(), who, name, { claim: true, upstreamHas }) ?? refusal) : refusal;
  }

  /**
   * The first publish of a name a glob rule covers: the name is claimed when the upstream does
   * not have it, recorded as a rule for the name and its publisher (a policy change, so every
   * process stops proxying it at once) and audited. From then on the name is private, whatever
   * appears upstream later. A name the upstream has stays refused (dependency confusion): an
   * admin may still declare it with --shadow-upstream. Fails closed: an upstream that cannot
   * be asked refuses the claim.
   */
  private async assertNotUpstream(who: Publisher, name: string): Promise<void> {
    if (await this.upstream.hasPackage(name)) {
      throw new GatekeeperError(
        'EUPSTREAMNAME',
        `${name} exists on the upstream registry, so it cannot be claimed by publishing it here (dependency confusion). ` +
          `Pick another name, or an admin can declare it private on purpose: gatekeeper publish-rule add ${name} --user ${who.username} --shadow-upstream`,
      );
    }
  }

  /**
   * Records the claim (the upstream was asked already): one claimant per name. Under the
   * name's lock the rules are read again from the database, so of two publishers claiming at
   * once the second sees the first's claim and is refused like anyone the claim does not name
   * (a glob rule grants nothing on a claimed name: see mayPublish), or, when it names them,
   * needs no claim. Returns the rule it made, if any.
   */
  private async claimName(actor: Actor, who: Publisher, name: string): Promise<PublishRule | undefined> {
    return this.change(actor, async (repos) => {
      await repos.publishing.lockName(name);
      const rules = await repos.publishing.listRules();
      const refusal = publishRefusal(rules, who, name, { claim: true });
      if (refusal) throw refusal;
      if (isPrivateName(rules, name)) return undefined;
      const rule = await repos.publishing.saveRule({ pattern: name, principalType: 'user', principal: who.username, shadowUpstream: false, createdBy: who.username, source: 'claim' });
      await repos.audit.save(auditEntry(actor, 'package.claim', { package: name, ruleId: `publish:${rule.id}`, details: { by: who.username, role: who.role } }));
      return rule;
    });
  }

  /**
   * Records a version storage holds as published, with the stored tarball's digests: its
   * reservation is confirmed (or made, when it was lost) and audited as package.publish by its
   * publisher. Returns the record as it is now (published, or whatever it was meanwhile).
   */
  private recordStored(actor: Actor, record: { name: string; version: string; publisher: string }, stored: StoredVersion, why: string): Promise<VersionRecord> {
    return this.store.transaction((repos) => this.recordStoredIn(repos, actor, record, stored, why));
  }

  private async recordStoredIn(repos: Repositories, actor: Actor, record: { name: string; version: string; publisher: string }, stored: StoredVersion, why: string): Promise<VersionRecord> {
    const { name, version, publisher } = record;
    const reconciled = await repos.publishing.reconcile(name, version, stored);
    const now = reconciled ?? (await repos.publishing.find(name, version));
    if (!now) throw new GatekeeperError('ECONFLICT', `${name}@${version} is being published concurrently; retry`);
    if (reconciled) {
      await repos.audit.save(
        auditEntry({ username: publisher }, 'package.publish', {
          package: name,
          version,
          details: { integrity: stored.integrity, shasum: stored.shasum, recovered: `recorded from storage: ${why}`, noticedBy: actor.username },
        }),
      );
    }
    return now;
  }

  /**
   * Settles a reservation its publish left unconfirmed, in `repos`'s transaction and holding the
   * reservation's row lock throughout (lockReservation), so no other publish of the version can
   * reserve it and write its tarball meanwhile (removing "an orphan" then would delete that
   * publish's tarball). A version storage holds is recorded as published (recordStoredIn, with
   * `why`); otherwise the tarball the publish left is removed and the reservation released.
   * Undefined when the reservation `which` names is not there (any more). Throws, keeping the
   * reservation, when storage cannot be read or cleaned.
   */
  private async settleIn(
    repos: Repositories,
    actor: Actor,
    record: { name: string; version: string; publisher: string },
    which: { reservedAt: Date } | { olderThan: Date },
    why: string,
  ): Promise<'published' | 'released' | undefined> {
    const { name, version } = record;
    if (!(await repos.publishing.lockReservation(name, version, which))) return undefined;
    const stored = await this.stored.find(name, version);
    if (stored) return (await this.recordStoredIn(repos, actor, record, stored, why)).state === 'published' ? 'published' : undefined;
    await this.stored.removeOrphan(name, version);
    await repos.publishing.release(name, version);
    return 'released';
  }

  /**
   * Settles reservations whose publish died (its process killed between reserving the version
   * and answering) without waiting for the version's next publish: see settleDead.
   * RECONCILE_BATCH at a time; returns how many were settled.
   */
  async reconcileStale(signal?: AbortSignal): Promise<number> {
    const olderThan = new Date(this.now() - STALE_RESERVATION_MS);
    let settled = 0;
    const failed: string[] = [];
    for (const record of await this.store.repos.publishing.listStale(olderThan, RECONCILE_BATCH)) {
      if (signal?.aborted) break;
      // One version that cannot be settled (its storage unreadable) does not hold back the rest; the run fails after them, naming it.
      try {
        if (await this.settleDead(SYSTEM, record, olderThan)) settled++;
      } catch (err) {
        failed.push(`${record.name}@${record.version}: ${(err as Error).message}`);
      }
    }
    if (failed.length > 0) throw new Error(`${failed.length} stale reservation(s) could not be settled: ${failed.slice(0, 5).join('; ')}`);
    return settled;
  }

  /**
   * A reservation older than `olderThan` (its publish died) is settled (settleIn): a version
   * storage holds is recorded as published, any other is released, with what its publish left in
   * storage, and audited as package.publish_failed by the system, so it can be published again.
   * `actor` is who noticed: the reconcile job, or the next publish of the version.
   */
  private settleDead(actor: Actor, record: VersionRecord, olderThan: Date): Promise<'published' | 'released' | undefined> {
    return this.store.transaction(async (repos) => {
      const state = await this.settleIn(repos, actor, record, { olderThan }, 'its publish stored it but died before recording it');
      if (state === 'released') {
        const details = { reason: 'its publish died before storing it: the reservation was released', publisher: record.publisher, noticedBy: actor.username };
        await repos.audit.save(auditEntry(SYSTEM, 'package.publish_failed', { package: record.name, version: record.version, details }));
      }
      return state;
    });
  }

  /** The job that settles stale reservations (reconcileStale), every RECONCILE_INTERVAL_MS. */
  reconcileJob(): JobDefinition {
    return { name: 'publishing.reconcile', intervalMs: RECONCILE_INTERVAL_MS, run: (signal) => this.reconcileStale(signal).then(() => undefined) };
  }

  /** Reserves the version (see reserve), settling first a stale reservation of it whose publish died (settleDead). */
  private async claim(actor: Actor, record: { name: string; version: string; integrity: string; shasum: string; publisher: string }): Promise<VersionRecord> {
    const repo = this.store.repos.publishing;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await repo.reserve(record);
      } catch (err) {
        if (!isUniqueViolation(err)) throw mapDbError(err, `${record.name}@${record.version}`);
        const existing = await repo.find(record.name, record.version);
        if (!existing) continue; // released meanwhile: try once more
        const stale = existing.state === 'reserved' && existing.reservedAt.getTime() < this.now() - STALE_RESERVATION_MS;
        if (!stale || attempt > 0) throw versionExists(existing);
        // Its publish died. If it stored the version first, the version is published: never reclaimed for other bytes.
        if ((await this.settleDead(actor, existing, new Date(this.now() - STALE_RESERVATION_MS))) === 'published') {
          throw versionExists((await repo.find(record.name, record.version)) ?? existing);
        }
        // Released, by this or by whoever settled it first: try once more.
      }
    }
    const existing = await repo.find(record.name, record.version);
    throw existing ? versionExists(existing) : new GatekeeperError('ECONFLICT', `${record.name}@${record.version} is being published concurrently; retry`);
  }

  /** Checks that `who` may remove these versions; throws the first refusal. */
  async assertMayUnpublish(who: Publisher | undefined, name: string, versions: string[]): Promise<void> {
    this.assertMayPublish(who, name);
    const records = new Map((await this.store.repos.publishing.list(name)).map((r) => [r.version, r]));
    for (const version of versions) {
      const refusal = unpublishRefusal(this.unpublishPolicy, who as Publisher, records.get(version), this.now());
      if (refusal) throw refusal;
    }
  }

  async recordUnpublished(actor: Actor, name: string, versions: string[]): Promise<void> {
    await this.store.transaction(async (repos) => {
      await repos.publishing.markUnpublished(name, versions, actor.username);
      await repos.audit.saveMany(versions.map((version) => auditEntry(actor, 'package.unpublish', { package: name, version })));
    });
  }

  /** Every version ever published (or being published) here, unpublished ones included: such a version can never be published again. */
  recordedVersions(name: string): Promise<VersionRecord[]> {
    return this.store.repos.publishing.list(name);
  }

  async versionState(name: string, version: string): Promise<VersionRecord | undefined> {
    return this.store.repos.publishing.find(name, version);
  }

  async recordWrite(actor: Actor, action: 'package.deprecate' | 'package.dist_tag', name: string, details: Record<string, unknown>, version?: string): Promise<void> {
    await this.recordWrites(actor, name, [{ action, version, details }]);
  }

  /** Several changes of one stored write, in one insert. */
  async recordWrites(actor: Actor, name: string, writes: Array<{ action: 'package.deprecate' | 'package.dist_tag'; version?: string; details: Record<string, unknown> }>): Promise<void> {
    if (writes.length === 0) return;
    await this.store.repos.audit.saveMany(writes.map((w) => auditEntry(actor, w.action, { package: name, version: w.version ?? null, details: w.details })));
  }

  /** Audits the removal of a tarball of a version no longer listed (the last step of npm unpublish). */
  async recordTarballRemoved(actor: Actor, name: string, filename: string, version: string | undefined): Promise<void> {
    await this.store.repos.audit.save(auditEntry(actor, 'package.remove_tarball', { package: name, version: version ?? null, details: { filename } }));
  }

  /** Audits a refused registry write (`${write}_refused`) with its code and message. */
  async recordRefusedWrite(actor: Actor, write: RefusableWrite, name: string, err: unknown, version?: string): Promise<void> {
    const code = err instanceof GatekeeperError ? err.code : 'EINTERNAL';
    const action: RefusedWriteAction = `${write}_refused`;
    await this.store.repos.audit.save(auditEntry(actor, action, { package: name || null, version: version ?? null, details: { code, reason: (err as Error).message } }));
  }

  /** Every version ever known, local or proxied, newest first, with today's decision. */
  async listVersions(nameInput: string, packument: Packument | undefined): Promise<{ name: string; versions: VersionRow[]; message?: string }> {
    const name = assertPackageName(nameInput);
    const records = await this.store.repos.publishing.list(name);
    const local = new Map(records.filter((r) => r.state !== 'reserved').map((r) => [r.version, r]));
    const rows: VersionRow[] = [];
    if (packument) await this.governance.prepare(packument);
    const decide = (version: string) => this.governance.decide(name, version, packument);
    for (const record of local.values()) {
      const d = decide(record.version);
      rows.push({
        version: record.version,
        publishedAt: record.publishedAt?.toISOString() ?? null,
        integrity: record.integrity,
        origin: 'local',
        state: record.state === 'unpublished' ? 'unpublished' : 'available',
        publisher: record.publisher,
        allowed: d.allowed,
        code: d.code,
        reason: d.reason,
      });
    }
    for (const [version, manifest] of Object.entries(packument?.versions ?? {})) {
      if (local.has(version)) continue;
      const d = decide(version);
      const dist = (manifest.dist ?? {}) as { integrity?: string };
      rows.push({
        version,
        publishedAt: packument?.time?.[version] ?? null,
        integrity: dist.integrity ?? null,
        origin: 'upstream',
        state: 'available',
        publisher: null,
        allowed: d.allowed,
        code: d.code,
        reason: d.reason,
      });
    }
    rows.sort(compareNewestFirst);
    if (rows.length === 0) {
      return { name, versions: [], message: `no version of ${name} is known: it was never published here and the upstream does not have it` };
    }
    return { name, versions: rows };
  }

  // Rules (admin)

  listRules(): Promise<PublishRule[]> {
    return this.store.repos.publishing.listRules();
  }

  async addRule(actor: Actor, input: { pattern?: unknown; role?: unknown; user?: unknown; shadowUpstream?: unknown }): Promise<PublishRule> {
    if (input.pattern === undefined || input.pattern === null) throw validation('pattern is required: a package name, a scope wildcard such as @acme/* or a glob such as @acme/ui-*');
    const pattern = typeof input.pattern === 'string' && isValidGlob(input.pattern) ? input.pattern : assertPackagePattern(input.pattern);
    if ((input.role === undefined) === (input.user === undefined)) throw validation('a publish rule names either a role or a user');
    if (input.role !== undefined && !isRole(input.role)) throw validation('role must be one of admin, publisher, developer, reader');
    if (input.user !== undefined && (typeof input.user !== 'string' || !(await this.store.repos.users.find(input.user)))) {
      throw new GatekeeperError('ENOTFOUND', `there is no user '${String(input.user)}'. Check the name ('gatekeeper user list' lists them)`);
    }
    const shadowUpstream = input.shadowUpstream === true;
    if (!isScopeWildcard(pattern) && !isGlobPattern(pattern) && !pattern.startsWith('@') && !shadowUpstream && (await this.upstream.hasPackage(pattern))) {
      throw new GatekeeperError(
        'EUPSTREAMNAME',
        `${pattern} exists on the upstream registry; declaring it private would hide the upstream package from everyone (dependency confusion). ` +
          `If that is intended, add the rule with shadowUpstream (gatekeeper publish-rule add ${pattern} --shadow-upstream ...)`,
      );
    }
    const principalType = input.role !== undefined ? 'role' : 'user';
    const principal = String(input.role ?? input.user);
    return this.change(actor, async (repos) => {
      const rule = await repos.publishing.saveRule({ pattern, principalType, principal, shadowUpstream, createdBy: actor.username });
      await repos.audit.save(auditEntry(actor, 'publish_rule.create', { package: pattern, ruleId: `publish:${rule.id}`, details: { principalType, principal, shadowUpstream } }));
      return rule;
    });
  }

  async removeRule(actor: Actor, id: number): Promise<PublishRule> {
    return this.change(actor, async (repos) => {
      const rule = await repos.publishing.removeRule(id);
      if (!rule) throw new GatekeeperError('ENOTFOUND', `there is no publish rule ${id}. 'gatekeeper publish-rule list' lists them`);
      await repos.audit.save(auditEntry(actor, 'publish_rule.delete', { package: rule.pattern, ruleId: `publish:${id}`, details: { principalType: rule.principalType, principal: rule.principal } }));
      return rule;
    });
  }

  /** Rules from the configuration file, added at start unless already present. */
  async seedRules(rules: ConfiguredRule[]): Promise<number> {
    let added = 0;
    await this.change({ username: '$config' }, async (repos) => {
      for (const rule of rules) {
        const pattern = typeof rule.pattern === 'string' && isValidGlob(rule.pattern) ? rule.pattern : assertPackagePattern(rule.pattern);
        const principals = [...(rule.roles ?? []).map((r) => ['role', r] as const), ...(rule.users ?? []).map((u) => ['user', u] as const)];
        for (const [principalType, principal] of principals) {
          if (principalType === 'role' && !isRole(principal)) throw validation(`publish rule ${pattern}: '${principal}' is not a role`);
          if (await repos.publishing.saveRuleIfMissing({ pattern, principalType, principal, shadowUpstream: rule.shadowUpstream === true, createdBy: '$config', source: 'config' })) {
            added++;
            await repos.audit.save(auditEntry({ username: '$config' }, 'publish_rule.create', { package: pattern, details: { principalType, principal, source: 'config' } }));
          }
        }
      }
    });
    return added;
  }

  private change<T>(actor: Actor, fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return changePolicy(this.store, this.cache, actor, 'the publish rule', fn);
  }
}

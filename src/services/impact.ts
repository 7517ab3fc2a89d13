import type { Logger } from 'pino';
import { Advisory, affects, inForce } from '../core/advisory';
import { validation } from '../core/errors';
import { assertPackageName } from '../core/names';
import type { ImpactChange, ImpactEntry, ImpactRecord, ImpactState, ProjectUse } from '../db/repositories/impact';
import type { Store } from '../db/store';
import type { EventSink } from './webhooks';

const STATES: readonly ImpactState[] = ['open', 'resolved', 'withdrawn', 'overridden'];

/**
 * Impact records: when an advisory or malware entry affects a version that a recorded project
 * uses (`gatekeeper check --record`, POST /projects), a record lists the entry, the affected
 * versions in use and the projects. Brought up to date when a package's entries change (OSV
 * import, directory sync, the feed, the upstream's answers, an admin's flag or override) and
 * when a project is recorded; idempotent (a repeated import adds nothing). A new record, or
 * projects added to one, send `malware.in_use` or `advisory.in_use`.
 */
export class ImpactService {
  constructor(
    private readonly store: Store,
    private readonly events: EventSink,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Brings the records of these packages' entries up to date. Returns the changes that added projects. */
  async evaluate(packages: readonly string[]): Promise<ImpactChange[]> {
    const names = [...new Set(packages)];
    if (names.length === 0) return [];
    const repos = this.store.repos;
    const [advisories, uses, recorded] = await Promise.all([repos.advisories.listMany(names), repos.impact.uses(names), repos.impact.recordedKeys(names)]);
    const usesOf = new Map<string, ProjectUse[]>();
    for (const u of uses) {
      const list = usesOf.get(u.package);
      if (list) list.push(u);
      else usesOf.set(u.package, [u]);
    }
    const changes: ImpactChange[] = [];
    for (const name of names) {
      for (const advisory of advisories.get(name) ?? []) {
        const active = inForce(advisory, this.now());
        const affected = active ? (usesOf.get(name) ?? []).filter((u) => affects(advisory, u.version)) : [];
        // Nothing to make and nothing to update: no query.
        if (affected.length === 0 && !recorded.has(`${name} ${advisory.key}`)) continue;
        const entry = toEntry(advisory, active);
        const change = await this.store.transaction((trx) => trx.impact.apply(entry, affected));
        if (!change) continue;
        if (change.added.length > 0) {
          changes.push(change);
          this.announce(advisory, change);
        }
      }
    }
    return changes;
  }

  /** After a project was recorded: its packages that have entries, and those of records that list it (it may have moved off them). */
  async projectRecorded(projectId: number, packages: readonly string[]): Promise<ImpactChange[]> {
    const withEntries = await this.store.repos.advisories.packagesWithEntries([...new Set(packages)]);
    const listed = await this.store.repos.impact.packagesListing(projectId);
    return this.evaluate([...withEntries, ...listed]);
  }

  private announce(advisory: Advisory, change: ImpactChange): void {
    const event = advisory.malware ? 'malware.in_use' : 'advisory.in_use';
    this.logger?.warn({ package: advisory.name, advisory: advisory.id, projects: change.added.map((u) => `${u.project}@${u.projectVersion}`) }, `${event}: recorded projects use an affected version`);
    this.events.emit(event, {
      impactId: change.id,
      created: change.created,
      package: advisory.name,
      advisory: { id: advisory.id, key: advisory.key, title: advisory.title, url: advisory.url, severity: advisory.severity, malware: advisory.malware === true, source: advisory.source, vulnerableVersions: advisory.vulnerableVersions },
      versions: [...new Set(change.added.map((u) => u.version))],
      projects: change.added.map((u) => ({ name: u.project, version: u.projectVersion, uses: `${advisory.name}@${u.version}` })),
    });
  }

  async list(query: { package?: string; state?: string } = {}): Promise<{ items: ImpactRecord[] }> {
    const pkg = query.package === undefined || query.package === '' ? undefined : assertPackageName(query.package);
    if (query.state !== undefined && query.state !== '' && !STATES.includes(query.state as ImpactState)) throw validation(`state must be one of ${STATES.join(', ')}`);
    const state = query.state ? (query.state as ImpactState) : undefined;
    return { items: await this.store.repos.impact.list({ package: pkg, state }) };
  }
}

function toEntry(a: Advisory, active: boolean): ImpactEntry {
  return {
    package: a.name,
    key: a.key,
    id: a.id,
    title: a.title,
    severity: a.severity,
    malware: a.malware === true,
    ...(active ? {} : { notInForce: a.overridden ? 'overridden' : 'withdrawn' }),
  };
}

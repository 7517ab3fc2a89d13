import { GatekeeperError, validation } from '../core/errors';
import { assertPackageName, assertVersion } from '../core/names';
import { can, Role } from '../core/roles';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';
import type { CatalogueService } from './catalogue';
import type { ImpactService } from './impact';
import { assertBatch, batchEntry, LOCKFILE_ENTRY_FIELDS } from './governance';

/** Optional text of at most `max` characters; absent or empty gives undefined. */
function optionalText(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > max) throw validation(`${field} must be text of at most ${max} characters`);
  return value;
}

export interface ProjectInput {
  name?: unknown;
  version?: unknown;
  format?: unknown;
  entries?: unknown;
}

/** Projects: which package@version (integrity pinned) a lockfile uses, for impact views. */
export class ProjectsService {
  constructor(
    private readonly store: Store,
    /** Where the members and their dependency edges are recorded (see docs/catalogue.md). */
    private readonly catalogue?: CatalogueService,
    /** Impact records: a project recorded with a version under an advisory makes or extends one. */
    private readonly impact?: ImpactService,
    private readonly onImpactError?: (err: unknown) => void,
  ) {}

  async record(
    actor: Actor,
    input: ProjectInput,
    /** The caller: who may replace a project version someone else recorded (a role that governs). */
    principal: { role: Role } | undefined,
  ): Promise<{ id: number; name: string; version: string; packages: number; dependencies?: { versions: number; edges: number; unread: number } }> {
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 214) throw validation('a project needs a name (from its package.json) of at most 214 characters');
    const version = optionalText(input.version, 'version', 256) ?? '0.0.0';
    const format = optionalText(input.format, 'format', 64) ?? 'unknown';
    // One row per name@version (the table's key): a repeated entry is dev-only only if every copy is.
    const members = new Map<string, { name: string; version: string; integrity: string | null; dev: boolean }>();
    for (const [i, e] of assertBatch(input.entries, 'entries', '{name, version, integrity}').entries()) {
      const { name, version, entry } = batchEntry(e, i, 'entries', LOCKFILE_ENTRY_FIELDS);
      let member: { name: string; version: string; integrity: string | null; dev: boolean };
      try {
        member = { name, version, integrity: optionalText(entry.integrity, 'integrity', 1024) ?? null, dev: entry.dev === true };
      } catch (err) {
        throw new GatekeeperError((err as GatekeeperError).code ?? 'EVALIDATION', `entries[${i}]: ${(err as Error).message}`);
      }
      const key = `${member.name}@${member.version}`;
      const seen = members.get(key);
      if (seen) {
        seen.dev = seen.dev && member.dev;
        seen.integrity ??= member.integrity;
      } else members.set(key, member);
    }
    const name = input.name.trim();
    // A recorded project version is its recorder's: anyone else replacing it would erase its
    // usage (and mark impact records resolved). Only a role that governs may.
    const onlyOwn = !(principal && can(principal.role, 'govern'));
    const id = await this.store.transaction(async (repos) => {
      const saved = await repos.projects.save({ name, version, lockfileFormat: format, recordedBy: actor.username }, [...members.values()], { onlyOwn });
      if (typeof saved !== 'number') {
        throw new GatekeeperError(
          'EFORBIDDEN',
          `the project ${name}@${version} was recorded by ${saved.recordedBy}; only they or an admin may record it again. Record your lockfile under another project version or name, or ask ${saved.recordedBy} to record it`,
          { recordedBy: saved.recordedBy },
        );
      }
      const projectId = saved;
      await repos.audit.save(auditEntry(actor, 'project.record', { details: { project: name, version, packages: members.size } }));
      return projectId;
    });
    // The members and the edges among them go into the catalogue (for `dependents`).
    const dependencies = this.catalogue ? await this.catalogue.recordLockfile([...members.values()]) : undefined;
    // Impact records (and their webhook events) for versions under an advisory; never fails the recording.
    await this.impact?.projectRecorded(id, [...new Set([...members.values()].map((m) => m.name))]).catch((err) => this.onImpactError?.(err));
    return { id, name, version, packages: members.size, ...(dependencies ? { dependencies } : {}) };
  }

  async usage(nameInput: string, versionInput: string | undefined) {
    const name = assertPackageName(nameInput);
    const version = versionInput ? assertVersion(versionInput) : undefined;
    const projects = await this.store.repos.projects.usage(name, version);
    return { name, version: version ?? null, projects };
  }
}

import { validation } from '../core/errors';
import { assertPackageName, assertVersion } from '../core/names';
import type { Store } from '../db/store';
import { Actor, auditEntry } from './audit';

export interface ProjectInput {
  name?: unknown;
  version?: unknown;
  format?: unknown;
  entries?: unknown;
}

/** Projects: which package@version (integrity pinned) a lockfile uses, for impact views. */
export class ProjectsService {
  constructor(private readonly store: Store) {}

  async record(actor: Actor, input: ProjectInput): Promise<{ id: number; name: string; version: string; packages: number }> {
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 214) throw validation('a project needs a name (from its package.json)');
    const version = typeof input.version === 'string' && input.version ? input.version : '0.0.0';
    const format = typeof input.format === 'string' ? input.format : 'unknown';
    if (!Array.isArray(input.entries)) throw validation('entries must be a list of {name, version, integrity}');
    const members = (input.entries as Array<{ name?: unknown; version?: unknown; integrity?: unknown; dev?: unknown }>).map((e) => ({
      name: assertPackageName(e?.name),
      version: assertVersion(e?.version),
      integrity: typeof e?.integrity === 'string' ? e.integrity : null,
      dev: e?.dev === true,
    }));
    const name = input.name.trim();
    const id = await this.store.transaction(async (repos) => {
      const projectId = await repos.projects.save({ name, version, lockfileFormat: format, recordedBy: actor.username }, members);
      await repos.audit.save(auditEntry(actor, 'project.record', { details: { project: name, version, packages: members.length } }));
      return projectId;
    });
    return { id, name, version, packages: members.length };
  }

  async usage(nameInput: string, versionInput: string | undefined) {
    const name = assertPackageName(nameInput);
    const version = versionInput ? assertVersion(versionInput) : undefined;
    const projects = await this.store.repos.projects.usage(name, version);
    return { name, version: version ?? null, projects };
  }
}

import { assertColour, assertSlug, assertTagDescription, assertTagName, slugify } from '../core/catalogue';
import { GatekeeperError, validation } from '../core/errors';
import { assertPackageName } from '../core/names';
import { Approval } from '../core/policy';
import { isUniqueViolation } from '../db/errors';
import { clampLimit, decodeCursor, Page } from '../db/pagination';
import type { Tag, TagAssignment } from '../db/repositories/tags';
import type { Repositories, Store } from '../db/store';
import { Actor, auditEntry } from './audit';

export interface TagInput {
  name?: unknown;
  slug?: unknown;
  colour?: unknown;
  /** The US spelling is accepted too. */
  color?: unknown;
  description?: unknown;
}

const notFound = (ref: string) => new GatekeeperError('ENOTFOUND', `there is no tag '${ref.length > 64 ? `${ref.slice(0, 61)}...` : ref}'; list them with 'gatekeeper tag list'`);

/** What a tag's slug or name refers to: at most 64 characters, else no tag has it. */
function tagRef(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw validation('name a tag by its slug or its name');
  return value.trim();
}

/**
 * Tags: flat labels on packages (`database`, `http-clients`). Admins create, rename and
 * delete them (deleting is soft: the row stays, it leaves every package, its name and slug
 * are free again); admins and publishers assign them, each assignment remembering who and
 * when. Every change is audited in the same transaction.
 */
export class TagsService {
  constructor(private readonly store: Store) {}

  private async conflictFor(name: string | undefined, slug: string | undefined, except?: number): Promise<GatekeeperError | undefined> {
    const repo = this.store.repos.tags;
    const byName = name !== undefined ? await repo.findLiveByName(name) : undefined;
    if (byName && byName.id !== except) return new GatekeeperError('ECONFLICT', `a tag named '${byName.name}' exists already (slug ${byName.slug}). Use that tag, or choose another name`, { slug: byName.slug });
    const bySlug = slug !== undefined ? await repo.findLiveBySlug(slug) : undefined;
    if (bySlug && bySlug.id !== except) return new GatekeeperError('ECONFLICT', `the slug '${slug}' belongs to the tag '${bySlug.name}' already; choose another with --slug`, { slug });
    return undefined;
  }

  async create(actor: Actor, input: TagInput): Promise<Tag> {
    const name = assertTagName(input.name);
    const slug = input.slug === undefined || input.slug === null || input.slug === '' ? slugify(name) : assertSlug(input.slug);
    if (slug === '') throw validation(`'${name}' gives no slug (it has no letters or digits); give one with --slug`);
    const colour = assertColour(input.colour ?? input.color ?? null);
    const description = assertTagDescription(input.description);
    const conflict = await this.conflictFor(name, slug);
    if (conflict) throw conflict;
    try {
      return await this.store.transaction(async (repos) => {
        const tag = await repos.tags.save({ name, slug, colour, description, createdBy: actor.username });
        await repos.audit.save(auditEntry(actor, 'tag.create', { details: { id: tag.id, name, slug, colour, description } }));
        return tag;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw (await this.conflictFor(name, slug)) ?? new GatekeeperError('ECONFLICT', `a tag named '${name}' or with the slug '${slug}' was created at the same moment. Use that tag, or choose another name`);
      throw err;
    }
  }

  async list(query: { all?: string }): Promise<{ items: Array<Tag & { packages: number }> }> {
    return { items: await this.store.repos.tags.list(query.all === 'true') };
  }

  /** A live tag by slug or name; 404 when there is none. */
  async resolve(ref: unknown, repos: Repositories = this.store.repos): Promise<Tag> {
    const text = tagRef(ref);
    const tag = text.length <= 64 ? await repos.tags.findLive(text) : undefined;
    if (!tag) throw notFound(text);
    return tag;
  }

  /** Renames a tag or changes its slug, colour or description; what is not given stays. */
  async update(actor: Actor, ref: unknown, input: TagInput): Promise<Tag> {
    const known = ['name', 'slug', 'colour', 'color', 'description'];
    const unknownKeys = Object.keys(input).filter((k) => !known.includes(k));
    if (unknownKeys.length > 0) throw validation(`a tag has no field ${unknownKeys.join(', ')}; it has name, slug, colour and description`);
    const change: { name?: string; slug?: string; colour?: string | null; description?: string | null } = {};
    if (input.name !== undefined) change.name = assertTagName(input.name);
    if (input.slug !== undefined) change.slug = assertSlug(input.slug);
    if (input.colour !== undefined || input.color !== undefined) change.colour = assertColour(input.colour ?? input.color);
    if (input.description !== undefined) change.description = assertTagDescription(input.description);
    if (Object.keys(change).length === 0) throw validation('give at least one of name, slug, colour or description to change');
    const before = await this.resolve(ref);
    // Only the fields whose value differs are changed; none of them: nothing to update or audit.
    for (const key of Object.keys(change) as Array<keyof typeof change>) if (change[key] === before[key]) delete change[key];
    if (Object.keys(change).length === 0) return before;
    const conflict = await this.conflictFor(change.name, change.slug, before.id);
    if (conflict) throw conflict;
    try {
      return await this.store.transaction(async (repos) => {
        const after = await repos.tags.update(before.id, change, actor.username);
        if (!after) throw notFound(String(ref));
        const from = Object.fromEntries(Object.keys(change).map((k) => [k, before[k as keyof Tag]]));
        await repos.audit.save(auditEntry(actor, 'tag.update', { details: { id: before.id, slug: after.slug, from, to: change } }));
        return after;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw (await this.conflictFor(change.name, change.slug, before.id)) ?? new GatekeeperError('ECONFLICT', 'another tag took that name or slug at the same moment. Choose another name');
      throw err;
    }
  }

  async remove(actor: Actor, ref: unknown): Promise<Tag> {
    return this.store.transaction(async (repos) => {
      const tag = await this.resolve(ref, repos);
      const deleted = await repos.tags.softDelete(tag.id, actor.username);
      if (!deleted) throw notFound(String(ref));
      await repos.audit.save(auditEntry(actor, 'tag.delete', { details: { id: tag.id, name: tag.name, slug: tag.slug } }));
      return deleted;
    });
  }

  async forPackage(nameInput: unknown): Promise<{ name: string; tags: TagAssignment[] }> {
    const name = assertPackageName(nameInput);
    return { name, tags: (await this.store.repos.tags.forPackages([name])).get(name) ?? [] };
  }

  forPackages(names: readonly string[]): Promise<Map<string, TagAssignment[]>> {
    return this.store.repos.tags.forPackages(names);
  }

  async assign(actor: Actor, nameInput: unknown, ref: unknown): Promise<{ name: string; tag: string; assignedBy: string; assignedAt: Date; tags: TagAssignment[] }> {
    const name = assertPackageName(nameInput);
    const assignment = await this.store.transaction(async (repos) => {
      const tag = await this.resolve(ref, repos);
      const done = await repos.tags.assign(tag.id, name, actor.username);
      if (!done) throw new GatekeeperError('ECONFLICT', `${name} carries the tag '${tag.slug}' already. Nothing needs doing`, { tag: tag.slug });
      await repos.audit.save(auditEntry(actor, 'tag.assign', { package: name, details: { tag: tag.slug, tagId: tag.id } }));
      return { tag: tag.slug, ...done };
    });
    return { name, ...assignment, tags: (await this.forPackage(name)).tags };
  }

  async unassign(actor: Actor, nameInput: unknown, ref: unknown): Promise<{ name: string; tag: string; tags: TagAssignment[] }> {
    const name = assertPackageName(nameInput);
    const slug = await this.store.transaction(async (repos) => {
      const tag = await this.resolve(ref, repos);
      const removed = await repos.tags.unassign(tag.id, name);
      if (!removed) throw new GatekeeperError('ENOTFOUND', `${name} does not carry the tag '${tag.slug}'. Nothing needs doing`);
      await repos.audit.save(auditEntry(actor, 'tag.unassign', { package: name, details: { tag: tag.slug, tagId: tag.id, assignedBy: removed.assignedBy, assignedAt: removed.assignedAt } }));
      return tag.slug;
    });
    return { name, tag: slug, tags: (await this.forPackage(name)).tags };
  }

  /** `GET /approvals?tag=`: the approvals of packages carrying the tag. */
  async approvals(query: { tag?: string; name?: string; cursor?: string; limit?: unknown }): Promise<Page<Approval>> {
    const tag = await this.resolve(query.tag);
    return this.store.repos.tags.approvalsWithTag(tag.id, { name: query.name, after: decodeCursor(query.cursor), limit: clampLimit(query.limit) });
  }
}

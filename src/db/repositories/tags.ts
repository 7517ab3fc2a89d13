import type { Knex } from 'knex';
import type { Approval } from '../../core/policy';
import { chunks } from '../batch';
import { Page, toPage } from '../pagination';

export interface Tag {
  id: number;
  name: string;
  slug: string;
  colour: string | null;
  description: string | null;
  createdBy: string;
  createdAt: Date;
  updatedBy: string | null;
  updatedAt: Date;
  deletedBy: string | null;
  deletedAt: Date | null;
}

/** A tag as it appears on a package, with who assigned it and when. */
export interface TagAssignment {
  package: string;
  slug: string;
  name: string;
  colour: string | null;
  assignedBy: string;
  assignedAt: Date;
}

interface TagRow {
  id: number;
  name: string;
  slug: string;
  colour: string | null;
  description: string | null;
  created_by: string;
  created_at: Date;
  updated_by: string | null;
  updated_at: Date;
  deleted_by: string | null;
  deleted_at: Date | null;
}

function toTag(row: TagRow): Tag {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    colour: row.colour,
    description: row.description,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
    deletedBy: row.deleted_by,
    deletedAt: row.deleted_at,
  };
}

/** Tags (soft-deleted, never removed) and their assignments to packages. */
export class TagRepository {
  constructor(private readonly db: Knex) {}

  /** Throws the unique violation (23505) of tags_name_live or tags_slug_live. */
  async save(tag: { name: string; slug: string; colour: string | null; description: string | null; createdBy: string }): Promise<Tag> {
    const [row] = await this.db<TagRow>('tags')
      .insert({ name: tag.name, slug: tag.slug, colour: tag.colour, description: tag.description, created_by: tag.createdBy })
      .returning('*');
    return toTag(row);
  }

  /** A live tag by slug, else by name (without regard to case). */
  async findLive(ref: string): Promise<Tag | undefined> {
    const bySlug = await this.db<TagRow>('tags').where({ slug: ref }).whereNull('deleted_at').first();
    if (bySlug) return toTag(bySlug);
    const byName = await this.db<TagRow>('tags').whereRaw('lower(name) = lower(?)', [ref]).whereNull('deleted_at').first();
    return byName ? toTag(byName) : undefined;
  }

  async findLiveByName(name: string): Promise<Tag | undefined> {
    const row = await this.db<TagRow>('tags').whereRaw('lower(name) = lower(?)', [name]).whereNull('deleted_at').first();
    return row ? toTag(row) : undefined;
  }

  async findLiveBySlug(slug: string): Promise<Tag | undefined> {
    const row = await this.db<TagRow>('tags').where({ slug }).whereNull('deleted_at').first();
    return row ? toTag(row) : undefined;
  }

  /** Live tags by name, each with how many packages carry it; with deleted ones too when asked. */
  async list(includeDeleted: boolean): Promise<Array<Tag & { packages: number }>> {
    const query = this.db('tags as t')
      .select('t.*', this.db.raw('(select count(*)::int from package_tags pt where pt.tag_id = t.id) as packages'))
      .orderByRaw('lower(t.name), t.id');
    if (!includeDeleted) query.whereNull('t.deleted_at');
    return ((await query) as Array<TagRow & { packages: number }>).map((row) => ({ ...toTag(row), packages: row.packages }));
  }

  /** Changes a live tag; throws the unique violations of save. */
  async update(id: number, change: { name?: string; slug?: string; colour?: string | null; description?: string | null }, by: string): Promise<Tag | undefined> {
    const [row] = await this.db<TagRow>('tags')
      .where({ id })
      .whereNull('deleted_at')
      .update({ ...change, updated_by: by, updated_at: this.db.fn.now() as unknown as Date })
      .returning('*');
    return row ? toTag(row) : undefined;
  }

  async softDelete(id: number, by: string): Promise<Tag | undefined> {
    const [row] = await this.db<TagRow>('tags')
      .where({ id })
      .whereNull('deleted_at')
      .update({ deleted_by: by, deleted_at: this.db.fn.now() as unknown as Date })
      .returning('*');
    return row ? toTag(row) : undefined;
  }

  /** Assigns; returns undefined when the package carries the tag already. */
  async assign(tagId: number, pkg: string, by: string): Promise<{ assignedBy: string; assignedAt: Date } | undefined> {
    await this.db('catalogue_packages').insert({ name: pkg, first_source: 'tag' }).onConflict('name').ignore();
    const [row] = await this.db('package_tags').insert({ tag_id: tagId, package: pkg, assigned_by: by }).onConflict(['tag_id', 'package']).ignore().returning(['assigned_by', 'assigned_at']);
    return row ? { assignedBy: row.assigned_by, assignedAt: row.assigned_at } : undefined;
  }

  async unassign(tagId: number, pkg: string): Promise<{ assignedBy: string; assignedAt: Date } | undefined> {
    const [row] = await this.db('package_tags').where({ tag_id: tagId, package: pkg }).del().returning(['assigned_by', 'assigned_at']);
    return row ? { assignedBy: row.assigned_by, assignedAt: row.assigned_at } : undefined;
  }

  /** The live tags of these packages, keyed by package name; a chunk of names per query. */
  async forPackages(names: readonly string[]): Promise<Map<string, TagAssignment[]>> {
    const out = new Map<string, TagAssignment[]>(names.map((n) => [n, []]));
    for (const part of chunks([...new Set(names)])) {
      const rows = (await this.db('package_tags as pt')
        .join('tags as t', 't.id', 'pt.tag_id')
        .whereNull('t.deleted_at')
        .whereIn('pt.package', part)
        .orderByRaw('lower(t.name)')
        .select('pt.package', 't.slug', 't.name', 't.colour', 'pt.assigned_by', 'pt.assigned_at')) as Array<{
        package: string;
        slug: string;
        name: string;
        colour: string | null;
        assigned_by: string;
        assigned_at: Date;
      }>;
      for (const r of rows) out.get(r.package)?.push({ package: r.package, slug: r.slug, name: r.name, colour: r.colour, assignedBy: r.assigned_by, assignedAt: r.assigned_at });
    }
    return out;
  }

  /**
   * Approvals for packages carrying a tag, oldest first: approvals of a tagged name, and scope
   * approvals (`@acme/*`) of a scope a tagged package belongs to.
   */
  async approvalsWithTag(tagId: number, filter: { name?: string; after?: number; limit: number }): Promise<Page<Approval>> {
    const query = this.db('approvals as a')
      .where((w) =>
        w
          .whereExists(this.db('package_tags as pt').where('pt.tag_id', tagId).whereRaw('pt.package = a.pattern'))
          .orWhere((s) =>
            s.whereRaw(`a.pattern like '@%/*'`).whereExists(
              this.db('package_tags as pt')
                .where('pt.tag_id', tagId)
                .whereRaw(`pt.package like replace(replace(left(a.pattern, length(a.pattern) - 1), '_', '\\_'), '%', '\\%') || '%'`),
            ),
          ),
      )
      .orderBy('a.id')
      .limit(filter.limit + 1)
      .select('a.*');
    if (filter.name) query.where('a.pattern', filter.name);
    if (filter.after !== undefined) query.where('a.id', '>', filter.after);
    const rows = (await query) as Array<{
      id: number;
      pattern: string;
      range: string;
      reason: string;
      approved_by: string;
      created_at: Date;
      expires_at: Date | null;
      allow_scripts: boolean;
    }>;
    const page = toPage(rows, filter.limit);
    return {
      items: page.items.map((row) => ({
        id: String(row.id),
        pattern: row.pattern,
        range: row.range,
        reason: row.reason,
        approvedBy: row.approved_by,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        allowScripts: row.allow_scripts === true,
      })),
      nextCursor: page.nextCursor,
    };
  }
}

import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

interface TagView {
  id: number;
  name: string;
  slug: string;
  colour: string | null;
  description: string | null;
  packages?: number;
  deletedAt?: string | null;
}

interface Assignment {
  slug: string;
  name: string;
  colour: string | null;
  assignedBy: string;
  assignedAt: string;
}

const shown = (t: TagView) => `${t.name} (${t.slug}${t.colour ? `, ${t.colour}` : ''})`;

/** The fields a flag sets; `--colour ''` clears the colour, `--description ''` the description (`--color` is parsed as `--colour`). */
function tagFields(flags: Record<string, string | true>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, field] of [
    ['slug', 'slug'],
    ['colour', 'colour'],
    ['description', 'description'],
  ] as const) {
    const value = flags[flag];
    if (value === true) throw new UsageError(`--${flag} needs a value`);
    if (value !== undefined) out[field] = value === '' && field !== 'slug' ? null : value;
  }
  return out;
}

export const tag: Command = {
  name: 'tag',
  forms: ['create <name> [--slug] [--colour] [--description] [--json]', 'list [--package] [--all] [--json]', 'rename <tag> [<new name>] [--slug] [--colour] [--description] [--json]', 'delete <tag> [--json]', 'add <package> <tag> [--json]', 'remove <package> <tag> [--json]'],
  flags: { slug: { value: 'S' }, colour: { value: '#rrggbb' }, color: { value: '#rrggbb', aliasOf: 'colour' }, description: { value: 'D' }, package: { value: 'P' }, all: {}, json: {}, ...REGISTRY_FLAG },
  summary: 'Tags on packages: admins create, rename and delete them; admins and publishers add them to packages and remove them',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'create, list, rename, delete, add or remove');
    switch (action) {
      case 'create': {
        const name = requirePositional(args, 1, 'a tag name');
        const created = await api.request<TagView>('POST', '/tags', { name, ...tagFields(args.flags) });
        io.out(args.flags.json ? json(created) : line`created tag ${shown(created)}`);
        return 0;
      }
      case 'list': {
        const pkg = stringFlag(args, 'package');
        if (pkg) {
          const view = await api.request<{ name: string; tags: Assignment[] }>('GET', `/packages/${enc(pkg)}/tags`);
          io.out(args.flags.json ? json(view) : view.tags.length === 0 ? line`${view.name} has no tags` : table(view.tags as unknown as Array<Record<string, unknown>>, ['slug', 'name', 'colour', 'assignedBy', 'assignedAt']));
          return 0;
        }
        const { items } = await api.request<{ items: TagView[] }>('GET', `/tags${args.flags.all ? '?all=true' : ''}`);
        io.out(args.flags.json ? json(items) : table(items as unknown as Array<Record<string, unknown>>, ['slug', 'name', 'colour', 'packages', 'description', ...(args.flags.all ? ['deletedAt'] : [])]));
        return 0;
      }
      case 'rename': {
        const ref = requirePositional(args, 1, 'the tag (slug or name)');
        const name = args.positionals[2];
        const fields = tagFields(args.flags);
        if (!name && Object.keys(fields).length === 0) throw new UsageError('give the new name (or --slug, --colour, --description)');
        const updated = await api.request<TagView>('PATCH', `/tags/${enc(ref)}`, { ...(name ? { name } : {}), ...fields });
        io.out(args.flags.json ? json(updated) : line`tag ${ref} is now ${shown(updated)}`);
        return 0;
      }
      case 'delete': {
        const ref = requirePositional(args, 1, 'the tag (slug or name)');
        const deleted = await api.request<TagView>('DELETE', `/tags/${enc(ref)}`);
        io.out(args.flags.json ? json(deleted) : line`deleted tag ${shown(deleted)}; it no longer appears on any package`);
        return 0;
      }
      case 'add': {
        const pkg = requirePositional(args, 1, 'a package name');
        const ref = requirePositional(args, 2, 'a tag (slug or name)');
        const result = await api.request<{ name: string; tag: string; tags: Assignment[] }>('POST', `/packages/${enc(pkg)}/tags`, { tag: ref });
        io.out(args.flags.json ? json(result) : line`${result.name} is tagged ${result.tag} (tags: ${result.tags.map((t) => t.slug).join(', ')})`);
        return 0;
      }
      case 'remove': {
        const pkg = requirePositional(args, 1, 'a package name');
        const ref = requirePositional(args, 2, 'a tag (slug or name)');
        const result = await api.request<{ name: string; tag: string; tags: Assignment[] }>('DELETE', `/packages/${enc(pkg)}/tags/${enc(ref)}`);
        io.out(args.flags.json ? json(result) : line`${result.name} is no longer tagged ${result.tag}${result.tags.length ? ` (tags: ${result.tags.map((t) => t.slug).join(', ')})` : ''}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown action '${action}'`);
    }
  },
};

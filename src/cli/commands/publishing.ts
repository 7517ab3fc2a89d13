import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { cell, json, line, table } from '../output';

interface VersionsView {
  name: string;
  message?: string;
  tags?: Array<{ slug: string }>;
  versions: Array<{ version: string; publishedAt: string | null; integrity: string | null; origin: string; state: string; allowed: boolean; code: string; reason: string }>;
}

export const versions: Command = {
  name: 'versions',
  forms: ['<name> [--json]', '--tag [--cursor] [--json]'],
  flags: { tag: { value: 'T' }, cursor: { value: 'C' }, json: {}, ...REGISTRY_FLAG },
  summary: 'Every version ever known, newest first: published, integrity, origin, state, and whether policy allows it (of one package, or of each package with a tag)',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const tag = stringFlag(args, 'tag');
    const show = (view: VersionsView) => {
      if (view.versions.length === 0) {
        io.out(view.message !== undefined ? cell(view.message) : line`no version of ${view.name} is known`);
        return;
      }
      const rows = view.versions.map((v) => ({ ...v, policy: v.allowed ? 'allowed' : `${v.code}: ${v.reason}` }));
      io.out(table(rows, ['version', 'publishedAt', 'origin', 'state', 'integrity', 'policy']));
    };
    if (tag && args.positionals.length === 0) {
      const cursor = stringFlag(args, 'cursor');
      const page = await api.request<{ tag: string; items: VersionsView[]; nextCursor: string | null }>('GET', `/versions?tag=${enc(tag)}${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      if (args.flags.json) {
        io.out(json(page));
        return 0;
      }
      if (page.items.length === 0) io.out(line`no package carries the tag ${page.tag}`);
      for (const view of page.items) {
        io.out(line`${view.name} (tags: ${(view.tags ?? []).map((t) => t.slug).join(', ')})`);
        show(view);
        io.out('');
      }
      if (page.nextCursor) io.out(line`more: add --cursor ${page.nextCursor}`);
      return 0;
    }
    const name = requirePositional(args, 0, 'a package name (or --tag T)');
    const view = await api.request<VersionsView>('GET', `/packages/${enc(name)}/versions`);
    if (args.flags.json) {
      io.out(json(view));
      return 0;
    }
    if (view.tags?.length) io.out(line`tags: ${view.tags.map((t) => t.slug).join(', ')}`);
    show(view);
    return 0;
  },
};

export const publishRule: Command = {
  name: 'publish-rule',
  forms: ['add <name|@scope/*> (--role | --user) [--shadow-upstream]', 'list [--json]', 'remove <id>'],
  flags: { role: { value: 'R' }, user: { value: 'U' }, 'shadow-upstream': {}, json: {}, ...REGISTRY_FLAG },
  summary: 'Declare private names and who may publish them (admin)',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'add, list or remove');
    if (action === 'add') {
      const pattern = requirePositional(args, 1, 'a name or @scope/*');
      const role = stringFlag(args, 'role');
      const user = stringFlag(args, 'user');
      if (!role === !user) throw new UsageError('give exactly one of --role or --user');
      const rule = await api.request<{ id: string }>('POST', '/publish-rules', { pattern, role, user, shadowUpstream: args.flags['shadow-upstream'] === true || undefined });
      io.out(line`${pattern} is private; ${role ? `role ${role}` : `user ${user}`} may publish it (rule ${rule.id})`);
      return 0;
    }
    if (action === 'list') {
      const { items } = await api.request<{ items: Array<Record<string, unknown>> }>('GET', '/publish-rules');
      io.out(args.flags.json ? json(items) : table(items, ['id', 'pattern', 'principalType', 'principal', 'shadowUpstream', 'createdBy']));
      return 0;
    }
    if (action === 'remove') {
      const id = requirePositional(args, 1, 'a rule id');
      const removed = await api.request<{ pattern: string }>('DELETE', `/publish-rules/${enc(id)}`);
      io.out(line`removed publish rule ${id} (${removed.pattern})`);
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

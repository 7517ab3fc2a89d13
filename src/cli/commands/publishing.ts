import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import type { Command } from '../command';
import { json, table } from '../output';

interface VersionsView {
  name: string;
  message?: string;
  tags?: Array<{ slug: string }>;
  versions: Array<{ version: string; publishedAt: string | null; integrity: string | null; origin: string; state: string; allowed: boolean; code: string; reason: string }>;
}

export const versions: Command = {
  name: 'versions',
  usage: 'gatekeeper versions <name> [--json] | versions --tag T [--cursor C] [--json]',
  summary: 'Every version ever known, newest first: published, integrity, origin, state, and whether policy allows it (of one package, or of each package with a tag)',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const tag = stringFlag(args, 'tag');
    const show = (view: VersionsView) => {
      if (view.versions.length === 0) {
        io.out(view.message ?? `no version of ${view.name} is known`);
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
      if (page.items.length === 0) io.out(`no package carries the tag ${page.tag}`);
      for (const view of page.items) {
        io.out(`${view.name} (tags: ${(view.tags ?? []).map((t) => t.slug).join(', ')})`);
        show(view);
        io.out('');
      }
      if (page.nextCursor) io.out(`more: add --cursor ${page.nextCursor}`);
      return 0;
    }
    const name = requirePositional(args, 0, 'a package name (or --tag T)');
    const view = await api.request<VersionsView>('GET', `/packages/${enc(name)}/versions`);
    if (args.flags.json) {
      io.out(json(view));
      return 0;
    }
    if (view.tags?.length) io.out(`tags: ${view.tags.map((t) => t.slug).join(', ')}`);
    show(view);
    return 0;
  },
};

export const publishRule: Command = {
  name: 'publish-rule',
  usage: 'gatekeeper publish-rule add <name|@scope/*> (--role R | --user U) [--shadow-upstream] | list [--json] | remove <id>',
  summary: 'Declare private names and who may publish them (admin)',
  booleanFlags: ['json', 'shadow-upstream'],
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'add, list or remove');
    if (action === 'add') {
      const pattern = requirePositional(args, 1, 'a name or @scope/*');
      const role = stringFlag(args, 'role');
      const user = stringFlag(args, 'user');
      if (!role === !user) throw new UsageError('give exactly one of --role or --user');
      const rule = await api.request<{ id: string }>('POST', '/publish-rules', { pattern, role, user, shadowUpstream: args.flags['shadow-upstream'] === true || undefined });
      io.out(`${pattern} is private; ${role ? `role ${role}` : `user ${user}`} may publish it (rule ${rule.id})`);
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
      io.out(`removed publish rule ${id} (${removed.pattern})`);
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

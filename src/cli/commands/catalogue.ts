import { stringFlag } from '../args';
import { createClient } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

interface CatalogueItem {
  name: string;
  newestAllowed: string | null;
  license: string | null;
  tags: Array<{ slug: string }>;
  private: boolean;
  problem?: string;
}

export const catalogue: Command = {
  name: 'catalogue',
  forms: ['[query] [--tag] [--limit] [--cursor] [--json]'],
  flags: { tag: { value: 'T' }, limit: { value: 'N' }, cursor: { value: 'C' }, json: {}, ...REGISTRY_FLAG },
  summary: 'Browse known packages: newest allowed version, license, tags, private or not; search by name and tag',
  async run({ args, io, env }) {
    const params = new URLSearchParams();
    const query = args.positionals.join(' ').trim();
    if (query) params.set('q', query);
    for (const flag of ['tag', 'limit', 'cursor']) {
      const value = stringFlag(args, flag);
      if (value) params.set(flag, value);
    }
    const search = params.toString();
    const page = await createClient({ registry: stringFlag(args, 'registry') }, env).request<{ items: CatalogueItem[]; nextCursor: string | null }>(
      'GET',
      `/packages${search ? `?${search}` : ''}`,
    );
    if (args.flags.json) {
      io.out(json(page));
      return 0;
    }
    const rows = page.items.map((p) => ({
      name: p.name,
      newest: p.newestAllowed ?? (p.problem ? `? ${p.problem}` : 'none allowed'),
      license: p.license,
      tags: p.tags.map((t) => t.slug).join(',') || null,
      private: p.private ? 'yes' : 'no',
    }));
    io.out(table(rows, ['name', 'newest', 'license', 'tags', 'private']));
    if (page.nextCursor) io.out(line`more: add --cursor ${page.nextCursor}`);
    return 0;
  },
};

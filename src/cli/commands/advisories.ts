import fs from 'node:fs';
import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import type { Command } from '../command';
import { json, table } from '../output';

export const advisories: Command = {
  name: 'advisories',
  usage: 'gatekeeper advisories list [name] [--json] | import <osv.json>',
  summary: 'Known security advisories, and offline import from OSV files (admin)',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'list or import');
    if (action === 'list') {
      const name = args.positionals[1];
      const result = await api.request<{ items: Array<Record<string, unknown>>; source: { ok: boolean; lastError: string | null } }>('GET', `/advisories${name ? `?name=${enc(name)}` : ''}`);
      if (args.flags.json) io.out(json(result));
      else {
        io.out(table(result.items, ['name', 'id', 'severity', 'vulnerableVersions', 'source', 'title']));
        if (!result.source.ok) io.out(`advisory source: unreachable (${result.source.lastError})`);
      }
      return 0;
    }
    if (action === 'import') {
      const file = requirePositional(args, 1, 'an OSV JSON file');
      let document: unknown;
      try {
        document = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        throw new UsageError(`cannot read ${file} as JSON: ${(err as Error).message}`);
      }
      const result = await api.request<{ imported: number; packages: string[] }>('POST', '/advisories/import', document);
      io.out(`imported ${result.imported} advisories for ${result.packages.join(', ')}`);
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

import { requirePositional, stringFlag } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

interface DependentsView {
  name: string;
  version: string | null;
  depth: number;
  total: number;
  truncated: boolean;
  dependents: Array<{ name: string; version: string; depth: number; devOnly: boolean; via: string | null }>;
  projects: Array<{ project: string; projectVersion: string; member: string; depth: number; dev: boolean }>;
  declared: Array<{ name: string; version: string; range: string; type: string }>;
}

export const dependents: Command = {
  name: 'dependents',
  forms: ['<name>[@version] [--depth] [--limit] [--json]'],
  flags: { depth: { value: 'N' }, limit: { value: 'N' }, json: {}, ...REGISTRY_FLAG },
  summary: 'Who depends on a version, directly and transitively, across the catalogue and recorded projects: the impact of an advisory',
  async run({ args, io, env }) {
    const spec = requirePositional(args, 0, 'name@version (or a name)');
    const params = new URLSearchParams();
    for (const flag of ['depth', 'limit']) {
      const value = stringFlag(args, flag);
      if (value) params.set(flag, value);
    }
    const search = params.toString();
    const view = await createClient({ registry: stringFlag(args, 'registry') }, env).request<DependentsView>('GET', `/dependents/${enc(spec)}${search ? `?${search}` : ''}`);
    if (args.flags.json) {
      io.out(json(view));
      return 0;
    }
    const target = view.version ? `${view.name}@${view.version}` : `any version of ${view.name}`;
    const direct = view.dependents.filter((d) => d.depth === 1).length;
    io.out(line`${view.total} packages depend on ${target} (${direct} directly; walked ${view.depth} steps)${view.truncated ? `; the first ${view.dependents.length} are listed` : ''}`);
    if (view.dependents.length > 0) {
      io.out(table(view.dependents.map((d) => ({ ...d, dependent: `${d.name}@${d.version}`, kind: d.depth === 1 ? 'direct' : 'transitive', dev: d.devOnly ? 'dev only' : null })), ['dependent', 'depth', 'kind', 'via', 'dev']));
    }
    if (view.projects.length > 0) {
      io.out(line`\n${view.projects.length} recorded projects use it:`);
      io.out(table(view.projects.map((p) => ({ ...p, project: `${p.project}@${p.projectVersion}`, through: p.depth === 0 ? `${p.member} (in its lockfile)` : p.member })), ['project', 'through', 'depth', 'dev']));
    } else {
      io.out('no recorded project uses it');
    }
    if (view.declared.length > 0) {
      io.out(line`\n${view.declared.length} more declare a range that includes it (no resolution recorded):`);
      io.out(table(view.declared.map((d) => ({ ...d, dependent: `${d.name}@${d.version}` })), ['dependent', 'range', 'type']));
    }
    return 0;
  },
};

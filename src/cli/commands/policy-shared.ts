import { parseSpec } from '../../core/names';
import { ParsedArgs, stringFlag, UsageError } from '../args';
import { Client, createClient, enc } from '../client';

/** What the policy commands (approve, ban, approvals, bans, policy, explain, audit) share. */

export const client = (args: ParsedArgs, env: NodeJS.ProcessEnv): Client => createClient({ registry: stringFlag(args, 'registry') }, env);

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every item of a paginated admin API list. */
export async function listAll<T>(api: Client, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await api.request<Page<T>>('GET', `${path}${cursor ? `${sep}cursor=${enc(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** `<id>` or `name@range`: the id of the matching rule. */
export async function resolveId(api: Client, resource: 'approvals' | 'bans', ref: string): Promise<string> {
  if (/^\d+$/.test(ref)) return ref;
  const { name, range } = parseSpec(ref);
  const items = await listAll<{ id: string; pattern?: string; name?: string; range: string }>(api, `/${resource}?name=${enc(name)}`);
  const match = items.find((i) => i.range === range);
  if (!match) throw new UsageError(`no ${resource.slice(0, -1)} for ${name}@${range}; list them with 'gatekeeper ${resource}'`);
  return match.id;
}

import { stringFlag } from '../args';
import { Command, REGISTRY_FLAG } from '../command';
import { json, table } from '../output';
import { client, Page } from './policy-shared';

export const audit: Command = {
  name: 'audit',
  forms: ['[--package] [--actor] [--action] [--since] [--until] [--limit] [--json]'],
  flags: { package: { value: 'P' }, actor: { value: 'A' }, action: { value: 'X' }, since: { value: 'ISO' }, until: { value: 'ISO' }, limit: { value: 'N' }, json: {}, ...REGISTRY_FLAG },
  summary: 'Read the audit log, newest first (admin)',
  async run({ args, io, env }) {
    const params = new URLSearchParams();
    for (const key of ['package', 'actor', 'action', 'since', 'until', 'limit']) {
      const value = stringFlag(args, key);
      if (value) params.set(key, value);
    }
    const page = await client(args, env).request<Page<Record<string, unknown>>>('GET', `/audit?${params.toString()}`);
    io.out(args.flags.json ? json(page.items) : table(page.items, ['id', 'at', 'actor', 'action', 'package', 'version', 'ruleId', 'details']));
    return 0;
  },
};

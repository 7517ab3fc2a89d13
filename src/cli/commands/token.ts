import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import type { Command } from '../command';
import { json, table } from '../output';

export const token: Command = {
  name: 'token',
  usage: 'gatekeeper token list [--username U] [--json] | revoke <id>',
  summary: 'List or revoke tokens (yours; anyone\'s for admins)',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const client = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'an action: list or revoke');
    if (action === 'list') {
      const username = stringFlag(args, 'username');
      const { items } = await client.request<{ items: Array<Record<string, unknown>> }>('GET', `/tokens${username ? `?username=${enc(username)}` : ''}`);
      io.out(args.flags.json ? json(items) : table(items, ['id', 'username', 'prefix', 'createdFrom', 'createdAt', 'lastUsedAt', 'revokedAt']));
      return 0;
    }
    if (action === 'revoke') {
      const id = requirePositional(args, 1, 'a token id');
      await client.request('DELETE', `/tokens/${enc(id)}`);
      io.out(`token ${id} revoked`);
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

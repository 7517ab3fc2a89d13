import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

export const token: Command = {
  name: 'token',
  forms: ['list [--username] [--json]', 'revoke <id>', 'create --service-account --scope --expires [--json]'],
  flags: { username: { value: 'U' }, 'service-account': { value: '<name>' }, scope: { value: 'read|publish:@scope[,@scope]' }, expires: { value: '30d' }, json: {}, ...REGISTRY_FLAG },
  summary: 'List or revoke tokens (yours; anyone\'s for admins); create a scoped, expiring service account token (admin)',
  async run({ args, io, env }) {
    const client = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'an action: list or revoke');
    if (action === 'list') {
      const username = stringFlag(args, 'username');
      const { items } = await client.request<{ items: Array<Record<string, unknown>> }>('GET', `/tokens${username ? `?username=${enc(username)}` : ''}`);
      io.out(args.flags.json ? json(items) : table(items, ['id', 'username', 'prefix', 'createdFrom', 'scope', 'createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt']));
      return 0;
    }
    if (action === 'create') {
      const name = stringFlag(args, 'service-account');
      const scope = stringFlag(args, 'scope');
      const expires = stringFlag(args, 'expires');
      if (!name || !scope || !expires) throw new UsageError('token create needs --service-account <name>, --scope read|publish:@scope and --expires <duration, e.g. 30d>');
      const created = await client.request<{ token: string; id: number; username: string; scope: string; expiresAt: string; created: boolean }>(
        'POST',
        `/service-accounts/${enc(name)}/tokens`,
        { scope, expires },
      );
      if (args.flags.json) {
        io.out(json(created));
        return 0;
      }
      io.out(line`${created.created ? 'created the service account' : 'service account'} ${created.username}; token ${created.id}, scope ${created.scope}, expires ${created.expiresAt}`);
      io.out(created.token);
      io.out('(shown once; CI sets it as //<registry>/:_authToken in its .npmrc)');
      return 0;
    }
    if (action === 'revoke') {
      const id = requirePositional(args, 1, 'a token id');
      await client.request('DELETE', `/tokens/${enc(id)}`);
      io.out(line`token ${id} revoked`);
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

import { randomBytes } from 'node:crypto';
import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

export const user: Command = {
  name: 'user',
  forms: ['add <name> [--role] [--password-stdin]', 'disable <name>', 'enable <name>', 'list [--json]'],
  flags: { role: { value: 'R' }, 'password-stdin': {}, json: {}, ...REGISTRY_FLAG },
  summary: 'Manage users (admin)',
  async run({ args, io, env, readStdin }) {
    const client = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'an action: add, disable, enable or list');
    switch (action) {
      case 'add': {
        const username = requirePositional(args, 1, 'a username');
        const role = stringFlag(args, 'role') ?? 'developer';
        const generated = !args.flags['password-stdin'];
        const password = generated ? randomBytes(15).toString('base64url') : (await readStdin()).replace(/\r?\n$/, '');
        const created = await client.request<{ username: string; role: string }>('POST', '/users', { username, password, role });
        io.out(line`created ${created.username} (${created.role})`);
        if (generated) io.out(line`password: ${password}\n(shown once; they log in with 'npm login')`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const username = requirePositional(args, 1, 'a username');
        await client.request('PATCH', `/users/${enc(username)}`, { disabled: action === 'disable' });
        io.out(line`${username} ${action}d`);
        return 0;
      }
      case 'list': {
        const { items } = await client.request<{ items: Array<Record<string, unknown>> }>('GET', '/users');
        io.out(args.flags.json ? json(items) : table(items, ['username', 'role', 'createdAt', 'disabledAt']));
        return 0;
      }
      default:
        throw new UsageError(`unknown action '${action}'`);
    }
  },
};

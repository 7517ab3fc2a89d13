import { randomBytes } from 'node:crypto';
import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

export const user: Command = {
  name: 'user',
  forms: ['add <name> [--role] [--password-stdin]', 'password <name> [--password-stdin]', 'disable <name>', 'enable <name>', 'list [--json]'],
  flags: { role: { value: 'R' }, 'password-stdin': {}, json: {}, ...REGISTRY_FLAG },
  summary: 'Manage users (admin)',
  async run({ args, io, env, readStdin }) {
    const client = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'an action: add, password, disable, enable or list');
    switch (action) {
      case 'add': {
        const username = requirePositional(args, 1, 'a username');
        refusePasswordArgument(args.positionals);
        const role = stringFlag(args, 'role') ?? 'developer';
        const generated = !args.flags['password-stdin'];
        const password = generated ? randomBytes(15).toString('base64url') : (await readStdin()).replace(/\r?\n$/, '');
        const created = await client.request<{ username: string; role: string }>('POST', '/users', { username, password, role });
        io.out(line`created ${created.username} (${created.role})`);
        if (generated) io.out(line`password: ${password}\n(shown once; they log in with 'npm login')`);
        return 0;
      }
      case 'password': {
        // As for add: from stdin (never argv), or generated and shown once.
        const username = requirePositional(args, 1, 'a username');
        refusePasswordArgument(args.positionals);
        const generated = !args.flags['password-stdin'];
        const password = generated ? randomBytes(15).toString('base64url') : (await readStdin()).replace(/\r?\n$/, '');
        await client.request('PATCH', `/users/${enc(username)}`, { password });
        io.out(line`password of ${username} reset; their console sessions were ended (npm tokens stay: 'gatekeeper token list --username ${username}')`);
        if (generated) io.out(line`password: ${password}\n(shown once; they can change it with 'npm profile set password')`);
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

/** A word after the username would be a password: never taken from the command line, and never silently dropped for a generated one. */
function refusePasswordArgument(positionals: readonly string[]): void {
  if (positionals.length > 2) {
    throw new UsageError('a password is never taken from the command line (the shell history and the process list would show it). Pipe it in with --password-stdin, or leave it out to have one generated');
  }
}

import { stringFlag, UsageError } from '../args';
import { ApiError, callRegistry } from '../client';
import { line } from '../output';
import type { Command } from '../command';
import { resolveRegistry, saveToken } from '../npmrc';

export const login: Command = {
  name: 'login',
  forms: ['[--registry] --username --password-stdin'],
  flags: { registry: { value: 'URL' }, username: { value: 'U' }, 'password-stdin': {} },
  summary: "Log in without prompts and save the token to npm's user config, as npm login does",
  async run({ args, io, env, readStdin }) {
    const username = stringFlag(args, 'username');
    if (!username) throw new UsageError('--username is required');
    if (!args.flags['password-stdin']) throw new UsageError('--password-stdin is required: pipe the password in, never put it on the command line');
    const password = (await readStdin()).replace(/\r?\n$/, '');
    if (!password) throw new UsageError('no password on standard input');
    const registry = resolveRegistry(stringFlag(args, 'registry'), env);
    let result: { token?: string };
    try {
      // callRegistry follows no redirect: the password goes to this registry or nowhere.
      result = await callRegistry<{ token?: string }>(registry, 'PUT', `/-/user/org.couchdb.user:${encodeURIComponent(username)}`, {
        body: { _id: `org.couchdb.user:${username}`, name: username, password, type: 'user', roles: [], date: new Date().toISOString() },
      });
    } catch (err) {
      if (!(err instanceof ApiError) || err.configuration) throw err;
      io.err(line`login failed: ${err.message}`);
      return 1;
    }
    if (!result.token) {
      io.err('login failed: the registry returned no token');
      return 1;
    }
    const file = saveToken(registry, result.token, env);
    io.out(line`logged in as ${username} on ${registry}; token saved to ${file}`);
    return 0;
  },
};

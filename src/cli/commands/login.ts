import npmFetch from 'npm-registry-fetch';
import { stringFlag, UsageError } from '../args';
import type { Command } from '../command';
import { resolveRegistry, saveToken } from '../npmrc';

export const login: Command = {
  name: 'login',
  usage: 'gatekeeper login [--registry URL] --username U --password-stdin',
  summary: "Log in without prompts and save the token to npm's user config, as npm login does",
  booleanFlags: ['password-stdin'],
  async run({ args, io, env, readStdin }) {
    const username = stringFlag(args, 'username');
    if (!username) throw new UsageError('--username is required');
    if (!args.flags['password-stdin']) throw new UsageError('--password-stdin is required: pipe the password in, never put it on the command line');
    const password = (await readStdin()).replace(/\r?\n$/, '');
    if (!password) throw new UsageError('no password on standard input');
    const registry = resolveRegistry(stringFlag(args, 'registry'), env);
    let result: { token?: string };
    try {
      result = (await npmFetch.json(`/-/user/org.couchdb.user:${encodeURIComponent(username)}`, {
        registry,
        method: 'PUT',
        body: { _id: `org.couchdb.user:${username}`, name: username, password, type: 'user', roles: [], date: new Date().toISOString() },
        retry: { retries: 0 },
      } as npmFetch.Options)) as { token?: string };
    } catch (err) {
      const e = err as { body?: { error?: string }; message: string };
      io.err(`login failed: ${e.body?.error ?? e.message}`);
      return 1;
    }
    if (!result.token) {
      io.err('login failed: the registry returned no token');
      return 1;
    }
    const file = saveToken(registry, result.token, env);
    io.out(`logged in as ${username} on ${registry}; token saved to ${file}`);
    return 0;
  },
};

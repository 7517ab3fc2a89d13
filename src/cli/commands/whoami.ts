import { stringFlag } from '../args';
import { createClient } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line } from '../output';

export const whoami: Command = {
  name: 'whoami',
  forms: ['[--registry] [--json]'],
  flags: { json: {}, ...REGISTRY_FLAG },
  summary: 'Show who the saved token belongs to',
  async run({ args, io, env }) {
    const client = createClient({ registry: stringFlag(args, 'registry') }, env);
    const me = await client.request<{ username: string; role: string }>('GET', '/whoami');
    io.out(args.flags.json ? json(me) : line`${me.username} (${me.role}) on ${client.registry}`);
    return 0;
  },
};

import { stringFlag } from '../args';
import { createClient } from '../client';
import type { Command } from '../command';
import { json } from '../output';

export const whoami: Command = {
  name: 'whoami',
  usage: 'gatekeeper whoami [--registry URL] [--json]',
  summary: 'Show who the saved token belongs to',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const client = createClient({ registry: stringFlag(args, 'registry') }, env);
    const me = await client.request<{ username: string; role: string }>('GET', '/whoami');
    io.out(args.flags.json ? json(me) : `${me.username} (${me.role}) on ${client.registry}`);
    return 0;
  },
};

import { requirePositional } from '../args';
import { enc } from '../client';
import type { Command } from '../command';
import { client, resolveId } from './policy-shared';

export const unban: Command = {
  name: 'unban',
  usage: 'gatekeeper unban <id|name@range>',
  summary: 'Remove a ban (admin)',
  async run({ args, io, env }) {
    const api = client(args, env);
    const id = await resolveId(api, 'bans', requirePositional(args, 0, 'a ban id or name@range'));
    const removed = await api.request<{ name: string; range: string }>('DELETE', `/bans/${enc(id)}`);
    io.out(`removed ban ${id} (${removed.name}@${removed.range})`);
    return 0;
  },
};

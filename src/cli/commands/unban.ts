import { requirePositional } from '../args';
import { enc } from '../client';
import { line } from '../output';
import { Command, REGISTRY_FLAG } from '../command';
import { client, resolveId } from './policy-shared';

export const unban: Command = {
  name: 'unban',
  forms: ['<id|name@range>'],
  flags: { ...REGISTRY_FLAG },
  summary: 'Remove a ban (admin)',
  async run({ args, io, env }) {
    const api = client(args, env);
    const id = await resolveId(api, 'bans', requirePositional(args, 0, 'a ban id or name@range'));
    const removed = await api.request<{ name: string; range: string }>('DELETE', `/bans/${enc(id)}`);
    io.out(line`removed ban ${id} (${removed.name}@${removed.range})`);
    return 0;
  },
};

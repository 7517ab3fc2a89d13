import { requirePositional } from '../args';
import { enc } from '../client';
import { line } from '../output';
import { Command, REGISTRY_FLAG } from '../command';
import { client, resolveId } from './policy-shared';

export const unapprove: Command = {
  name: 'unapprove',
  forms: ['<id|name@range>'],
  flags: { ...REGISTRY_FLAG },
  summary: 'Remove an approval (admin)',
  async run({ args, io, env }) {
    const api = client(args, env);
    const id = await resolveId(api, 'approvals', requirePositional(args, 0, 'an approval id or name@range'));
    const removed = await api.request<{ pattern: string; range: string }>('DELETE', `/approvals/${enc(id)}`);
    io.out(line`removed approval ${id} (${removed.pattern}@${removed.range})`);
    return 0;
  },
};

import { stringFlag } from '../args';
import { enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, table } from '../output';
import { client, listAll } from './policy-shared';

export const approvals: Command = {
  name: 'approvals',
  forms: ['[--name] [--tag] [--json]'],
  flags: { name: { value: 'N' }, tag: { value: 'T' }, json: {}, ...REGISTRY_FLAG },
  summary: 'List approvals',
  async run({ args, io, env }) {
    const name = stringFlag(args, 'name');
    const tag = stringFlag(args, 'tag');
    const params = [name ? `name=${enc(name)}` : '', tag ? `tag=${enc(tag)}` : ''].filter(Boolean).join('&');
    const items = await listAll<Record<string, unknown>>(client(args, env), `/approvals${params ? `?${params}` : ''}`);
    io.out(args.flags.json ? json(items) : table(items, ['id', 'pattern', 'range', 'approvedBy', 'expiresAt', 'reason']));
    return 0;
  },
};

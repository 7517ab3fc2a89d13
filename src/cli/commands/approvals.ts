import { stringFlag } from '../args';
import { enc } from '../client';
import type { Command } from '../command';
import { json, table } from '../output';
import { client, listAll } from './policy-shared';

export const approvals: Command = {
  name: 'approvals',
  usage: 'gatekeeper approvals [--name N] [--tag T] [--json]',
  summary: 'List approvals',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const name = stringFlag(args, 'name');
    const tag = stringFlag(args, 'tag');
    const params = [name ? `name=${enc(name)}` : '', tag ? `tag=${enc(tag)}` : ''].filter(Boolean).join('&');
    const items = await listAll<Record<string, unknown>>(client(args, env), `/approvals${params ? `?${params}` : ''}`);
    io.out(args.flags.json ? json(items) : table(items, ['id', 'pattern', 'range', 'approvedBy', 'expiresAt', 'reason']));
    return 0;
  },
};

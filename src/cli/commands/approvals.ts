import { stringFlag } from '../args';
import { enc } from '../client';
import type { Command } from '../command';
import { json, table } from '../output';
import { client, listAll } from './policy-shared';

export const approvals: Command = {
  name: 'approvals',
  usage: 'gatekeeper approvals [--name N] [--json]',
  summary: 'List approvals',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const name = stringFlag(args, 'name');
    const items = await listAll<Record<string, unknown>>(client(args, env), `/approvals${name ? `?name=${enc(name)}` : ''}`);
    io.out(args.flags.json ? json(items) : table(items, ['id', 'pattern', 'range', 'approvedBy', 'expiresAt', 'reason']));
    return 0;
  },
};

import { stringFlag } from '../args';
import { enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, table } from '../output';
import { client, listAll } from './policy-shared';

export const bans: Command = {
  name: 'bans',
  forms: ['[--name] [--json]'],
  flags: { name: { value: 'N' }, json: {}, ...REGISTRY_FLAG },
  summary: 'List bans',
  async run({ args, io, env }) {
    const name = stringFlag(args, 'name');
    const items = await listAll<Record<string, unknown>>(client(args, env), `/bans${name ? `?name=${enc(name)}` : ''}`);
    io.out(args.flags.json ? json(items) : table(items, ['id', 'name', 'range', 'bannedBy', 'reason', 'advisoryUrl']));
    return 0;
  },
};

import { parseSpec } from '../../core/names';
import { requirePositional, stringFlag, UsageError } from '../args';
import { line } from '../output';
import { Command, REGISTRY_FLAG } from '../command';
import { client } from './policy-shared';

export const ban: Command = {
  name: 'ban',
  forms: ['<name>[@range] --reason [--advisory]'],
  flags: { reason: { value: 'R' }, advisory: { value: 'URL' }, ...REGISTRY_FLAG },
  summary: 'Ban a package range, or one legacy version exactly (express@1.0.0beta); the reason is shown to users (admin)',
  async run({ args, io, env }) {
    const { name, range } = parseSpec(requirePositional(args, 0, 'a package spec'));
    const reason = stringFlag(args, 'reason');
    if (!reason) throw new UsageError('--reason is required: it is shown to everyone the ban blocks');
    const created = await client(args, env).request<{ id: string }>('POST', '/bans', { name, range, reason, advisoryUrl: stringFlag(args, 'advisory') });
    io.out(line`banned ${name}@${range} (ban ${created.id})`);
    return 0;
  },
};

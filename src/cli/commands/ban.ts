import { parseSpec } from '../../core/names';
import { requirePositional, stringFlag, UsageError } from '../args';
import type { Command } from '../command';
import { client } from './policy-shared';

export const ban: Command = {
  name: 'ban',
  usage: 'gatekeeper ban <name>[@range] --reason R [--advisory URL]',
  summary: 'Ban a package range, or one legacy version exactly (express@1.0.0beta); the reason is shown to users (admin)',
  async run({ args, io, env }) {
    const { name, range } = parseSpec(requirePositional(args, 0, 'a package spec'));
    const reason = stringFlag(args, 'reason');
    if (!reason) throw new UsageError('--reason is required: it is shown to everyone the ban blocks');
    const created = await client(args, env).request<{ id: string }>('POST', '/bans', { name, range, reason, advisoryUrl: stringFlag(args, 'advisory') });
    io.out(`banned ${name}@${range} (ban ${created.id})`);
    return 0;
  },
};

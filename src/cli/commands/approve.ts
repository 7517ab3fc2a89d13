import { parseSpec } from '../../core/names';
import { requirePositional, stringFlag, UsageError } from '../args';
import type { Command } from '../command';
import { client } from './policy-shared';

export const approve: Command = {
  name: 'approve',
  usage: 'gatekeeper approve <name>[@range] [--reason R] [--expires 30d] [--allow-scripts] [--with-dependencies]',
  summary: 'Approve a package or @scope/* for a range, or one legacy version exactly (express@1.0.0beta) (admin); with its resolved production dependency tree',
  booleanFlags: ['with-dependencies', 'allow-scripts'],
  async run({ args, io, env }) {
    const { name, range } = parseSpec(requirePositional(args, 0, 'a package spec'));
    if (args.flags['with-dependencies']) {
      if (stringFlag(args, 'expires')) throw new UsageError('--expires cannot be combined with --with-dependencies');
      const tree = await client(args, env).request<{ approved: string[]; alreadyAllowed: string[] }>('POST', '/approvals/tree', { name, range, reason: stringFlag(args, 'reason') });
      io.out(`approved ${tree.approved.length}: ${tree.approved.join(', ')}`);
      if (tree.alreadyAllowed.length > 0) io.out(`already allowed: ${tree.alreadyAllowed.join(', ')}`);
      return 0;
    }
    const approval = await client(args, env).request<{ id: string; expiresAt: string | null }>('POST', '/approvals', {
      name,
      range,
      reason: stringFlag(args, 'reason'),
      expiresIn: stringFlag(args, 'expires'),
      allowScripts: args.flags['allow-scripts'] === true,
    });
    const scripts = args.flags['allow-scripts'] ? ', install scripts allowed' : '';
    io.out(`approved ${name}@${range} (approval ${approval.id}${approval.expiresAt ? `, expires ${approval.expiresAt}` : ''}${scripts})`);
    return 0;
  },
};

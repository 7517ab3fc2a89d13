import { parseSpec } from '../../core/names';
import { requirePositional, stringFlag, UsageError } from '../args';
import { line } from '../output';
import { Command, REGISTRY_FLAG } from '../command';
import { client } from './policy-shared';

export const approve: Command = {
  name: 'approve',
  forms: ['<name>[@range] [--reason] [--expires] [--allow-scripts]', '<name>[@range] --with-dependencies [--reason]'],
  flags: { reason: { value: 'R' }, expires: { value: '30d' }, 'allow-scripts': {}, 'with-dependencies': {}, ...REGISTRY_FLAG },
  summary: 'Approve a package or @scope/* for a range, or one legacy version exactly (express@1.0.0beta) (admin); with its resolved production dependency tree',
  async run({ args, io, env }) {
    const { name, range } = parseSpec(requirePositional(args, 0, 'a package spec'));
    if (args.flags['with-dependencies']) {
      if (stringFlag(args, 'expires')) throw new UsageError('--expires cannot be combined with --with-dependencies');
      const tree = await client(args, env).request<{ approved: string[]; alreadyAllowed: string[] }>('POST', '/approvals/tree', { name, range, reason: stringFlag(args, 'reason') });
      io.out(line`approved ${tree.approved.length}: ${tree.approved.join(', ')}`);
      if (tree.alreadyAllowed.length > 0) io.out(line`already allowed: ${tree.alreadyAllowed.join(', ')}`);
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
    io.out(line`approved ${name}@${range} (approval ${approval.id}${approval.expiresAt ? `, expires ${approval.expiresAt}` : ''}${scripts})`);
    return 0;
  },
};

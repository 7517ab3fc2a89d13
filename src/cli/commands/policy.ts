import { parseSpec } from '../../core/names';
import { cliSettings, exemptableRules, RULES, RuleTable, showRules } from '../../core/rules';
import { requirePositional, stringFlag, UsageError } from '../args';
import { enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';
import { client } from './policy-shared';

/** `policy set` names and `policy show` lines come from the rule table (src/core/rules). */
const SETTINGS = cliSettings();

interface PolicyView {
  mode: string;
  generation: number;
  rules: Record<string, Record<string, unknown> | undefined>;
}

export function showPolicy(p: PolicyView, table: RuleTable = RULES): string {
  return [`mode: ${p.mode}`, `generation: ${p.generation}`, ...showRules(p.rules, table)].join('\n');
}

export const policy: Command = {
  name: 'policy',
  forms: ['show [--json]', 'set <setting> <value>', 'exempt <release-age|new-publisher|provenance-downgrade> <name>[@range] --reason', 'unexempt <id>', 'exemptions [--json]'],
  flags: { reason: { value: 'R' }, json: {}, ...REGISTRY_FLAG },
  summary: `Show or change the policy mode and rule settings (enforce, warn, off), and release-age exemptions; settings: ${Object.keys(SETTINGS).join(', ')}`,
  async run({ args, io, env }) {
    const api = client(args, env);
    const action = requirePositional(args, 0, 'show, set, exempt, unexempt or exemptions');
    if (action === 'show') {
      const current = await api.request<PolicyView>('GET', '/policy');
      io.out(args.flags.json ? json(current) : showPolicy(current));
      return 0;
    }
    if (action === 'set') {
      const key = requirePositional(args, 1, 'a setting');
      const value = requirePositional(args, 2, 'a value');
      const body = SETTINGS[key];
      if (!body) throw new UsageError(`unknown policy setting '${key}'; one of ${Object.keys(SETTINGS).join(', ')}`);
      io.out(showPolicy(await api.request<PolicyView>('PATCH', '/policy', body(value))));
      return 0;
    }
    if (action === 'exempt') {
      const rule = requirePositional(args, 1, `a rule (${exemptableRules().join(', ')})`);
      const { name, range } = parseSpec(requirePositional(args, 2, 'a package spec'));
      const created = await api.request<{ id: string }>('POST', '/policy/exemptions', { rule, name, range, reason: stringFlag(args, 'reason') });
      io.out(line`exempted ${name}@${range} from ${rule} (exemption ${created.id})`);
      return 0;
    }
    if (action === 'unexempt') {
      const id = requirePositional(args, 1, 'an exemption id');
      const removed = await api.request<{ pattern: string; range: string }>('DELETE', `/policy/exemptions/${enc(id)}`);
      io.out(line`removed exemption ${id} (${removed.pattern}@${removed.range})`);
      return 0;
    }
    if (action === 'exemptions') {
      const { items } = await api.request<{ items: Array<Record<string, unknown>> }>('GET', '/policy/exemptions');
      io.out(args.flags.json ? json(items) : table(items, ['id', 'rule', 'pattern', 'range', 'createdBy', 'reason']));
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

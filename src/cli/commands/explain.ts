import { parseSpec } from '../../core/names';
import { explainLines } from '../../core/rules';
import { requirePositional } from '../args';
import { enc } from '../client';
import type { Command } from '../command';
import { json } from '../output';
import { client } from './policy-shared';

interface Match {
  rule: string;
  ruleId: string | null;
  effect: string;
  reason: string;
  details?: Record<string, unknown>;
}

interface Explanation {
  decision: { allowed: boolean; code: string; ruleId: string; reason: string; matches: Match[] };
  policy: { mode: string; generation: number };
  known: boolean;
  message: string;
  dropped?: string;
}

export const explain: Command = {
  name: 'explain',
  usage: 'gatekeeper explain <name>@<version> [--json]',
  summary: 'Explain why a version (also a legacy one such as express@1.0.0beta) is allowed or blocked, with every rule that matched',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const { name, range: version } = parseSpec(requirePositional(args, 0, 'name@version'));
    const result = await client(args, env).request<Explanation>('GET', `/decisions/${enc(name)}/${enc(version)}`);
    if (args.flags.json) {
      io.out(json(result));
      return 0;
    }
    const d = result.decision;
    io.out(`${name}@${version}: ${d.allowed ? 'ALLOWED' : `BLOCKED [${d.code}]`}`);
    io.out(`  ${result.message}`);
    io.out(`  decided by: ${d.ruleId}   policy: ${result.policy.mode}, generation ${result.policy.generation}`);
    if (result.dropped) io.out(`  (the upstream's entry for this version was broken and dropped: ${result.dropped})`);
    else if (!result.known) io.out('  (this version is not known to the registry or its upstream; only name rules were applied)');
    io.out('  rules that matched:');
    for (const m of d.matches) {
      io.out(`    - ${m.effect.padEnd(5)} ${m.rule}${m.ruleId ? ` ${m.ruleId}` : ''}: ${m.reason}`);
      for (const line of explainLines(m.rule, m.details)) io.out(`        ${line}`);
    }
    return 0;
  },
};

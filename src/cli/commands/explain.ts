import { parseSpec } from '../../core/names';
import { explainLines } from '../../core/rules';
import { shownValue } from '../../core/text';
import { requirePositional, UsageError } from '../args';
import { enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line } from '../output';
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
  forms: ['<name>@<version> [--json]'],
  flags: { json: {}, ...REGISTRY_FLAG },
  summary: 'Explain why a version (also a legacy one such as express@1.0.0beta) is allowed or blocked, with every rule that matched',
  async run({ args, io, env }) {
    const spec = requirePositional(args, 0, 'name@version');
    const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
    // Without a version, parseSpec would make it '*', which the server refuses as no version.
    if (at === -1 || at === spec.length - 1) {
      throw new UsageError(`'${shownValue(spec, 100)}' names no version: explain takes one version, <name>@<version> (e.g. ${shownValue(at === -1 ? spec : spec.slice(0, at), 100)}@1.0.0); 'gatekeeper versions <name>' lists them`);
    }
    const { name, range: version } = parseSpec(spec);
    const result = await client(args, env).request<Explanation>('GET', `/decisions/${enc(name)}/${enc(version)}`);
    if (args.flags.json) {
      io.out(json(result));
      return 0;
    }
    const d = result.decision;
    io.out(line`${name}@${version}: ${d.allowed ? 'ALLOWED' : `BLOCKED [${d.code}]`}`);
    io.out(line`  ${result.message}`);
    io.out(line`  decided by: ${d.ruleId}   policy: ${result.policy.mode}, generation ${result.policy.generation}`);
    if (result.dropped) io.out(line`  (the upstream's entry for this version was broken and dropped: ${result.dropped})`);
    else if (!result.known) io.out('  (this version is not known to the registry or its upstream; only name rules were applied)');
    io.out('  rules that matched:');
    for (const m of d.matches) {
      io.out(line`    - ${m.effect.padEnd(5)} ${m.rule}${m.ruleId ? ` ${m.ruleId}` : ''}: ${m.reason}`);
      for (const detail of explainLines(m.rule, m.details)) io.out(line`        ${detail}`);
    }
    return 0;
  },
};

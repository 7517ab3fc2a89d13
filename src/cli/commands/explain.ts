import { parseSpec } from '../../core/names';
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

/** A value in one short line. */
function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Lines under a match for the facts explain should spell out (what differs in a tarball). */
function detailLines(m: Match): string[] {
  const lines: string[] = [];
  const mismatches = m.details?.mismatches;
  if (m.rule === 'manifest' && Array.isArray(mismatches)) {
    for (const x of mismatches as Array<{ field?: unknown; declared?: unknown; actual?: unknown }>) {
      lines.push(`${String(x.field)}: registry manifest ${shown(x.declared)}, tarball package.json ${shown(x.actual)}`);
    }
  }
  const tarball = m.details?.tarball as { license?: unknown } | undefined;
  if (m.rule === 'license' && tarball && typeof tarball === 'object') {
    lines.push(`license: registry manifest ${String(m.details?.license)}, tarball package.json ${String(tarball.license)}`);
  }
  return lines;
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
      for (const line of detailLines(m)) io.out(`        ${line}`);
    }
    return 0;
  },
};

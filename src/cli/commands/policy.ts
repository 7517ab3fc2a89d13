import { parseSpec } from '../../core/names';
import { ParsedArgs, requirePositional, stringFlag, UsageError } from '../args';
import { Client, createClient, enc } from '../client';
import type { Command } from '../command';
import { json, table } from '../output';

const client = (args: ParsedArgs, env: NodeJS.ProcessEnv) => createClient({ registry: stringFlag(args, 'registry') }, env);

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

async function listAll<T>(api: Client, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await api.request<Page<T>>('GET', `${path}${cursor ? `${sep}cursor=${enc(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** `<id>` or `name@range`: the id of the matching rule. */
async function resolveId(api: Client, resource: 'approvals' | 'bans', ref: string): Promise<string> {
  if (/^\d+$/.test(ref)) return ref;
  const { name, range } = parseSpec(ref);
  const items = await listAll<{ id: string; pattern?: string; name?: string; range: string }>(api, `/${resource}?name=${enc(name)}`);
  const match = items.find((i) => i.range === range);
  if (!match) throw new UsageError(`no ${resource.slice(0, -1)} for ${name}@${range}; list them with 'gatekeeper ${resource}'`);
  return match.id;
}

export const approve: Command = {
  name: 'approve',
  usage: 'gatekeeper approve <name>[@range] [--reason R] [--expires 30d] [--allow-scripts] [--with-dependencies]',
  summary: 'Approve a package or @scope/* for a range (admin); with its resolved production dependency tree',
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

export const unapprove: Command = {
  name: 'unapprove',
  usage: 'gatekeeper unapprove <id|name@range>',
  summary: 'Remove an approval (admin)',
  async run({ args, io, env }) {
    const api = client(args, env);
    const id = await resolveId(api, 'approvals', requirePositional(args, 0, 'an approval id or name@range'));
    const removed = await api.request<{ pattern: string; range: string }>('DELETE', `/approvals/${enc(id)}`);
    io.out(`removed approval ${id} (${removed.pattern}@${removed.range})`);
    return 0;
  },
};

export const ban: Command = {
  name: 'ban',
  usage: 'gatekeeper ban <name>[@range] --reason R [--advisory URL]',
  summary: 'Ban a package range; the reason is shown to users (admin)',
  async run({ args, io, env }) {
    const { name, range } = parseSpec(requirePositional(args, 0, 'a package spec'));
    const reason = stringFlag(args, 'reason');
    if (!reason) throw new UsageError('--reason is required: it is shown to everyone the ban blocks');
    const created = await client(args, env).request<{ id: string }>('POST', '/bans', { name, range, reason, advisoryUrl: stringFlag(args, 'advisory') });
    io.out(`banned ${name}@${range} (ban ${created.id})`);
    return 0;
  },
};

export const unban: Command = {
  name: 'unban',
  usage: 'gatekeeper unban <id|name@range>',
  summary: 'Remove a ban (admin)',
  async run({ args, io, env }) {
    const api = client(args, env);
    const id = await resolveId(api, 'bans', requirePositional(args, 0, 'a ban id or name@range'));
    const removed = await api.request<{ name: string; range: string }>('DELETE', `/bans/${enc(id)}`);
    io.out(`removed ban ${id} (${removed.name}@${removed.range})`);
    return 0;
  },
};

function lister(resource: 'approvals' | 'bans', columns: string[]): Command {
  return {
    name: resource,
    usage: `gatekeeper ${resource} [--name N] [--json]`,
    summary: `List ${resource}`,
    booleanFlags: ['json'],
    async run({ args, io, env }) {
      const name = stringFlag(args, 'name');
      const items = await listAll<Record<string, unknown>>(client(args, env), `/${resource}${name ? `?name=${enc(name)}` : ''}`);
      io.out(args.flags.json ? json(items) : table(items, columns));
      return 0;
    },
  };
}

export const approvals = lister('approvals', ['id', 'pattern', 'range', 'approvedBy', 'expiresAt', 'reason']);
export const bans = lister('bans', ['id', 'name', 'range', 'bannedBy', 'reason', 'advisoryUrl']);

const SETTINGS: Record<string, (value: string) => Record<string, unknown>> = {
  mode: (v) => ({ mode: v }),
  'release-age': (v) => ({ releaseAge: { minimum: v } }),
  'release-age.minimum': (v) => ({ releaseAge: { minimum: v } }),
  'release-age.mode': (v) => ({ releaseAge: { mode: v } }),
  'release-age.unknown': (v) => ({ releaseAge: { unknownAge: v } }),
  scripts: (v) => ({ scripts: { mode: v } }),
  'scripts.mode': (v) => ({ scripts: { mode: v } }),
  advisories: (v) => ({ advisories: { mode: v } }),
  'advisories.mode': (v) => ({ advisories: { mode: v } }),
  'advisories.severity': (v) => ({ advisories: { severity: v } }),
  'advisories.unavailable': (v) => ({ advisories: { unavailable: v } }),
  deprecated: (v) => ({ deprecated: { mode: v } }),
  'deprecated.mode': (v) => ({ deprecated: { mode: v } }),
  license: (v) => ({ license: { mode: v } }),
  'license.mode': (v) => ({ license: { mode: v } }),
};

interface PolicyView {
  mode: string;
  generation: number;
  rules: {
    license: { mode: string };
    advisories: { mode: string; severity: string; unavailable: string };
    releaseAge: { mode: string; minimum: string; unknownAge: string };
    scripts: { mode: string };
    deprecated: { mode: string };
  };
}

function showPolicy(p: PolicyView): string {
  const r = p.rules;
  return [
    `mode: ${p.mode}`,
    `generation: ${p.generation}`,
    `license: ${r.license.mode}`,
    `advisories: ${r.advisories.mode} (severity >= ${r.advisories.severity}; source unreachable: ${r.advisories.unavailable})`,
    `release-age: ${r.releaseAge.mode} (minimum ${r.releaseAge.minimum === '0' ? '0, off' : r.releaseAge.minimum}; unknown age: ${r.releaseAge.unknownAge})`,
    `scripts: ${r.scripts.mode}`,
    `deprecated: ${r.deprecated.mode}`,
  ].join('\n');
}

export const policy: Command = {
  name: 'policy',
  usage:
    'gatekeeper policy show [--json] | set <setting> <value> | exempt release-age <name>[@range] --reason R | unexempt <id> | exemptions [--json]\n' +
    `      settings: ${Object.keys(SETTINGS).join(', ')}`,
  summary: 'Show or change the policy mode and rule settings (enforce, warn, off), and release-age exemptions',
  booleanFlags: ['json'],
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
      const rule = requirePositional(args, 1, 'a rule (release-age)');
      const { name, range } = parseSpec(requirePositional(args, 2, 'a package spec'));
      const created = await api.request<{ id: string }>('POST', '/policy/exemptions', { rule, name, range, reason: stringFlag(args, 'reason') });
      io.out(`exempted ${name}@${range} from ${rule} (exemption ${created.id})`);
      return 0;
    }
    if (action === 'unexempt') {
      const id = requirePositional(args, 1, 'an exemption id');
      const removed = await api.request<{ pattern: string; range: string }>('DELETE', `/policy/exemptions/${enc(id)}`);
      io.out(`removed exemption ${id} (${removed.pattern}@${removed.range})`);
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

interface Explanation {
  decision: { allowed: boolean; code: string; ruleId: string; reason: string; matches: Array<{ rule: string; ruleId: string | null; effect: string; reason: string }> };
  policy: { mode: string; generation: number };
  known: boolean;
  message: string;
}

export const explain: Command = {
  name: 'explain',
  usage: 'gatekeeper explain <name>@<version> [--json]',
  summary: 'Explain why a version is allowed or blocked, with every rule that matched',
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
    if (!result.known) io.out('  (this version is not known to the registry or its upstream; only name rules were applied)');
    io.out('  rules that matched:');
    for (const m of d.matches) io.out(`    - ${m.effect.padEnd(5)} ${m.rule}${m.ruleId ? ` ${m.ruleId}` : ''}: ${m.reason}`);
    return 0;
  },
};

export const audit: Command = {
  name: 'audit',
  usage: 'gatekeeper audit [--package P] [--actor A] [--action X] [--since ISO] [--limit N] [--json]',
  summary: 'Read the audit log, newest first (admin)',
  booleanFlags: ['json'],
  async run({ args, io, env }) {
    const params = new URLSearchParams();
    for (const key of ['package', 'actor', 'action', 'since', 'until', 'limit']) {
      const value = stringFlag(args, key);
      if (value) params.set(key, value);
    }
    const page = await client(args, env).request<Page<Record<string, unknown>>>('GET', `/audit?${params.toString()}`);
    io.out(args.flags.json ? json(page.items) : table(page.items, ['id', 'at', 'actor', 'action', 'package', 'version', 'ruleId', 'details']));
    return 0;
  },
};

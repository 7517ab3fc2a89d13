import { ParsedArgs, requirePositional, stringFlag, UsageError } from '../args';
import { Client, createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { readLockfile } from '../lockfile-input';
import { json, line, Output, table } from '../output';

interface PolicyView {
  allow: string[];
  deny: string[];
  unknown: 'block' | 'allow';
  enabled: boolean;
}

interface ReportView {
  groups: Array<{ license: string; violation: boolean; packages: Array<{ spec: string; violation: boolean; waived: boolean }> }>;
  entries: Array<{ name: string; version: string; licenseViolation: boolean; reason: string }>;
}

function showPolicy(io: Output, p: PolicyView): void {
  io.out(line`license rule: ${p.enabled ? 'on' : 'off (the allowlist is empty)'}`);
  io.out(line`allow:   ${p.allow.join(', ') || '-'}`);
  io.out(line`deny:    ${p.deny.join(', ') || '-'}`);
  io.out(line`unknown: ${p.unknown}`);
}

async function report(api: Client, args: ParsedArgs, io: Output): Promise<number> {
  const { file, parsed } = readLockfile(args.positionals[1]);
  const result = await api.request<ReportView>('POST', '/licenses/report', { entries: parsed.entries.map((e) => ({ name: e.name, version: e.version })) });
  if (args.flags.json) {
    io.out(json({ lockfile: file, format: parsed.format, groups: result.groups }));
  } else {
    io.out(line`${file} (${parsed.format}): ${parsed.entries.length} packages, ${result.groups.length} licenses`);
    for (const group of result.groups) {
      io.out(line`\n${group.violation ? 'VIOLATION ' : ''}${group.license} (${group.packages.length})`);
      for (const p of group.packages) io.out(line`  ${p.violation ? '✗' : p.waived ? '~' : ' '} ${p.spec}${p.waived ? ' (waived)' : ''}`);
    }
  }
  return result.groups.some((g) => g.violation) ? 1 : 0;
}

export const license: Command = {
  name: 'license',
  forms: ['show [--json]', 'allow <id...> [--remove]', 'deny <id...> [--remove]', 'unknown block|allow', 'waive <name>[@range] --reason [--expires]', 'unwaive <id>', 'waivers [--json]', 'report [lockfile] [--json]'],
  flags: { remove: {}, reason: { value: 'R' }, expires: { value: '90d' }, json: {}, ...REGISTRY_FLAG },
  summary: 'The license policy, waivers, and a license report of a lockfile (exit 1 when it has violations)',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'show, allow, deny, unknown, waive, unwaive, waivers or report');
    switch (action) {
      case 'show': {
        const p = await api.request<PolicyView>('GET', '/licenses');
        if (args.flags.json) io.out(json(p));
        else showPolicy(io, p);
        return 0;
      }
      case 'allow':
      case 'deny': {
        const ids = args.positionals.slice(1);
        if (ids.length === 0) throw new UsageError('name at least one SPDX license id');
        const current = await api.request<PolicyView>('GET', '/licenses');
        const list = args.flags.remove ? current[action].filter((id) => !ids.includes(id)) : [...new Set([...current[action], ...ids])];
        showPolicy(io, await api.request<PolicyView>('PUT', '/licenses', { [action]: list }));
        return 0;
      }
      case 'unknown': {
        const value = requirePositional(args, 1, 'block or allow');
        showPolicy(io, await api.request<PolicyView>('PUT', '/licenses', { unknown: value }));
        return 0;
      }
      case 'waive': {
        const spec = requirePositional(args, 1, 'a package spec');
        const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
        const [name, range] = at === -1 ? [spec, '*'] : [spec.slice(0, at), spec.slice(at + 1)];
        const reason = stringFlag(args, 'reason');
        if (!reason) throw new UsageError('--reason is required');
        const waiver = await api.request<{ id: string; expiresAt: string | null }>('POST', '/licenses/waivers', { name, range, reason, expiresIn: stringFlag(args, 'expires') });
        io.out(line`waived the license of ${name}@${range} (waiver ${waiver.id}${waiver.expiresAt ? `, expires ${waiver.expiresAt}` : ''})`);
        return 0;
      }
      case 'unwaive': {
        const id = requirePositional(args, 1, 'a waiver id');
        const removed = await api.request<{ name: string; range: string }>('DELETE', `/licenses/waivers/${enc(id)}`);
        io.out(line`removed waiver ${id} (${removed.name}@${removed.range})`);
        return 0;
      }
      case 'waivers': {
        const page = await api.request<{ items: Array<Record<string, unknown>> }>('GET', '/licenses/waivers?limit=500');
        io.out(args.flags.json ? json(page.items) : table(page.items, ['id', 'name', 'range', 'approvedBy', 'expiresAt', 'reason']));
        return 0;
      }
      case 'report':
        return report(api, args, io);
      default:
        throw new UsageError(`unknown action '${action}'`);
    }
  },
};

import fs from 'node:fs';
import path from 'node:path';
import { parseSpec } from '../../core/names';
import type { SkipReason } from '../../core/lockfile';
import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { readLockfile } from '../lockfile-input';
import { json, line, Output, table } from '../output';

interface RequestView {
  id: number;
  name: string;
  range: string;
  status: string;
  requester: string;
  summary: string;
  reason: string;
  comment: string | null;
  sourceRequestId: number | null;
  checks: {
    versions?: Array<{ version: string; license: string; installScripts: boolean; code: string; reason: string }>;
    tree?: { root: string; nodes: Array<{ name: string; version: string; kind: string; parent: string | null; license: string; allowed: boolean; code: string }> } | { error: string };
  };
  children?: RequestView[];
  previous?: { id: number; reason: string; comment: string | null; decidedBy: string | null; decidedAt: string };
}

interface LimitsView {
  perHour: number;
  used: number;
  remaining: number;
  nextSlotAt: string | null;
  rejectionCooldown: string;
}

function showRequest(io: Output, r: RequestView): void {
  io.out(line`request ${r.id}: ${r.name}@${r.range} [${r.status}] by ${r.requester}`);
  io.out(line`  reason:  ${r.reason}`);
  if (r.previous) {
    io.out(line`  filed again after request ${r.previous.id}, rejected ${r.previous.decidedAt}${r.previous.decidedBy ? ` by ${r.previous.decidedBy}` : ''}:`);
    io.out(line`    its reason: ${r.previous.reason}`);
    if (r.previous.comment) io.out(line`    rejected:   ${r.previous.comment}`);
  }
  io.out(line`  summary: ${r.summary}`);
  if (r.comment) io.out(line`  comment: ${r.comment}`);
  for (const v of r.checks.versions ?? []) {
    io.out(line`  ${v.version.padEnd(14)} ${v.license.padEnd(16)} ${v.installScripts ? 'install scripts' : 'no scripts     '}  ${v.code === 'ENOTAPPROVED' ? 'needs approval' : v.code}`);
  }
  const tree = r.checks.tree;
  if (tree && 'nodes' in tree) {
    io.out(line`  dependency tree of ${tree.root}:`);
    for (const n of tree.nodes.slice(1)) io.out(line`    ${n.allowed ? ' ' : '+'} ${n.name}@${n.version} (${n.kind}, ${n.license}${n.allowed ? '' : `, ${n.code}`}) <- ${n.parent}`);
  } else if (tree) {
    io.out(line`  dependency tree: ${tree.error}`);
  }
  if (r.children?.length) io.out(line`  dependency requests: ${r.children.map((c) => `${c.id} ${c.name}@${c.range} [${c.status}]`).join(', ')}`);
}

export const request: Command = {
  name: 'request',
  forms: ['<name>[@range] --reason [--with-dependencies] [--json]', '--lockfile [--reason] [--json]'],
  flags: { reason: { value: 'R' }, lockfile: { value: '<file>' }, 'with-dependencies': {}, json: {}, ...REGISTRY_FLAG },
  summary: 'Ask for a package (or for every blocked entry of a lockfile); the checks run at once',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const lockfile = stringFlag(args, 'lockfile');
    if (lockfile) {
      const { file, parsed } = readLockfile(lockfile);
      const result = await api.request<{ created: RequestView[]; alreadyOpen: string[]; allowed: number; notFound?: string[]; coolingDown?: Array<{ spec: string; rejectedRequestId?: number; until: string }> }>('POST', '/requests/batch', {
        entries: parsed.entries.map((e) => ({ name: e.name, version: e.version })),
        reason: stringFlag(args, 'reason') ?? `needed by ${path.basename(path.dirname(file))}`,
      });
      if (args.flags.json) io.out(json(result));
      else {
        io.out(line`${parsed.entries.length} entries: ${result.allowed} allowed, ${result.created.length} requested, ${result.alreadyOpen.length} already requested`);
        for (const r of result.created) io.out(line`  request ${r.id}: ${r.name}@${r.range}`);
        for (const spec of result.notFound ?? []) io.out(line`  not filed: ${spec} exists neither here nor upstream; fix the lockfile`);
        for (const c of result.coolingDown ?? []) io.out(line`  not filed: ${c.spec} was rejected (${c.rejectedRequestId === undefined ? "another user's request" : `request ${c.rejectedRequestId}`}); until ${c.until} only with a new --reason`);
      }
      return 0;
    }
    const { name, range } = parseSpec(requirePositional(args, 0, 'a package spec'));
    const reason = stringFlag(args, 'reason');
    if (!reason) throw new UsageError('--reason is required: tell the admins why you need it');
    const created = await api.request<RequestView>('POST', '/requests', { name, range, reason, withDependencies: args.flags['with-dependencies'] === true });
    if (args.flags.json) io.out(json(created));
    else showRequest(io, created);
    return 0;
  },
};

export const requests: Command = {
  name: 'requests',
  forms: ['[--status] [--mine] [--json]', 'show <id> [--json]', 'approve <id> [--comment] [--with-dependencies] [--json]', 'reject <id> [--comment] [--json]', 'cancel <id> [--comment] [--json]'],
  flags: { status: { value: 'S' }, mine: {}, comment: { value: 'C' }, 'with-dependencies': {}, json: {}, ...REGISTRY_FLAG },
  summary: 'List requests (yours, or all for admins), show one with its checks, approve, reject or cancel',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = args.positionals[0];
    if (!action) {
      const params = new URLSearchParams({ limit: '500' });
      const status = stringFlag(args, 'status');
      if (status) params.set('status', status);
      if (args.flags.mine) params.set('mine', 'true');
      const page = await api.request<{ items: RequestView[]; limits?: LimitsView }>('GET', `/requests?${params.toString()}`);
      io.out(args.flags.json ? json(page.items) : table(page.items as unknown as Array<Record<string, unknown>>, ['id', 'name', 'range', 'status', 'requester', 'summary']));
      if (page.limits && !args.flags.json) {
        const l = page.limits;
        io.out(
          `limits: ${l.used} of ${l.perHour} requests filed in the last hour, ${l.remaining} left${l.remaining === 0 && l.nextSlotAt ? ` (the next at ${l.nextSlotAt})` : ''}; ` +
            `auto-queued dependency requests do not count, a lockfile batch counts once. ` +
            (l.rejectionCooldown === 'none' ? 'A rejected request can be filed again at once.' : `A rejected name@range can be filed again within ${l.rejectionCooldown} only with a new reason.`),
        );
      }
      return 0;
    }
    const id = requirePositional(args, 1, 'a request id');
    const comment = stringFlag(args, 'comment');
    let result: RequestView;
    switch (action) {
      case 'show':
        result = await api.request<RequestView>('GET', `/requests/${enc(id)}`);
        break;
      case 'approve':
        result = await api.request<RequestView>('POST', `/requests/${enc(id)}/approve`, { comment, withDependencies: args.flags['with-dependencies'] === true });
        break;
      case 'reject':
        result = await api.request<RequestView>('POST', `/requests/${enc(id)}/reject`, { comment });
        break;
      case 'cancel':
        result = await api.request<RequestView>('POST', `/requests/${enc(id)}/cancel`, { comment });
        break;
      default:
        throw new UsageError(`unknown action '${action}'`);
    }
    if (args.flags.json) io.out(json(result));
    else showRequest(io, result);
    return 0;
  },
};

interface CheckResult {
  ok: boolean;
  checked: number;
  blocked: Array<{ name: string; version: string; code: string; reason: string }>;
  project?: { name: string; version: string; packages: number };
}

/** Why a lockfile entry was not checked, by the parser's reason. */
const SKIPPED_TEXT: Record<SkipReason, string> = {
  git: 'comes from git, not through this registry',
  url: 'comes from a tarball URL, not through this registry',
  bundled: "comes inside its parent's tarball (the parent is checked)",
  other: 'comes from a source that is not this registry',
};

export const check: Command = {
  name: 'check',
  forms: ['[lockfile] [--record] [--json]'],
  flags: { record: {}, json: {}, ...REGISTRY_FLAG },
  summary: 'CI pre-flight: would every lockfile entry install? Exit 0 yes, 1 some are blocked, 2 bad input',
  async run({ args, io, env }) {
    const { file, parsed } = readLockfile(args.positionals[0]);
    const body: Record<string, unknown> = { entries: parsed.entries };
    if (args.flags.record) {
      const pkgFile = path.join(path.dirname(file), 'package.json');
      const pkg = fs.existsSync(pkgFile) ? (JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { name?: string; version?: string }) : {};
      body.project = { name: pkg.name ?? parsed.root?.name ?? path.basename(path.dirname(file)), version: pkg.version ?? parsed.root?.version ?? '0.0.0', format: parsed.format };
    }
    const result = await createClient({ registry: stringFlag(args, 'registry') }, env).request<CheckResult>('POST', '/lockfile/check', body);
    // What the lockfile takes from elsewhere (git, a tarball URL) or inside a parent's tarball: not decided here, so said.
    const skipped = parsed.skipped ?? [];
    if (args.flags.json) io.out(json({ lockfile: file, format: parsed.format, ...result, skipped }));
    else {
      io.out(line`${file} (${parsed.format}): ${result.checked} entries, ${result.blocked.length} blocked${skipped.length > 0 ? `, ${skipped.length} not checked` : ''}`);
      for (const b of result.blocked) io.out(line`  [${b.code}] ${b.reason}`);
      for (const s of skipped) io.out(line`  not checked: ${s.name} ${SKIPPED_TEXT[s.reason]}${s.source ? ` (${s.source})` : ''}`);
      if (result.project) io.out(line`recorded as project ${result.project.name}@${result.project.version}`);
    }
    return result.ok ? 0 : 1;
  },
};

export const usage: Command = {
  name: 'usage',
  forms: ['<name>[@version] [--json]'],
  flags: { json: {}, ...REGISTRY_FLAG },
  summary: 'Which recorded projects use a package version: the impact of a ban',
  async run({ args, io, env }) {
    const spec = requirePositional(args, 0, 'name or name@version');
    const result = await createClient({ registry: stringFlag(args, 'registry') }, env).request<{ projects: Array<Record<string, unknown>> }>('GET', `/usage/${enc(spec)}`);
    io.out(args.flags.json ? json(result) : result.projects.length === 0 ? line`no recorded project uses ${spec}` : table(result.projects, ['project', 'projectVersion', 'version', 'integrity', 'dev']));
    return 0;
  },
};

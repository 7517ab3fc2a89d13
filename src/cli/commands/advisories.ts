import fs from 'node:fs';
import path from 'node:path';
import { parseSpec } from '../../core/names';
import { requirePositional, stringFlag, UsageError } from '../args';
import { Client, createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

export const advisories: Command = {
  name: 'advisories',
  forms: ['list [name] [--json]', 'import <osv.json>', 'sync <dir>', 'flag <name>[@range] --reason', 'override <name> <id> --reason', 'unoverride <name> <id>', 'impact [name] [--state] [--json]'],
  flags: { reason: { value: 'R' }, state: { value: 'S' }, json: {}, ...REGISTRY_FLAG },
  summary: 'Known security advisories and malware entries, offline import from OSV files, malware flags and overrides of false positives, impact on recorded projects (admin)',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'list, import, sync, flag, override, unoverride or impact');
    if (action === 'list') {
      const name = args.positionals[1];
      const result = await api.request<{ items: Array<Record<string, unknown>>; source: { ok: boolean; lastError: string | null } }>('GET', `/advisories${name ? `?name=${enc(name)}` : ''}`);
      if (args.flags.json) io.out(json(result));
      else {
        const rows = result.items.map((a) => ({
          ...a,
          kind: a.malware ? 'malware' : 'advisory',
          state: a.overridden ? `overridden by ${(a.overridden as { by: string }).by}` : a.withdrawnAt ? `withdrawn ${String(a.withdrawnAt)}` : 'in force',
        }));
        io.out(table(rows, ['name', 'id', 'kind', 'severity', 'vulnerableVersions', 'source', 'state', 'title']));
        if (!result.source.ok) io.out(line`advisory source: unreachable (${result.source.lastError})`);
      }
      return 0;
    }
    if (action === 'import') {
      const file = requirePositional(args, 1, 'an OSV JSON file');
      let document: unknown;
      try {
        document = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        throw new UsageError(`cannot read ${file} as JSON: ${(err as Error).message}`);
      }
      const result = await api.request<{ imported: number; packages: string[] }>('POST', '/advisories/import', document);
      io.out(line`imported ${result.imported} advisories for ${result.packages.join(', ')}`);
      return 0;
    }
    if (action === 'sync') {
      const root = path.resolve(requirePositional(args, 1, 'a directory of OSV JSON files'));
      const result = await syncDirectory(api, root);
      io.out(
        `read ${result.read} new or changed files of ${result.total} (${result.total - result.read} unchanged); imported ${result.imported} advisories for ${result.packages} packages` +
          (result.skipped.length > 0 ? `; skipped ${result.skipped.length} that are not OSV:` : ''),
      );
      for (const s of result.skipped) io.out(line`  ${s.path}: ${s.error}`);
      return result.skipped.length > 0 ? 1 : 0;
    }
    if (action === 'flag') {
      const { name, range } = parseSpec(requirePositional(args, 1, 'a package spec'));
      const flagged = await api.request<{ id: string; vulnerableVersions: string }>('POST', '/advisories/malware', { name, range, reason: stringFlag(args, 'reason') });
      io.out(line`flagged ${name}@${flagged.vulnerableVersions} as malware (${flagged.id})`);
      return 0;
    }
    if (action === 'override' || action === 'unoverride') {
      const name = requirePositional(args, 1, 'a package name');
      const id = requirePositional(args, 2, "an entry's id");
      if (action === 'override') {
        await api.request('POST', '/advisories/overrides', { name, id, reason: stringFlag(args, 'reason') });
        io.out(line`overrode ${id} of ${name}: it blocks nothing now`);
      } else {
        await api.request('DELETE', `/advisories/overrides?name=${enc(name)}&id=${enc(id)}`);
        io.out(line`removed the override of ${id} of ${name}: it blocks again`);
      }
      return 0;
    }
    if (action === 'impact') {
      const name = args.positionals[1];
      const state = stringFlag(args, 'state');
      const params = [name ? `package=${enc(name)}` : '', state ? `state=${enc(state)}` : ''].filter(Boolean).join('&');
      const result = await api.request<{ items: ImpactView[] }>('GET', `/advisories/impact${params ? `?${params}` : ''}`);
      if (args.flags.json) io.out(json(result));
      else {
        const rows = result.items.map((r) => ({
          package: r.package,
          id: r.advisoryId,
          kind: r.malware ? 'malware' : r.severity,
          versions: r.versions.join(', ') || '-',
          state: r.state,
          projects: r.projects.filter((p) => p.resolvedAt === null).map((p) => `${p.project}@${p.projectVersion} (${r.package}@${p.version})`).join(', ') || '-',
          createdAt: r.createdAt,
        }));
        io.out(table(rows, ['package', 'id', 'kind', 'versions', 'state', 'projects', 'createdAt']));
      }
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};

interface ImpactView {
  package: string;
  advisoryId: string;
  severity: string;
  malware: boolean;
  state: string;
  versions: string[];
  createdAt: string;
  projects: Array<{ project: string; projectVersion: string; version: string; resolvedAt: string | null }>;
}

/** The JSON files under a directory, with paths relative to it (the OpenSSF layout: osv/malicious/npm/<name>/MAL-*.json). */
function jsonFiles(root: string): Array<{ path: string; mtimeMs: number; size: number }> {
  let entries: string[];
  try {
    entries = fs.readdirSync(root, { recursive: true, encoding: 'utf8' });
  } catch (err) {
    throw new UsageError(`cannot read the directory ${root}: ${(err as Error).message}`);
  }
  const out: Array<{ path: string; mtimeMs: number; size: number }> = [];
  for (const rel of entries.sort()) {
    if (!rel.endsWith('.json')) continue;
    const stat = fs.statSync(path.join(root, rel), { throwIfNoEntry: false });
    if (stat?.isFile()) out.push({ path: rel.split(path.sep).join('/'), mtimeMs: stat.mtimeMs, size: stat.size });
  }
  return out;
}

/** Bodies of the admin API stay below its 1 MB limit. */
const SYNC_BATCH_BYTES = 700 * 1024;
const SYNC_BATCH_FILES = 1000;

/**
 * Incremental import of a directory tree of OSV files: asks what was read before (path and
 * modification time), reads only the files that are new or changed, and sends them in batches.
 */
export async function syncDirectory(api: Client, root: string): Promise<{ total: number; read: number; imported: number; packages: number; skipped: Array<{ path: string; error: string }> }> {
  const files = jsonFiles(root);
  const state = await api.request<{ files: Record<string, number> }>('GET', `/advisories/sync?root=${enc(root)}`);
  const changed = files.filter((f) => state.files[f.path] !== f.mtimeMs);
  let imported = 0;
  const packages = new Set<string>();
  const skipped: Array<{ path: string; error: string }> = [];
  let batch: Array<{ path: string; mtimeMs: number; document: unknown }> = [];
  let bytes = 0;
  const send = async () => {
    if (batch.length === 0) return;
    const result = await api.request<{ imported: number; packages: string[]; skipped: Array<{ path: string; error: string }> }>('POST', '/advisories/sync', { root, files: batch });
    imported += result.imported;
    for (const p of result.packages) packages.add(p);
    skipped.push(...result.skipped);
    batch = [];
    bytes = 0;
  };
  for (const f of changed) {
    let document: unknown;
    try {
      document = JSON.parse(fs.readFileSync(path.join(root, f.path), 'utf8'));
    } catch (err) {
      skipped.push({ path: f.path, error: `not JSON: ${(err as Error).message}` });
      continue;
    }
    if (batch.length > 0 && (bytes + f.size > SYNC_BATCH_BYTES || batch.length >= SYNC_BATCH_FILES)) await send();
    batch.push({ path: f.path, mtimeMs: f.mtimeMs, document });
    bytes += f.size;
  }
  await send();
  return { total: files.length, read: changed.length, imported, packages: packages.size, skipped };
}

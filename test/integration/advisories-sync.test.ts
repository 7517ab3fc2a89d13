/**
 * `gatekeeper advisories sync <dir>` imports a tree of OSV files in the OpenSSF layout
 * (osv/malicious/npm/<name>/MAL-*.json) incrementally: a second sync reads only files that are
 * new or whose modification time changed. An unchanged file is not read again: its content is
 * replaced with something that is not JSON (its time kept), and the sync does not notice.
 * What it imports blocks at once through the real npm CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runGatekeeper } from '../support/cli';
import { makeProject } from '../support/npm';
import { gatekeeperSuite } from '../support/suite';

const mal = (id: string, name: string, versions: string[], extra: Record<string, unknown> = {}) => ({
  id,
  summary: `Malicious code in ${name} (npm)`,
  affected: [{ package: { ecosystem: 'npm', name }, versions }],
  ...extra,
});

describe('gatekeeper advisories sync <dir>', () => {
  const s = gatekeeperSuite({
    packages: () => {
      const old = new Date(Date.now() - 30 * 86_400_000);
      return ['sync-a', 'sync-b', 'sync-c'].map((name) => ({ name, versions: ['1.0.0', '1.0.1'].map((version) => ({ version, license: 'MIT', publishedAt: old })) }));
    },
  });
  let root: string;
  const cli = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);
  const write = (name: string, id: string, doc: unknown, mtime?: Date) => {
    const dir = path.join(root, 'osv', 'malicious', 'npm', name);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${id}.json`);
    fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
    if (mtime) fs.utimesSync(file, mtime, mtime);
    return file;
  };
  const tarball = async (name: string, version: string) => {
    const res = await fetch(new URL(`${name}/-/${name}-${version}.tgz`, s.t.url));
    const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return res.status === 200 ? 200 : (JSON.parse(body) as { code: string }).code;
  };
  const install = async (spec: string) => {
    const project = await makeProject(s.npm.dir, { name: `p-${spec.replace(/[^a-z0-9]/g, '-')}` });
    return s.npm.run(['install', spec, '--ignore-scripts', '--prefer-online'], { cwd: project });
  };

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-osv-sync-'));
  });

  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('reads every file on the first sync, then only new and changed files', async () => {
    const past = new Date(Date.now() - 3_600_000);
    const fileA = write('sync-a', 'MAL-2025-0001', mal('MAL-2025-0001', 'sync-a', ['1.0.1']), past);
    write('sync-b', 'MAL-2025-0002', mal('MAL-2025-0002', 'sync-b', ['1.0.1']), past);
    fs.writeFileSync(path.join(root, 'README.md'), 'not a json file');

    const first = await cli('advisories', 'sync', root);
    expect(first.code).toBe(0);
    expect(first.out).toBe('read 2 new or changed files of 2 (0 unchanged); imported 2 advisories for 2 packages');
    expect(await tarball('sync-a', '1.0.1')).toBe('EMALWARE');
    expect(await tarball('sync-b', '1.0.1')).toBe('EMALWARE');
    expect(await tarball('sync-a', '1.0.0')).toBe(200);

    const again = await cli('advisories', 'sync', root);
    expect(again.out).toBe('read 0 new or changed files of 2 (2 unchanged); imported 0 advisories for 0 packages');

    // sync-a's file is not JSON any more, but its time is what the last sync saw: not read.
    fs.writeFileSync(fileA, '{ this is not json');
    fs.utimesSync(fileA, past, past);
    // sync-b's entry is withdrawn (a new time), and sync-c has a new entry.
    write('sync-b', 'MAL-2025-0002', mal('MAL-2025-0002', 'sync-b', ['1.0.1'], { withdrawn: '2025-09-01T00:00:00Z' }));
    write('sync-c', 'MAL-2025-0003', mal('MAL-2025-0003', 'sync-c', ['1.0.0', '1.0.1']));
    const third = await cli('advisories', 'sync', root);
    expect(third.code).toBe(0);
    expect(third.out).toBe('read 2 new or changed files of 3 (1 unchanged); imported 2 advisories for 2 packages');
    expect(await tarball('sync-a', '1.0.1')).toBe('EMALWARE');
    expect(await tarball('sync-b', '1.0.1')).toBe(200);
    expect(await tarball('sync-c', '1.0.0')).toBe('EMALWARE');

    // A changed file that is not OSV is reported, and read again next time.
    fs.utimesSync(fileA, new Date(), new Date());
    const broken = await cli('advisories', 'sync', root);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain('read 1 new or changed files of 3 (2 unchanged)');
    expect(broken.out).toContain('osv/malicious/npm/sync-a/MAL-2025-0001.json: not JSON');
    expect((await cli('advisories', 'sync', root)).out).toContain('read 1 new or changed files of 3');
  });

  it('what it imported blocks through npm, while the other versions install', async () => {
    const blocked = await install('sync-c');
    expect(blocked.code).not.toBe(0);
    expect(blocked.output).toContain('[EMALWARE] sync-c@1.0.1 is malware: MAL-2025-0003 (an imported OSV entry)');
    const ok = await install('sync-a');
    expect(ok.code).toBe(0);
    const entries = await s.t.api('GET', '/audit?action=advisory.import');
    expect((entries.body.items as Array<{ details: { file?: string } }>).map((e) => e.details.file)).toEqual(
      expect.arrayContaining(['osv/malicious/npm/sync-a/MAL-2025-0001.json', 'osv/malicious/npm/sync-c/MAL-2025-0003.json']),
    );
  });
});

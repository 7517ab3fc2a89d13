/**
 * Writes based on a read: npm deprecate reads the packument with ?write=true and writes it
 * back. Versions hidden by policy must survive that round trip.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loginToken } from '../support/gatekeeper';
import { createNpmEnv, NpmEnv } from '../support/npm';
import { packageLockKeys } from '../../src/db/package-lock';
import { whileLocked } from '../support/database';
import { publishDocument } from '../support/publish';
import { gatekeeperSuite } from '../support/suite';

async function publish(npm: NpmEnv, name: string, version: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(npm.dir, 'pkg-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';\n`);
  const result = await npm.run(['publish'], { cwd: dir });
  if (result.code !== 0) throw new Error(`publishing ${name}@${version} failed:\n${result.output}`);
}

describe('npm deprecate with versions hidden by policy', () => {
  const s = gatekeeperSuite({ policyMode: 'none' });

  beforeAll(async () => {
    await s.npm.setToken(s.t.adminToken);
    await s.t.api('POST', '/approvals', { name: '@acme/*', reason: 'our own scope' });
    expect((await s.t.api('POST', '/publish-rules', { pattern: '@acme/*', role: 'publisher' })).status).toBe(201);
    for (const version of ['1.0.0', '1.1.0', '2.0.0']) await publish(s.npm, '@acme/lib', version);
  });

  it('deprecating an allowed version keeps the banned one in storage', async () => {
    const ban = await s.t.api('POST', '/bans', { name: '@acme/lib', range: '2.0.0', reason: 'broken build' });
    expect(ban.status).toBe(201);
    const visible = (await (await fetch(new URL('@acme%2flib', s.t.url))).json()) as any;
    expect(Object.keys(visible.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    // The write read npm makes first is unfiltered for those who may publish, and only for them.
    const asAdmin = (await (await fetch(new URL('@acme%2flib?write=true', s.t.url), { headers: { authorization: `Bearer ${s.t.adminToken}` } })).json()) as any;
    expect(Object.keys(asAdmin.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    const anonymous = (await (await fetch(new URL('@acme%2flib?write=true', s.t.url))).json()) as any;
    expect(Object.keys(anonymous.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    const deprecated = await s.npm.run(['deprecate', '@acme/lib@1.0.0', 'use 1.1.0']);
    expect(deprecated.output).not.toContain('npm error');
    expect(deprecated.code).toBe(0);

    // Storage still holds every version, the deprecation included.
    const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
    expect(Object.keys(stored.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(stored.versions['1.0.0'].deprecated).toBe('use 1.1.0');
    expect(fs.existsSync(path.join(s.t.dataDir, 'storage/@acme/lib/lib-2.0.0.tgz'))).toBe(true);

    // Lifting the ban brings 2.0.0 back, as it was.
    await s.t.api('DELETE', `/bans/${ban.body.id}`);
    const after = (await (await fetch(new URL('@acme%2flib', s.t.url))).json()) as any;
    expect(Object.keys(after.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(after['dist-tags'].latest).toBe('2.0.0');
    expect(after.versions['1.0.0'].deprecated).toBe('use 1.1.0');
  });

  it('a user who may not publish cannot deprecate', async () => {
    await s.t.api('POST', '/users', { username: 'dev2', password: 'dev2-password', role: 'developer' });
    const other = await createNpmEnv(s.t.url);
    try {
      await other.setToken(await loginToken(s.t.url, 'dev2', 'dev2-password'));
      const result = await other.run(['deprecate', '@acme/lib@1.1.0', 'nope']);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/EFORBIDDEN|403/);
      const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
      expect(stored.versions['1.1.0'].deprecated).toBeUndefined();
      expect(Object.keys(stored.versions)).toHaveLength(3);
    } finally {
      await other.cleanup();
    }
  });

  it("a developer's refused deprecate and star are audited with the actor and the package", async () => {
    await s.t.api('POST', '/users', { username: 'dev3', password: 'dev3-password', role: 'developer' });
    const other = await createNpmEnv(s.t.url);
    try {
      await other.setToken(await loginToken(s.t.url, 'dev3', 'dev3-password'));
      const deprecate = await other.run(['deprecate', '@acme/lib@1.0.0', 'x']);
      expect(deprecate.code).not.toBe(0);
      expect(deprecate.output).toContain('EFORBIDDEN');
      const star = await other.run(['star', '@acme/lib']);
      expect(star.code).not.toBe(0);
      expect(star.output).toContain('EFORBIDDEN');
    } finally {
      await other.cleanup();
    }
    const audit = (await s.t.api('GET', '/audit?actor=dev3&package=@acme/lib')).body.items as Array<{ action: string; package: string; details: { code: string } }>;
    expect(audit.map((e) => ({ action: e.action, package: e.package, code: e.details.code })).sort((a, b) => a.action.localeCompare(b.action))).toEqual([
      { action: 'package.deprecate_refused', package: '@acme/lib', code: 'EFORBIDDEN' },
      { action: 'package.star_refused', package: '@acme/lib', code: 'EFORBIDDEN' },
    ]);
  });

  it('a document written back that moves dist-tags and deprecates a version audits both', async () => {
    const auth = { authorization: `Bearer ${s.t.adminToken}` };
    const doc = (await (await fetch(new URL('@acme%2flib?write=true', s.t.url), { headers: auth })).json()) as any;
    expect(doc['dist-tags']).toEqual({ latest: '2.0.0' });
    const since = new Date().toISOString();
    doc['dist-tags'] = { latest: '1.1.0', stable: '1.0.0' };
    doc.versions['2.0.0'].deprecated = 'use 1.1.0 for now';
    const put = await fetch(new URL(`@acme%2flib/-rev/${doc._rev}`, s.t.url), { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    expect(put.status).toBeLessThan(300);
    const stored = JSON.parse(fs.readFileSync(path.join(s.t.dataDir, 'storage/@acme/lib/package.json'), 'utf8'));
    expect(stored['dist-tags']).toEqual({ latest: '1.1.0', stable: '1.0.0' });

    const audit = (await s.t.api('GET', `/audit?package=@acme/lib&since=${encodeURIComponent(since)}`)).body.items as Array<{ action: string; actor: string; version: string; details: Record<string, unknown> }>;
    const of = (action: string): Array<Record<string, unknown>> => audit.filter((e) => e.action === action).map((e) => ({ actor: e.actor, version: e.version, ...e.details }));
    expect(of('package.dist_tag').sort((a, b) => String(a.tag).localeCompare(String(b.tag)))).toEqual([
      { actor: 'admin', version: '1.1.0', op: 'add', tag: 'latest', from: '2.0.0', to: '1.1.0', via: 'document' },
      { actor: 'admin', version: '1.0.0', op: 'add', tag: 'stable', from: null, to: '1.0.0', via: 'document' },
    ]);
    expect(of('package.deprecate')).toEqual([{ actor: 'admin', version: '2.0.0', message: 'use 1.1.0 for now' }]);
  });
});

describe('documents written back that Verdaccio would store unchecked', () => {
  // Publishers may never unpublish (window 0): only admins.
  const s = gatekeeperSuite({ policyMode: 'none', npm: false, settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'], shadowUpstream: false }], unpublishWindow: '0s' } });
  let pub: string;
  const send = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(new URL(url.slice(1), s.t.url), { method, headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, statusText: res.statusText, body: (await res.json()) as any };
  };
  const stored = (pkg: string) => JSON.parse(fs.readFileSync(path.join(s.t.dataDir, `storage/@acme/${pkg}/package.json`), 'utf8'));

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'wpub', password: 'wpub-password', role: 'publisher' });
    pub = await loginToken(s.t.url, 'wpub', 'wpub-password');
    for (const version of ['1.0.0', '1.1.0']) expect((await send('PUT', '/@acme%2fw', publishDocument('@acme/w', version))).status).toBe(201);
    expect((await send('PUT', '/-/package/@acme%2fw/dist-tags/beta', '1.0.0')).status).toBe(201);
  });

  it('refuses a version given as null, a deprecation that is no message and a document without dist-tags, on both write routes; nothing changes', async () => {
    const before = stored('w');
    const read = async () => (await send('GET', '/@acme%2fw?write=true')).body;
    const attempts: Array<[string, (doc: any) => void]> = [
      // Verdaccio removes a version given as null: an unpublish past the window, unrecorded, with latest left on it.
      ['a null version', (doc) => ((doc.versions['1.0.0'] = null), (doc['dist-tags'] = { latest: '1.0.0' }))],
      // Verdaccio stores any deprecated it is given; the audit saw none.
      ['a deprecation that is true', (doc) => (doc.versions['1.0.0'].deprecated = true)],
      // Verdaccio replaces the stored tags with none: beta would go, unaudited.
      ['no dist-tags', (doc) => delete doc['dist-tags']],
    ];
    for (const [what, spoil] of attempts) {
      for (const route of ['change', 'deprecate'] as const) {
        const doc = await read();
        spoil(doc);
        const res = await send('PUT', route === 'change' ? `/@acme%2fw/-rev/${doc._rev}` : '/@acme%2fw', doc);
        expect({ what, route, status: res.status, code: res.body.code, statusText: res.statusText.startsWith('[EBADPUBLISH] ') }).toEqual({ what, route, status: 400, code: 'EBADPUBLISH', statusText: true });
      }
    }
    const after = stored('w');
    expect({ versions: Object.keys(after.versions).sort(), tags: after['dist-tags'], deprecated: after.versions['1.0.0'].deprecated }).toEqual({
      versions: Object.keys(before.versions).sort(),
      tags: { latest: '1.1.0', beta: '1.0.0' },
      deprecated: undefined,
    });
    const versions = (await s.t.api('GET', '/packages/@acme%2fw/versions')).body.versions as Array<{ version: string; state: string }>;
    expect(versions.map((v) => `${v.version} ${v.state}`).sort()).toEqual(['1.0.0 available', '1.1.0 available']);
  });

  it('writes an unpublish as checked: a version published between the check and the write stays, with the tag its publish moved', async () => {
    for (const version of ['1.0.0', '1.1.0']) expect((await send('PUT', '/@acme%2fr', publishDocument('@acme/r', version))).status).toBe(201);
    const file = path.join(s.t.dataDir, 'storage/@acme/r/package.json');
    const read = await fetch(new URL('@acme%2fr?write=true', s.t.url), { headers: { authorization: `Bearer ${s.t.adminToken}` } });
    const doc = (await read.json()) as any;
    delete doc.versions['1.0.0'];
    const [keyA, keyB] = packageLockKeys('@acme/r');
    const [answer] = await whileLocked(
      s.t.gk.database.knex,
      (trx) => trx.raw('select pg_advisory_xact_lock(?, ?)', [keyA, keyB]),
      // An admin's npm unpublish @acme/r@1.0.0: checked now, its write waits for the package's storage lock.
      () => [fetch(new URL(`@acme%2fr/-rev/${doc._rev}`, s.t.url), { method: 'PUT', headers: { authorization: `Bearer ${s.t.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(doc) }).then((r) => r.status)],
      1,
      // Meanwhile, holding the lock, another writer stores 1.2.0 and moves latest to it (as a publish does).
      () => {
        const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
        stored.versions['1.2.0'] = { ...stored.versions['1.1.0'], version: '1.2.0' };
        stored['dist-tags'].latest = '1.2.0';
        fs.writeFileSync(file, JSON.stringify(stored));
      },
    );
    expect(answer).toBe(201);
    const after = stored('r');
    expect({ versions: Object.keys(after.versions).sort(), latest: after['dist-tags'].latest }).toEqual({ versions: ['1.1.0', '1.2.0'], latest: '1.2.0' });
  });

  it('refuses a publish without dist, and one whose dist carries signatures or attestations; the version stays free', async () => {
    const noDist = publishDocument('@acme/w', '1.2.0') as any;
    delete noDist.versions['1.2.0'].dist;
    const forged = publishDocument('@acme/w', '1.2.0') as any;
    forged.versions['1.2.0'].dist.attestations = { url: 'https://evil.example/att', provenance: { predicateType: 'https://slsa.dev/provenance/v1' } };
    for (const doc of [noDist, forged]) {
      const res = await send('PUT', '/@acme%2fw', doc);
      expect([res.status, res.body.code]).toEqual([400, 'EBADPUBLISH']);
    }
    expect((await send('PUT', '/@acme%2fw', publishDocument('@acme/w', '1.2.0'))).status).toBe(201);
    expect(stored('w').versions['1.2.0'].dist.attestations).toBeUndefined();
  });
});

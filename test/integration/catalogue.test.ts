/**
 * The catalogue (docs/catalogue.md) through the real CLI, real PostgreSQL, the fixture
 * registry and the real npm CLI: tags (created, renamed, assigned, filtered, deleted, every
 * step audited), reverse dependencies from requested trees, a recorded lockfile and a
 * publish, the catalogue listing with cursor paging, and the request limits (hourly limit
 * with Retry-After, auto-queued dependency requests not counted, the rejection cooldown).
 */
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { captureIo } from '../support/cli';
import { loginToken } from '../support/gatekeeper';
import { createNpmEnv, makeProject } from '../support/npm';
import { publishDocument } from '../support/publish';
import { gatekeeperSuite } from '../support/suite';

const FIXTURES = [
  { name: 'cat-base', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
  { name: 'cat-mid', versions: [{ version: '2.0.0', license: 'ISC', dependencies: { 'cat-base': '^1.0.0' } }] },
  { name: 'cat-top', versions: [{ version: '3.0.0', license: 'MIT', dependencies: { 'cat-mid': '^2.0.0' }, devDependencies: { 'cat-devtool': '^1.0.0' } }] },
  { name: 'cat-devtool', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'cat-other', versions: [{ version: '1.0.0', license: 'Apache-2.0', dependencies: { 'cat-leaf': '^1.0.0' } }] },
  { name: 'cat-leaf', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'cat-http', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'BSD-2-Clause' }, { version: '2.0.0', license: 'BSD-2-Clause' }] },
  { name: 'cat-solo', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'cat-lim-root', versions: [{ version: '1.0.0', license: 'MIT', dependencies: { 'cat-lim-a': '^1.0.0', 'cat-lim-b': '^1.0.0' } }] },
  { name: 'cat-lim-a', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'cat-lim-b', versions: [{ version: '1.0.0', license: 'MIT' }] },
  { name: 'cat-many', versions: Array.from({ length: 60 }, (_, i) => ({ version: `1.0.${i}`, license: 'MIT' })) },
];

type Cli = (...argv: string[]) => Promise<{ code: number; out: string; err: string }>;

describe('the catalogue: tags, dependents and request limits', () => {
  const s = gatekeeperSuite({ packages: FIXTURES, settings: { publishRules: [{ pattern: '@cat/*', roles: ['publisher'] }] }, policyMode: 'none' });
  const tokens: Record<string, string> = {};
  const as =
    (token: string): Cli =>
    async (...argv) => {
      const io = captureIo();
      const code = await main(argv, io, { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: token, PATH: process.env.PATH });
      return { code, out: io.outText(), err: io.errText() };
    };
  let admin: Cli;
  let dana: Cli;
  let pia: Cli;
  let rita: Cli;
  const auditOf = async (action: string) =>
    ((await s.t.api('GET', `/audit?action=${action}`)).body.items as Array<{ actor: string; package: string | null; details: Record<string, unknown> }>).map((e) => ({
      actor: e.actor,
      package: e.package,
      tag: e.details.tag ?? e.details.slug,
    }));

  beforeAll(async () => {
    for (const [username, role] of [
      ['dana', 'developer'],
      ['pia', 'publisher'],
      ['rita', 'developer'],
    ]) {
      expect((await s.t.api('POST', '/users', { username, password: `${username}-password`, role })).status).toBe(201);
      tokens[username] = await loginToken(s.t.url, username, `${username}-password`);
    }
    admin = as(s.t.adminToken);
    dana = as(tokens.dana);
    pia = as(tokens.pia);
    rita = as(tokens.rita);
  });

  describe('tags', () => {
    it('are created, renamed and listed by admins only', async () => {
      const created = await admin('tag', 'create', 'Database', '--colour', '#36c', '--description', 'SQL and NoSQL clients');
      expect(created).toMatchObject({ code: 0, out: 'created tag Database (database, #3366cc)' });
      expect((await admin('tag', 'create', 'HTTP clients')).out).toBe('created tag HTTP clients (http-clients)');
      const duplicate = await admin('tag', 'create', 'DATABASE', '--slug', 'db');
      expect(duplicate.code).toBe(1);
      expect(duplicate.err).toMatch(/^\[ECONFLICT\] a tag named 'Database' exists already/);
      const developer = await dana('tag', 'create', 'frontend');
      expect(developer.code).toBe(1);
      expect(developer.err).toContain('[EFORBIDDEN]');
      const renamed = await admin('tag', 'rename', 'http-clients', 'HTTP Clients', '--slug', 'http');
      expect(renamed).toMatchObject({ code: 0, out: 'tag http-clients is now HTTP Clients (http)' });
      const badColour = await admin('tag', 'rename', 'http', '--colour', 'red');
      expect(badColour.code).toBe(2);
      expect(badColour.err).toContain("[EVALIDATION] a tag colour is a hex colour like '#3366cc'");
      const listed = JSON.parse((await dana('tag', 'list', '--json')).out);
      expect(listed.map((tag: { slug: string; name: string; colour: string | null }) => [tag.slug, tag.name, tag.colour])).toEqual([
        ['database', 'Database', '#3366cc'],
        ['http', 'HTTP Clients', null],
      ]);
    });

    it('are assigned by admins and publishers (recording who and when), not by developers', async () => {
      expect(await pia('tag', 'add', 'cat-http', 'http')).toMatchObject({ code: 0, out: 'cat-http is tagged http (tags: http)' });
      // By name as well as by slug.
      expect((await admin('tag', 'add', 'cat-base', 'Database')).code).toBe(0);
      const refused = await dana('tag', 'add', 'cat-http', 'database');
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('[EFORBIDDEN]');
      const again = await pia('tag', 'add', 'cat-http', 'http');
      expect(again.code).toBe(1);
      expect(again.err).toContain('[ECONFLICT] cat-http carries the tag');
      expect((await pia('tag', 'add', 'cat-http', 'no-such-tag')).err).toContain("[ENOTFOUND] there is no tag 'no-such-tag'");
      const view = JSON.parse((await dana('tag', 'list', '--package', 'cat-http', '--json')).out);
      expect(view.tags).toEqual([expect.objectContaining({ slug: 'http', name: 'HTTP Clients', assignedBy: 'pia', assignedAt: expect.any(String) })]);
    });

    it('filter the catalogue, the approvals and the versions view', async () => {
      await s.t.api('POST', '/approvals', { name: 'cat-http', range: '^1.0.0', reason: 'reviewed' });
      await s.t.api('POST', '/approvals', { name: 'cat-base', range: '1.0.0', reason: 'reviewed' });
      await s.t.api('POST', '/approvals', { name: 'cat-solo', range: '9.9.9', reason: 'unrelated' });
      const page = JSON.parse((await dana('catalogue', '--tag', 'http', '--json')).out);
      // 2.0.0 is not approved: the newest allowed is 1.1.0, with that version's license.
      expect(page).toEqual({
        items: [{ name: 'cat-http', newestAllowed: '1.1.0', license: 'BSD-2-Clause', tags: [{ slug: 'http', name: 'HTTP Clients', colour: null }], private: false }],
        nextCursor: null,
      });
      const text = await dana('catalogue', '--tag', 'database');
      expect(text.out).toMatch(/^NAME\s+NEWEST\s+LICENSE\s+TAGS\s+PRIVATE\ncat-base\s+1\.0\.0\s+MIT\s+database\s+no$/);

      const approvals = JSON.parse((await dana('approvals', '--tag', 'database', '--json')).out);
      expect(approvals.map((a: { pattern: string; range: string }) => `${a.pattern}@${a.range}`)).toEqual(['cat-base@1.0.0']);
      expect(JSON.parse((await dana('approvals', '--json')).out)).toHaveLength(3);

      const versions = await dana('versions', '--tag', 'http');
      expect(versions.code).toBe(0);
      expect(versions.out).toMatch(/^cat-http \(tags: http\)\nVERSION/);
      expect(versions.out).toMatch(/2\.0\.0\s.*ENOTAPPROVED/);
      expect(versions.out).toMatch(/1\.1\.0\s.*allowed/);
      expect(versions.out).not.toContain('cat-base');
      expect((await dana('versions', 'cat-http')).out).toMatch(/^tags: http\n/);
    });

    it('page the catalogue by cursor and search it by name', async () => {
      const first = JSON.parse((await dana('catalogue', 'CAT-', '--limit', '2', '--json')).out);
      expect(first.items.map((p: { name: string }) => p.name)).toEqual(['cat-base', 'cat-http']);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = JSON.parse((await dana('catalogue', 'cat-', '--limit', '2', '--cursor', first.nextCursor, '--json')).out);
      expect(second.items.map((p: { name: string }) => p.name)).toEqual(['cat-solo']);
      expect(second.items[0]).toMatchObject({ newestAllowed: null, tags: [] });
      expect(second.nextCursor).toBeNull();
      expect(JSON.parse((await dana('catalogue', 'http', '--json')).out).items.map((p: { name: string }) => p.name)).toEqual(['cat-http']);
      const forged = await s.t.api('GET', `/packages?cursor=${Buffer.from('name:../etc').toString('base64url')}`, undefined, tokens.dana);
      expect(forged.status).toBe(400);
    });

    it('are removed from packages and deleted (softly), every step audited', async () => {
      expect((await pia('tag', 'remove', 'cat-http', 'http')).out).toBe('cat-http is no longer tagged http');
      expect(JSON.parse((await dana('catalogue', '--tag', 'http', '--json')).out).items).toEqual([]);
      expect((await admin('tag', 'delete', 'database')).out).toBe('deleted tag Database (database, #3366cc); it no longer appears on any package');
      expect(JSON.parse((await dana('tag', 'list', '--json')).out).map((tag: { slug: string }) => tag.slug)).toEqual(['http']);
      const all = JSON.parse((await dana('tag', 'list', '--all', '--json')).out);
      expect(all.find((tag: { slug: string }) => tag.slug === 'database')).toMatchObject({ deletedBy: 'admin', deletedAt: expect.any(String) });
      const gone = await dana('catalogue', '--tag', 'database');
      expect(gone.code).toBe(1);
      expect(gone.err).toContain("[ENOTFOUND] there is no tag 'database'");
      expect(JSON.parse((await dana('tag', 'list', '--package', 'cat-base', '--json')).out).tags).toEqual([]);
      // A deleted tag's name is free again.
      expect((await admin('tag', 'create', 'Database')).code).toBe(0);

      expect(await auditOf('tag.create')).toEqual([
        { actor: 'admin', package: null, tag: 'database' },
        { actor: 'admin', package: null, tag: 'http-clients' },
        { actor: 'admin', package: null, tag: 'database' },
      ]);
      expect(await auditOf('tag.update')).toEqual([{ actor: 'admin', package: null, tag: 'http' }]);
      expect((await auditOf('tag.assign')).sort((a, b) => a.package!.localeCompare(b.package!))).toEqual([
        { actor: 'admin', package: 'cat-base', tag: 'database' },
        { actor: 'pia', package: 'cat-http', tag: 'http' },
      ]);
      expect(await auditOf('tag.unassign')).toEqual([{ actor: 'pia', package: 'cat-http', tag: 'http' }]);
      expect(await auditOf('tag.delete')).toEqual([{ actor: 'admin', package: null, tag: 'database' }]);
    });
  });

  describe('dependents', () => {
    let requestId: number;

    it('finds direct and transitive dependents of a requested tree', async () => {
      const filed = await dana('request', 'cat-top@^3.0.0', '--reason', 'the billing service', '--with-dependencies');
      expect(filed.code).toBe(0);
      requestId = Number(/^request (\d+)/.exec(filed.out)?.[1]);
      const shown = await dana('dependents', 'cat-base@1.1.0', '--json');
      expect(shown.err).toBe('');
      const view = JSON.parse(shown.out);
      expect(view).toMatchObject({ name: 'cat-base', version: '1.1.0', total: 2, truncated: false, projects: [], declared: [] });
      expect(view.dependents).toEqual([
        { name: 'cat-mid', version: '2.0.0', depth: 1, devOnly: false, via: 'cat-base@1.1.0' },
        { name: 'cat-top', version: '3.0.0', depth: 2, devOnly: false, via: 'cat-mid@2.0.0' },
      ]);
      const direct = JSON.parse((await dana('dependents', 'cat-base@1.1.0', '--depth', '1', '--json')).out);
      expect(direct.dependents.map((d: { name: string }) => d.name)).toEqual(['cat-mid']);
      // The tree resolved cat-base to 1.1.0, so nothing recorded depends on 1.0.0.
      expect(JSON.parse((await dana('dependents', 'cat-base@1.0.0', '--json')).out).total).toBe(0);
      // cat-top's dev dependency is declared, never resolved with it: it has no transitive dependents.
      const dev = JSON.parse((await dana('dependents', 'cat-devtool', '--json')).out);
      expect(dev.dependents).toEqual([{ name: 'cat-top', version: '3.0.0', depth: 1, devOnly: true, via: 'cat-devtool' }]);
      const invalid = await dana('dependents', 'not a name');
      expect(invalid.code).toBe(2);
      expect(invalid.err).toContain('[EINVALIDNAME]');
    });

    it('adds the dependents and projects of a recorded lockfile', async () => {
      expect((await admin('requests', 'approve', String(requestId), '--with-dependencies')).code).toBe(0);
      await s.t.api('POST', '/approvals', { name: 'cat-other', reason: 'lockfile test' });
      await s.t.api('POST', '/approvals', { name: 'cat-leaf', reason: 'lockfile test' });
      const project = await makeProject(s.npm.dir, { name: 'cat-service', version: '4.5.6', dependencies: { 'cat-top': '^3.0.0', 'cat-other': '^1.0.0' } });
      const install = await s.npm.run(['install'], { cwd: project });
      expect(install.output).not.toContain('npm error');
      expect(install.code).toBe(0);
      const recorded = await dana('check', path.join(project, 'package-lock.json'), '--record');
      expect(recorded.out).toContain('recorded as project cat-service@4.5.6');

      // cat-other was never requested: its edge to cat-leaf comes from the lockfile.
      const leaf = JSON.parse((await dana('dependents', 'cat-leaf@1.0.0', '--json')).out);
      expect(leaf.dependents).toEqual([{ name: 'cat-other', version: '1.0.0', depth: 1, devOnly: false, via: 'cat-leaf@1.0.0' }]);
      expect(leaf.projects).toEqual([{ project: 'cat-service', projectVersion: '4.5.6', member: 'cat-leaf@1.0.0', depth: 0, dev: false }]);

      const text = await dana('dependents', 'cat-base@1.1.0');
      expect(text.code).toBe(0);
      expect(text.out).toMatch(/^2 packages depend on cat-base@1\.1\.0 \(1 directly; walked 10 steps\)/);
      expect(text.out).toMatch(/cat-top@3\.0\.0\s+2\s+transitive\s+cat-mid@2\.0\.0/);
      expect(text.out).toMatch(/1 recorded projects use it:\nPROJECT.*\ncat-service@4\.5\.6\s+cat-base@1\.1\.0 \(in its lockfile\)\s+0/);
    });

    it('lists a published version that declares a range over the version, unresolved', async () => {
      const dir = path.join(s.npm.dir, 'cat-internal');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@cat/internal', version: '1.0.0', license: 'UNLICENSED', dependencies: { 'cat-base': '^1.0.0', 'cat-leaf': '^2.0.0' } }));
      fs.writeFileSync(path.join(dir, 'index.js'), 'module.exports = 1;\n');
      const publisher = await createNpmEnv(s.t.url);
      try {
        await publisher.setToken(tokens.pia);
        const published = await publisher.run(['publish'], { cwd: dir });
        expect(published.output).not.toContain('npm error');
        expect(published.code).toBe(0);
      } finally {
        await publisher.cleanup();
      }
      const view = JSON.parse((await dana('dependents', 'cat-base@1.1.0', '--json')).out);
      expect(view.declared).toEqual([{ name: '@cat/internal', version: '1.0.0', range: '^1.0.0', type: 'runtime' }]);
      // ^2.0.0 does not include cat-leaf@1.0.0.
      expect(JSON.parse((await dana('dependents', 'cat-leaf@1.0.0', '--json')).out).declared).toEqual([]);
      const anyVersion = JSON.parse((await dana('dependents', 'cat-base', '--json')).out);
      expect(anyVersion.dependents.map((d: { name: string; version: string }) => `${d.name}@${d.version}`).sort()).toEqual(['@cat/internal@1.0.0', 'cat-mid@2.0.0', 'cat-top@3.0.0']);
      const listed = JSON.parse((await dana('catalogue', 'internal', '--json')).out);
      expect(listed.items).toEqual([expect.objectContaining({ name: '@cat/internal', private: true })]);
    });
  });

  describe('declared ranges', () => {
    const publish = async (name: string, dependencies: Record<string, string>) => {
      const packageJson = { name, version: '1.0.0', license: 'MIT', dependencies };
      const res = await fetch(new URL(name.replace('/', '%2f'), s.t.url), {
        method: 'PUT',
        headers: { authorization: `Bearer ${tokens.pia}`, 'content-type': 'application/json' },
        body: JSON.stringify(publishDocument(name, '1.0.0', { packageJson, manifest: { dependencies } })),
      });
      expect([name, res.status]).toEqual([name, 201]);
    };

    it('lists every declaration whose range includes the version, however many others there are: an alias beside the real name counts, a URL does not', async () => {
      await publish('@cat/decl-a', { 'cat-http': '^2.0.0' });
      await publish('@cat/decl-b', { 'cat-http': '^1.0.0' });
      await publish('@cat/decl-url', { 'cat-http': 'https://example.invalid/cat-http-1.0.0.tgz' });
      await publish('@cat/decl-alias', { 'old-http': 'npm:cat-http@^1.0.0', 'cat-http': '^2.0.0' });
      const declared = async (spec: string, limit?: number) =>
        (JSON.parse((await dana('dependents', spec, ...(limit ? ['--limit', String(limit)] : []), '--json')).out).declared as Array<{ name: string; range: string }>).map((d) => `${d.name} ${d.range}`);
      expect(await declared('cat-http@1.0.0')).toEqual(['@cat/decl-alias ^1.0.0', '@cat/decl-b ^1.0.0']);
      // The declarations of other ranges sort first; they do not take the places of the matching ones.
      expect(await declared('cat-http@1.0.0', 1)).toEqual(['@cat/decl-alias ^1.0.0']);
      expect(await declared('cat-http@2.0.0')).toEqual(['@cat/decl-a ^2.0.0', '@cat/decl-alias ^2.0.0']);
    });
  });

  describe('request limits', () => {
    it('refuse the 51st request of an hour with 429 and Retry-After; auto-queued dependency requests do not count', async () => {
      const root = await rita('request', 'cat-lim-root@^1.0.0', '--reason', 'load test', '--with-dependencies');
      expect(root.code).toBe(0);
      expect(root.out).toMatch(/dependency requests: \d+ cat-lim-a@1\.0\.0 \[pending\], \d+ cat-lim-b@1\.0\.0 \[pending\]/);
      // 1 + 49 = 50 filings; the two dependency requests would make it 52 if they counted.
      for (let i = 0; i < 49; i++) {
        const res = await s.t.api('POST', '/requests', { name: 'cat-many', range: `1.0.${i}`, reason: `slot ${i}` }, tokens.rita);
        expect(res.status).toBe(201);
      }
      const refused = await rita('request', 'cat-many@1.0.49', '--reason', 'one too many');
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/^\[ETOOMANYREQUESTS\] rita has filed 50 requests in the last hour, the most allowed is 50\. Try again in \d+ minutes/);
      const api = await s.t.api('POST', '/requests', { name: 'cat-many', range: '1.0.49', reason: 'one too many' }, tokens.rita);
      expect(api.status).toBe(429);
      const retryAfter = Number(api.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(api.body).toMatchObject({ code: 'ETOOMANYREQUESTS', details: { limit: 50, used: 50, retryAfter } });
      // Another user is not affected.
      expect((await s.t.api('POST', '/requests', { name: 'cat-many', range: '1.0.49', reason: 'mine' }, tokens.dana)).status).toBe(201);

      const mine = await s.t.api('GET', '/requests?mine=true&limit=500', undefined, tokens.rita);
      expect(mine.body.items).toHaveLength(52);
      expect(mine.body.items.filter((r: { sourceRequestId: number | null }) => r.sourceRequestId !== null)).toHaveLength(2);
      expect(mine.body.limits).toMatchObject({ perHour: 50, used: 50, remaining: 0, rejectionCooldown: '24h' });
      const listed = await rita('requests', '--mine');
      expect(listed.out).toMatch(/\nlimits: 50 of 50 requests filed in the last hour, 0 left \(the next at \S+\); auto-queued dependency requests do not count/);
    });

    it('let a rejected name@range be filed again within the cooldown only with a new reason, shown beside the old one', async () => {
      const first = await dana('request', 'cat-solo@1.0.0', '--reason', 'needed for reports');
      const firstId = Number(/^request (\d+)/.exec(first.out)?.[1]);
      expect((await admin('requests', 'reject', String(firstId), '--comment', 'use cat-http instead')).code).toBe(0);

      for (const reason of ['needed for reports', '  Needed   FOR reports ']) {
        const again = await dana('request', 'cat-solo@1.0.0', '--reason', reason);
        expect(again.code).toBe(1);
        expect(again.err).toContain(`[ECONFLICT] cat-solo@1.0.0 was rejected at`);
        expect(again.err).toContain(`(request ${firstId}: use cat-http instead). Until`);
        expect(again.err).toContain('only with a new reason');
      }
      // A lockfile batch with the old reason leaves it out.
      const batch = await s.t.api('POST', '/requests/batch', { entries: [{ name: 'cat-solo', version: '1.0.0' }], reason: 'needed for reports' }, tokens.dana);
      expect(batch.status).toBe(201);
      expect(batch.body).toMatchObject({ created: [], coolingDown: [{ spec: 'cat-solo@1.0.0', rejectedRequestId: firstId }] });
      // Another user with the same reason learns why it was rejected, not which request it was (requests are their requester's).
      const other = await pia('request', 'cat-solo@1.0.0', '--reason', 'needed for reports');
      expect(other.code).toBe(1);
      expect(other.err).toContain("(another user's request: use cat-http instead). Until");
      expect(other.err).not.toContain(`request ${firstId}`);
      const otherApi = await s.t.api('POST', '/requests', { name: 'cat-solo', range: '1.0.0', reason: 'needed for reports' }, tokens.pia);
      expect([otherApi.status, otherApi.body.code, otherApi.body.rejectedRequestId]).toEqual([409, 'ECONFLICT', undefined]);
      const otherBatch = await s.t.api('POST', '/requests/batch', { entries: [{ name: 'cat-solo', version: '1.0.0' }], reason: 'needed for reports' }, tokens.pia);
      expect(otherBatch.body.coolingDown).toEqual([{ spec: 'cat-solo@1.0.0', until: expect.any(String) }]);
      // An admin is told which request it was.
      const byAdmin = await s.t.api('POST', '/requests/batch', { entries: [{ name: 'cat-solo', version: '1.0.0' }], reason: 'needed for reports' });
      expect(byAdmin.body.coolingDown).toEqual([{ spec: 'cat-solo@1.0.0', rejectedRequestId: firstId, until: expect.any(String) }]);

      const refiled = await dana('request', 'cat-solo@1.0.0', '--reason', 'cat-http cannot stream the report files');
      expect(refiled.code).toBe(0);
      const refiledId = Number(/^request (\d+)/.exec(refiled.out)?.[1]);
      const shown = await admin('requests', 'show', String(refiledId));
      expect(shown.out).toContain('  reason:  cat-http cannot stream the report files\n');
      expect(shown.out).toContain(`  filed again after request ${firstId}, rejected `);
      expect(shown.out).toContain('    its reason: needed for reports\n    rejected:   use cat-http instead');
      const all = await s.t.api('GET', '/requests?status=pending');
      expect(all.body.items.find((r: { id: number }) => r.id === refiledId)).toMatchObject({ previousRequestId: firstId });

      // Once the cooldown has passed, the old reason is accepted again.
      expect((await dana('requests', 'cancel', String(refiledId))).code).toBe(0);
      await s.t.gk.database.knex('package_requests').where({ id: firstId }).update({ decided_at: s.t.gk.database.knex.raw(`now() - interval '25 hours'`) });
      expect((await dana('request', 'cat-solo@1.0.0', '--reason', 'needed for reports')).code).toBe(0);
    });
  });
});

/**
 * A tarball's first fetch answers without waiting for the database or the disk: the version is
 * decided with its inspection held in memory, and the copy is stored only once the inspection's
 * insert has committed. An insert that fails after the answer leaves no stored copy and nothing
 * held; /health shows it, and the next request fetches and records the version again.
 */
import { storageKey } from '../../src/core/storage';
import { eventually } from '../support/assert';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';

const NAME = 'write-behind';
const HIDING = 'write-behind-hides-a-script';
const FAILING = 'write-behind-failing';

describe("a tarball's first fetch and its inspection's insert", () => {
  let upstream: FixtureRegistry;
  let gk: TestGatekeeper;

  const tarballPath = (name: string, version: string) => `${name}/-/${name}-${version}.tgz`;
  const asked = (name: string, version: string) => upstream.requests.filter((r) => r.url.endsWith(`/${name}-${version}.tgz`)).length;
  const stored = (name: string, version: string) => gk.gk.runtime.storage.readSync(storageKey(name, `${name}-${version}.tgz`));
  const rows = (name: string) => gk.gk.database.knex('tarball_inspections').where({ package: name }).select('version');
  const upstreamBytes = async (name: string, version: string) => Buffer.from(await (await fetch(new URL(tarballPath(name, version), upstream.url))).arrayBuffer());

  /** Runs `during` while another session holds an exclusive lock on the inspections table (every insert waits). */
  async function withInsertsWaiting<T>(during: () => Promise<T>): Promise<T> {
    const knex = gk.gk.database.knex;
    const holder = await knex.client.acquireConnection();
    try {
      await knex.raw('begin').connection(holder);
      await knex.raw('lock table tarball_inspections in exclusive mode').connection(holder);
      return await during();
    } finally {
      await knex.raw('rollback').connection(holder).catch(() => undefined);
      await knex.client.releaseConnection(holder);
    }
  }

  beforeAll(async () => {
    upstream = await startFixtureRegistry([
      { name: NAME, versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: HIDING, versions: [{ version: '1.0.0', license: 'MIT', tarballPackageJson: { scripts: { postinstall: 'node collect.js' } } }] },
      { name: FAILING, versions: [{ version: '1.0.0', license: 'MIT' }] },
    ]);
    gk = await startTestGatekeeper({ upstream: upstream.url });
    for (const name of [NAME, HIDING, FAILING]) {
      expect((await gk.api('POST', '/approvals', { name, reason: 'write-behind' })).status).toBe(201);
      expect((await fetch(new URL(name, gk.url))).status).toBe(200);
    }
  });

  afterAll(async () => {
    await gk?.close();
    await upstream?.close();
  });

  it('answers while the insert waits, stores the copy only after its commit, and serves it from storage then', async () => {
    const expected = await upstreamBytes(NAME, '1.0.0');
    const before = asked(NAME, '1.0.0');
    const url = new URL(tarballPath(NAME, '1.0.0'), gk.url);
    const answers = await withInsertsWaiting(async () => {
      const first = await fetch(url);
      const firstBytes = Buffer.from(await first.arrayBuffer());
      // Answered while the insert waits: nothing is stored yet, and no row exists.
      expect(stored(NAME, '1.0.0')).toBeUndefined();
      expect(gk.gk.runtime.inspections.known(NAME, '1.0.0')).toBeDefined();
      // A second request meanwhile shares the first fetch (its bytes are in memory).
      const second = await fetch(url);
      return [
        [first.status, firstBytes],
        [second.status, Buffer.from(await second.arrayBuffer())],
      ] as const;
    });
    for (const [status, bytes] of answers) {
      expect(status).toBe(200);
      expect(bytes.equals(expected)).toBe(true);
    }
    expect(asked(NAME, '1.0.0') - before).toBe(1);
    // The lock's transaction ended: the insert commits, then the copy is stored.
    await eventually(async () => stored(NAME, '1.0.0') !== undefined, 'the copy stored after the commit');
    expect(await rows(NAME)).toEqual([{ version: '1.0.0' }]);
    expect(stored(NAME, '1.0.0')?.equals(expected)).toBe(true);
    const again = await fetch(url);
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(expected)).toBe(true);
    expect(asked(NAME, '1.0.0') - before).toBe(1);
  });

  it('refuses on what the inspection found while the insert waits, and stores nothing', async () => {
    const url = new URL(tarballPath(HIDING, '1.0.0'), gk.url);
    const statuses = await withInsertsWaiting(async () => {
      const answers = [];
      for (let i = 0; i < 2; i++) {
        const res = await fetch(url);
        await res.arrayBuffer();
        answers.push([res.status, /^\[(\w+)\]/.exec(res.statusText)?.[1]]);
      }
      return answers;
    });
    expect(statuses).toEqual([
      [403, 'EMANIFESTMISMATCH'],
      [403, 'EMANIFESTMISMATCH'],
    ]);
    await eventually(async () => (await rows(HIDING)).length === 1, 'the refused version inspection recorded');
    expect(stored(HIDING, '1.0.0')).toBeUndefined();
  });

  it('stores nothing and holds nothing when the insert fails after the answer, shows it in /health, and records it on the next fetch', async () => {
    const knex = gk.gk.database.knex;
    // A fault in the database for this package's inspections only.
    await knex.raw(`create function refuse_inspection() returns trigger language plpgsql as $$
      begin if new.package = '${FAILING}' then raise exception 'injected fault'; end if; return new; end $$`);
    await knex.raw('create trigger refuse_inspection before insert on tarball_inspections for each row execute function refuse_inspection()');
    const expected = await upstreamBytes(FAILING, '1.0.0');
    const before = asked(FAILING, '1.0.0');
    const url = new URL(tarballPath(FAILING, '1.0.0'), gk.url);
    try {
      const failedBefore = gk.gk.runtime.inspections.health().failedWrites;
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
      await eventually(async () => gk.gk.runtime.inspections.health().failedWrites > failedBefore, 'the failed insert counted');
      const health = await gk.api('GET', '/health');
      expect(health.body.inspections).toMatchObject({ ok: false, lastError: expect.stringMatching(/SQLSTATE P0001/) });
      expect(health.body.inspections.lastError).not.toMatch(/insert into|injected fault/);
      expect(gk.gk.runtime.inspections.known(FAILING, '1.0.0')).toBeUndefined();
      expect(stored(FAILING, '1.0.0')).toBeUndefined();
      expect(await rows(FAILING)).toEqual([]);
    } finally {
      await knex.raw('drop trigger refuse_inspection on tarball_inspections');
      await knex.raw('drop function refuse_inspection()');
    }
    // Asked again, the version is fetched, inspected and recorded again.
    const again = await fetch(url);
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(expected)).toBe(true);
    expect(asked(FAILING, '1.0.0') - before).toBe(2);
    await eventually(async () => stored(FAILING, '1.0.0') !== undefined, 'the copy stored after the second fetch');
    expect(await rows(FAILING)).toEqual([{ version: '1.0.0' }]);
    expect(gk.gk.runtime.inspections.health()).toMatchObject({ ok: true });
  });
});

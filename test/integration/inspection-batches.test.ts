/**
 * Inspections recorded by concurrent first fetches (a cold install) are stored in one
 * statement, each new one announced once, on real PostgreSQL; a row the database refuses
 * fails alone, a statement that fails for every row fails every recording in it, and the
 * next ones are stored.
 */
import type { Knex } from 'knex';
import { Client } from 'pg';
import type { TarballInspection } from '../../src/core/inspection';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { INSPECTION_CHANNEL } from '../../src/db/repositories/inspections';
import { Store } from '../../src/db/store';
import { InspectionService } from '../../src/services/inspections';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';

function inspection(name: string, version = '1.0.0', manifest: Record<string, unknown> = { name, version }): TarballInspection {
  return { name, version, manifest, hasBindingGyp: false, mismatches: [], integrity: 'sha512-x', inspectedAt: new Date() };
}

describe('recording tarball inspections in batches', () => {
  let db: TestDatabase;
  let knex: Knex;
  let listener: Client;
  const announced: string[] = [];
  let inserts = 0;
  const statements: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url);
    await migrateLatest(knex);
    knex.on('query', (q: { sql: string }) => {
      statements.push(q.sql);
      if (/insert into "tarball_inspections"/.test(q.sql)) inserts++;
    });
    listener = new Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (m) => announced.push(m.payload ?? ''));
    await listener.query(`LISTEN ${INSPECTION_CHANNEL}`);
  });

  afterAll(async () => {
    await listener?.end();
    await knex?.destroy();
    await db?.drop();
  });

  it('stores concurrent recordings in one statement and announces each new one once', async () => {
    const service = new InspectionService(new Store(knex));
    const before = inserts;
    const names = Array.from({ length: 40 }, (_, i) => `batched-${i}`);
    // The same version twice among them: the first recording stays, announced once.
    await Promise.all([...names.map((n) => service.record(inspection(n), 'upstream')), service.record(inspection('batched-0'), 'upstream')]);
    expect(inserts - before).toBe(1);
    const rows = await knex('tarball_inspections').where('package', 'like', 'batched-%').select('package', 'version');
    expect(rows.map((r) => r.package).sort()).toEqual([...names].sort());
    await eventually(async () => announced.filter((p) => p.startsWith('batched-')).length >= names.length, 'the announcements');
    expect(announced.filter((p) => p.startsWith('batched-')).sort()).toEqual(names.map((n) => `${n}@1.0.0`).sort());
  });

  it('stores a batch in one round trip, without BEGIN and COMMIT; only records of published tarballs wait for the disk', async () => {
    const service = new InspectionService(new Store(knex));
    const sent = async (record: () => Promise<void>): Promise<string[]> => {
      const from = statements.length;
      await record();
      return statements.slice(from);
    };
    const upstream = await sent(() => service.record(inspection('one-trip'), 'upstream'));
    expect(upstream).toHaveLength(1);
    expect(upstream[0]).toMatch(/^with saved as \(insert into "tarball_inspections"/);
    expect(upstream[0]).toContain("set_config('synchronous_commit', 'off', true)");
    const published = await sent(() => service.record(inspection('one-trip', '2.0.0'), 'publish'));
    expect(published).toHaveLength(1);
    expect(published[0]).not.toContain('synchronous_commit');
    const mixed = await sent(() => Promise.all([service.record(inspection('one-trip', '3.0.0'), 'upstream'), service.record(inspection('one-trip', '4.0.0'), 'publish')]).then(() => undefined));
    expect(mixed).toHaveLength(1);
    expect(mixed[0]).not.toContain('synchronous_commit');
    const rows = await knex('tarball_inspections').where({ package: 'one-trip' }).orderBy('version').select('version', 'source');
    expect(rows).toEqual([
      { version: '1.0.0', source: 'upstream' },
      { version: '2.0.0', source: 'publish' },
      { version: '3.0.0', source: 'upstream' },
      { version: '4.0.0', source: 'publish' },
    ]);
    await eventually(async () => ['1.0.0', '2.0.0', '3.0.0', '4.0.0'].every((v) => announced.includes(`one-trip@${v}`)), 'the announcements');
    // What the statement relies on: a transaction-local setting made inside a statement that is
    // its own transaction is in force until that transaction ends (its commit included).
    const [inside] = (await knex.raw("select set_config('synchronous_commit', 'off', true) as set, current_setting('synchronous_commit') as now")).rows;
    expect(inside).toEqual({ set: 'off', now: 'off' });
    expect((await knex.raw("select current_setting('synchronous_commit') as now")).rows[0].now).toBe('on');
  });

  it('does not announce a version recorded before', async () => {
    const service = new InspectionService(new Store(knex));
    await service.record(inspection('again'), 'upstream');
    await eventually(async () => announced.includes('again@1.0.0'), 'the first announcement');
    await service.record(inspection('again', '1.0.0', { name: 'again', version: '1.0.0', changed: true }), 'upstream');
    await service.record(inspection('again', '2.0.0'), 'upstream');
    await eventually(async () => announced.includes('again@2.0.0'), 'the second version');
    expect(announced.filter((p) => p === 'again@1.0.0')).toHaveLength(1);
    const stored = await knex('tarball_inspections').where({ package: 'again', version: '1.0.0' }).first();
    expect(stored.manifest).toEqual({ name: 'again', version: '1.0.0' });
  });

  it('stores the rest of a batch when the database refuses one of its rows, and fails only that one', async () => {
    const service = new InspectionService(new Store(knex));
    const before = inserts;
    // Inserts in flight at once, most seen (the rows tried again alone go one at a time).
    let inFlight = 0;
    let most = 0;
    const started = (q: { sql: string }) => {
      if (/insert into "tarball_inspections"/.test(q.sql)) most = Math.max(most, ++inFlight);
    };
    const ended = (_: unknown, q: { sql: string }) => {
      if (/insert into "tarball_inspections"/.test(q.sql)) inFlight--;
    };
    knex.on('query', started).on('query-response', ended).on('query-error', ended);
    // jsonb cannot hold \u0000 or a lone surrogate: PostgreSQL refuses the whole statement.
    const results = await Promise.allSettled([
      service.record(inspection('poisoned', '1.0.0', { name: 'poisoned', description: 'a\u0000b' }), 'upstream'),
      service.record(inspection('beside-poison'), 'upstream'),
      service.record(inspection('surrogate', '1.0.0', { name: 'surrogate', description: 'x\ud800y' }), 'upstream'),
    ]);
    knex.off('query', started).off('query-response', ended).off('query-error', ended);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
    // The batch, then each of its three rows alone, in turn.
    expect(inserts - before).toBe(4);
    expect({ most, inFlight }).toEqual({ most: 1, inFlight: 0 });
    const rows = await knex('tarball_inspections').whereIn('package', ['poisoned', 'beside-poison', 'surrogate']).select('package');
    expect(rows.map((r) => r.package)).toEqual(['beside-poison']);
    expect(service.known('poisoned', '1.0.0')).toBeUndefined();
    // Whether it is ok now depends on which settled last (a success clears the last error).
    expect(service.health().failedWrites).toBe(2);
  });

  it('fails every recording of a batch whose statement fails for every row, tries none again, and stores the next ones', async () => {
    const service = new InspectionService(new Store(knex));
    await knex.raw('alter table tarball_inspections rename to tarball_inspections_away');
    const before = inserts;
    let results: PromiseSettledResult<void>[];
    try {
      results = await Promise.allSettled([service.record(inspection('table-gone-1'), 'upstream'), service.record(inspection('table-gone-2'), 'upstream')]);
    } finally {
      await knex.raw('alter table tarball_inspections_away rename to tarball_inspections');
    }
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(inserts - before).toBe(1);
    expect(service.health()).toMatchObject({ ok: false, failedWrites: 2 });
    await service.record(inspection('table-gone-1'), 'upstream');
    expect(await knex('tarball_inspections').whereIn('package', ['table-gone-1', 'table-gone-2']).select('package')).toEqual([{ package: 'table-gone-1' }]);
    expect(service.health()).toEqual({ ok: true, failedWrites: 2 });
  });
});

/**
 * The audit log cannot be silenced: hostile package text is stored cleaned, an entry the
 * database refuses is dropped alone, a database that cannot be written is retried a bounded
 * number of times, and /health says so while it lasts. Real PostgreSQL throughout; faults
 * are made in the database itself (a constraint, a trigger, a port nobody listens on).
 */
import type { Knex } from 'knex';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { freePort } from '../../src/db/embedded';
import { Store } from '../../src/db/store';
import { AuditWriter, AuditWriterEvent, auditEntry, SYSTEM } from '../../src/services/audit';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gatekeeperSuite } from '../support/suite';

const HOSTILE = 'use 2.x instead\u0000 \uD800\u001b[2J(cleared your terminal)';

/** A trigger that makes every audit insert fail as a full disk would (SQLSTATE 53100). */
async function breakAuditInserts(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function test_audit_disk_full() returns trigger language plpgsql as $$
    begin
      raise exception 'could not extend file: No space left on device (test)' using errcode = '53100';
    end $$`);
  await knex.raw(`create trigger test_audit_disk_full before insert on audit_log for each statement execute function test_audit_disk_full()`);
}

async function repairAuditInserts(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists test_audit_disk_full on audit_log');
}

interface Row {
  action: string;
  actor: string;
  actor_ip: string | null;
  package: string | null;
  version: string | null;
  details: Record<string, unknown>;
}

describe('AuditWriter on a real database', () => {
  let db: TestDatabase;
  let knex: Knex;
  let store: Store;
  const writers: AuditWriter[] = [];

  const newWriter = (events: AuditWriterEvent[] = [], options: ConstructorParameters<typeof AuditWriter>[2] = {}, on: Store = store) => {
    const writer = new AuditWriter(on, (e) => events.push(e), { delayMs: 5, retryBaseMs: 10, retryMaxMs: 100, ...options });
    writers.push(writer);
    return writer;
  };
  const rows = async (pkg: string): Promise<Row[]> => knex('audit_log').where('package', 'like', `${pkg}%`).orderBy('id').select('action', 'actor', 'actor_ip', 'package', 'version', 'details');
  const blocked = (pkg: string, reason: string, version = '1.0.0') =>
    auditEntry({ username: 'dev', ip: '127.0.0.1' }, 'install.blocked', { package: pkg, version, ruleId: 'deprecated', details: { code: 'EDEPRECATED', reason, via: 'tarball' } });

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url);
    await migrateLatest(knex);
    store = new Store(knex);
  });

  afterEach(async () => {
    await repairAuditInserts(knex);
  });

  afterAll(async () => {
    for (const w of writers) await w.close().catch(() => undefined);
    await knex?.destroy();
    await db?.drop();
  });

  it('stores an entry with NUL, lone surrogates and control characters cleaned, and the entries after it', async () => {
    // What the old writer did: the raw text makes PostgreSQL refuse the whole INSERT.
    await expect(knex('audit_log').insert({ actor: 'x', action: 'install.blocked', details: JSON.stringify({ reason: HOSTILE }) })).rejects.toThrow(/Unicode|\\u0000/);

    const writer = newWriter();
    writer.record(blocked('nul-a', HOSTILE));
    writer.record(auditEntry({ username: 'dev\u0000' }, 'install.blocked', { package: 'nul-b\u0000', version: '1.0.0\uDC00', details: { ['k\u0000ey']: [HOSTILE], __proto__x: 1 } }));
    writer.record(blocked('nul-c', 'plain text'));
    await writer.flush();

    const stored = await rows('nul-');
    expect(stored.map((r) => r.package)).toEqual(['nul-a', 'nul-b', 'nul-c']);
    expect(stored[0].details.reason).toBe('use 2.x instead  [2J(cleared your terminal)');
    expect(stored[1]).toMatchObject({ actor: 'dev', version: '1.0.0', details: { key: ['use 2.x instead  [2J(cleared your terminal)'], __proto__x: 1 } });
    expect(writer.health()).toMatchObject({ ok: true, pending: 0, written: 3, dropped: 0, lastError: null, lastFailureAt: null });
  });

  it('cleans entries saved directly (the path admin transactions use) too', async () => {
    await store.transaction((repos) => repos.audit.save(auditEntry(SYSTEM, 'ban.create', { package: 'direct-a', details: { reason: HOSTILE } })));
    const [row] = await rows('direct-a');
    expect(row.details.reason).toBe('use 2.x instead  [2J(cleared your terminal)');
  });

  it('bounds what an entry may hold', async () => {
    const writer = newWriter();
    writer.record(blocked('big-a', 'x'.repeat(1_000_000)));
    writer.record(auditEntry(SYSTEM, 'install.blocked', { package: `big-b${'y'.repeat(10_000)}`, details: { list: Array.from({ length: 100_000 }, (_, i) => i) } }));
    await writer.flush();
    const stored = await rows('big-');
    expect(stored).toHaveLength(2);
    expect(JSON.stringify(stored[0].details).length).toBeLessThan(5000);
    expect(stored[1].package!.length).toBeLessThanOrEqual(512);
    expect((stored[1].details.list as unknown[]).length).toBeLessThanOrEqual(200);
  });

  it('drops only the entry the database refuses; the rest of its batch is written', async () => {
    // Something no sanitising can avoid: the database refuses this one entry.
    await knex.raw(`alter table audit_log add constraint test_refuse_one check (package is distinct from 'refuse-me')`);
    try {
      const events: AuditWriterEvent[] = [];
      const writer = newWriter(events, { delayMs: 60_000 });
      for (let i = 0; i < 13; i++) writer.record(blocked(i === 7 ? 'refuse-me' : `batch-${String(i).padStart(2, '0')}`, `entry ${i}`));
      expect(writer.pending).toBe(13);
      await writer.flush();
      expect((await rows('batch-')).map((r) => r.details.reason)).toEqual(
        Array.from({ length: 13 }, (_, i) => i)
          .filter((i) => i !== 7)
          .map((i) => `entry ${i}`),
      );
      expect(await rows('refuse-me')).toEqual([]);
      const health = writer.health();
      expect(health).toMatchObject({ ok: true, pending: 0, written: 12, dropped: 1 });
      expect(health.lastError).toContain('test_refuse_one');
      expect(health.lastFailureAt).not.toBeNull();
      const dropped = events.filter((e) => e.kind === 'dropped');
      expect(dropped).toHaveLength(1);
      expect(dropped[0]).toMatchObject({ kind: 'dropped', count: 1, entries: [{ action: 'install.blocked', package: 'refuse-me', version: '1.0.0' }] });

      // And it goes on writing.
      writer.record(blocked('batch-after', 'after'));
      await writer.flush();
      expect(await rows('batch-after')).toHaveLength(1);
    } finally {
      await knex.raw('alter table audit_log drop constraint if exists test_refuse_one');
    }
  });

  it('retries while the database cannot be written, reports it in health, and catches up when it can', async () => {
    await breakAuditInserts(knex);
    const events: AuditWriterEvent[] = [];
    const writer = newWriter(events, { retryBaseMs: 20, retryMaxMs: 200, maxAttempts: 1000 });
    for (let i = 0; i < 5; i++) writer.record(blocked(`outage-${i}`, `during the outage ${i}`));
    await eventually(async () => events.filter((e) => e.kind === 'retrying').length >= 3, 'several retries');
    const failing = writer.health();
    expect(failing).toMatchObject({ ok: false, pending: 5, written: 0, dropped: 0 });
    expect(failing.lastError).toContain('No space left on device');
    expect(await rows('outage-')).toEqual([]);

    await repairAuditInserts(knex);
    await eventually(async () => writer.health().ok, 'the writer to recover');
    expect(writer.health()).toMatchObject({ ok: true, pending: 0, written: 5, dropped: 0 });
    expect((await rows('outage-')).map((r) => r.package)).toEqual(['outage-0', 'outage-1', 'outage-2', 'outage-3', 'outage-4']);
    expect(events.some((e) => e.kind === 'recovered')).toBe(true);
  });

  /** Runs `body` while another session holds audit_log in ACCESS EXCLUSIVE mode. */
  async function whileAuditLocked(body: () => Promise<void>): Promise<void> {
    const locker = await knex.client.acquireConnection();
    try {
      await locker.query('begin');
      await locker.query('lock table audit_log in access exclusive mode');
      await body();
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await knex.client.releaseConnection(locker);
    }
  }

  it('is not ok while a write hangs (a lock it waits for) past stuckMs, and says how long the oldest entry has waited', async () => {
    // A pool without a statement deadline: the insert waits for the lock as long as it is held.
    const writer = newWriter([], { stuckMs: 300 });
    await whileAuditLocked(async () => {
      for (let i = 0; i < 3; i++) writer.record(blocked(`stuck-${i}`, `while locked ${i}`));
      await eventually(async () => !writer.health().ok, 'the writer to report the hanging write', 10_000);
      const stuck = writer.health();
      expect(stuck).toMatchObject({ ok: false, pending: 3, written: 0, dropped: 0 });
      expect(stuck.oldestPendingSeconds).toBeGreaterThanOrEqual(0.3);
    });
    await eventually(async () => writer.health().ok, 'the writer to catch up once the lock is gone', 10_000);
    expect(writer.health()).toMatchObject({ ok: true, pending: 0, oldestPendingSeconds: 0, written: 3, dropped: 0 });
  });

  it('retries entries refused for a lock not granted in time (55P03) rather than dropping them as refused', async () => {
    // lock_timeout alone: the insert fails with 55P03, not with a statement timeout.
    const lockTimed = createKnex(db.url, 2);
    lockTimed.client.pool.on('createSuccess', (_id: unknown, conn: { query(sql: string): Promise<unknown> }) => void conn.query('set lock_timeout = 200'));
    const events: AuditWriterEvent[] = [];
    const writer = newWriter(events, { retryBaseMs: 20, retryMaxMs: 100, maxAttempts: 1000 }, new Store(lockTimed));
    try {
      await whileAuditLocked(async () => {
        for (let i = 0; i < 4; i++) writer.record(blocked(`locked-${i}`, `lock timeout ${i}`));
        await eventually(async () => events.filter((e) => e.kind === 'retrying').length >= 2, 'retries while the table is locked', 10_000);
        expect(writer.health()).toMatchObject({ ok: false, dropped: 0 });
      });
      await eventually(async () => writer.health().ok && writer.health().pending === 0, 'the writer to catch up', 10_000);
      expect(writer.health()).toMatchObject({ written: 4, dropped: 0 });
      expect((await rows('locked-')).map((r) => r.package)).toEqual(['locked-0', 'locked-1', 'locked-2', 'locked-3']);
    } finally {
      await writer.close();
      await lockTimed.destroy();
    }
  });

  it('gives up on a batch after a bounded number of attempts, and counts what it dropped', async () => {
    await breakAuditInserts(knex);
    const events: AuditWriterEvent[] = [];
    const writer = newWriter(events, { maxAttempts: 3 });
    for (let i = 0; i < 4; i++) writer.record(blocked(`giveup-${i}`, 'lost'));
    await eventually(async () => writer.health().dropped === 4, 'the batch to be dropped');
    expect(events.filter((e) => e.kind === 'retrying').length).toBeGreaterThanOrEqual(3);
    expect(events.find((e) => e.kind === 'dropped')).toMatchObject({ count: 4, why: 'the database failed 3 times in a row' });
    expect(writer.health().pending).toBe(0);

    await repairAuditInserts(knex);
    writer.record(blocked('giveup-after', 'written'));
    await eventually(async () => writer.health().ok && writer.health().pending === 0, 'the next entry to be written');
    expect(writer.health()).toMatchObject({ written: 1, dropped: 4 });
    expect((await rows('giveup-')).map((r) => r.package)).toEqual(['giveup-after']);
  });

  it('keeps at most maxBuffered entries waiting; the oldest are dropped and counted', async () => {
    await breakAuditInserts(knex);
    const writer = newWriter([], { maxBuffered: 5, maxAttempts: 1000, retryBaseMs: 1000, retryMaxMs: 1000 });
    for (let i = 0; i < 8; i++) writer.record(blocked(`bounded-${i}`, 'x'));
    expect(writer.health()).toMatchObject({ pending: 5, dropped: 3 });
    await repairAuditInserts(knex);
    await writer.flush();
    expect((await rows('bounded-')).map((r) => r.package)).toEqual(['bounded-3', 'bounded-4', 'bounded-5', 'bounded-6', 'bounded-7']);
  });

  it('a database nobody answers for: not ok, retried, bounded, and close() does not hang', async () => {
    const port = await freePort();
    const down = createKnex(`postgres://postgres@127.0.0.1:${port}/nowhere`);
    try {
      const events: AuditWriterEvent[] = [];
      const writer = newWriter(events, { maxAttempts: 2 }, new Store(down));
      writer.record(blocked('down-a', 'x'));
      writer.record(blocked('down-b', 'y'));
      await eventually(async () => writer.health().dropped === 2, 'the entries to be dropped');
      const health = writer.health();
      expect(health.ok).toBe(false);
      expect(health.lastError).toMatch(/ECONNREFUSED/);
      // Still down: probing goes on, the report stays not ok.
      const retries = events.filter((e) => e.kind === 'retrying').length;
      await eventually(async () => events.filter((e) => e.kind === 'retrying').length > retries, 'the writer to keep probing');
      expect(writer.health().ok).toBe(false);

      writer.record(blocked('down-c', 'z'));
      await writer.close();
      expect(writer.health()).toMatchObject({ ok: false, pending: 0, written: 0, dropped: 3 });
    } finally {
      await down.destroy();
    }
  });
});

describe('audit through the gatekeeper', () => {
  let knex: Knex;

  // Its own connection ends before the gatekeeper drops the database.
  afterAll(async () => {
    if (knex) await repairAuditInserts(knex);
    await knex?.destroy();
  });

  const s = gatekeeperSuite({
    packages: [
      { name: 'nul-deprecated', versions: [{ version: '1.0.0', license: 'MIT', deprecated: HOSTILE }] },
      { name: 'nul-scripts', versions: [{ version: '1.0.0', license: 'MIT', scripts: { postinstall: 'node setup.js\u0000--silent' } }] },
      { name: 'later-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ],
    policyMode: 'none',
    npm: false,
  });

  const tarball = (name: string) => new URL(`${name}/-/${name}-1.0.0.tgz`, s.t.url);
  const entries = async (pkg: string) => {
    const res = await s.t.api('GET', `/audit?package=${pkg}&action=install.blocked`);
    expect(res.status).toBe(200);
    return res.body.items as Array<{ package: string; version: string; ruleId: string; details: { code: string; reason: string } }>;
  };

  beforeAll(async () => {
    knex = createKnex(s.t.db.url, 2);
    for (const name of ['nul-deprecated', 'nul-scripts']) expect((await s.t.api('POST', '/approvals', { name, reason: 'test' })).status).toBe(201);
    expect((await s.t.api('PATCH', '/policy', { deprecated: { mode: 'enforce' }, scripts: { mode: 'enforce' } })).status).toBe(200);
  });

  it('a decision quoting NUL-bearing package text is audited, and so is everything after it', async () => {
    const deprecated = await fetch(tarball('nul-deprecated'));
    expect({ status: deprecated.status, code: ((await deprecated.json()) as { code: string }).code }).toEqual({ status: 403, code: 'EDEPRECATED' });
    const scripts = await fetch(tarball('nul-scripts'));
    expect({ status: scripts.status, code: ((await scripts.json()) as { code: string }).code }).toEqual({ status: 403, code: 'EINSTALLSCRIPTS' });
    // Not approved: blocked for an ordinary reason, after the hostile ones.
    expect((await fetch(tarball('later-fixture'))).status).toBe(403);

    await eventually(async () => (await entries('later-fixture')).length === 1, 'the later entry to be written');
    const [dep] = await entries('nul-deprecated');
    expect(dep).toMatchObject({ version: '1.0.0', ruleId: 'deprecated', details: { code: 'EDEPRECATED' } });
    // Quoted package text is one clean line: the NUL and the terminal escape are gone.
    expect(dep.details.reason).toBe('nul-deprecated@1.0.0 is deprecated: use 2.x instead (cleared your terminal)');
    const [scr] = await entries('nul-scripts');
    expect(scr.details).toMatchObject({ code: 'EINSTALLSCRIPTS' });
    expect(scr.details.reason).toContain('postinstall: node setup.js--silent');
    expect((await entries('later-fixture'))[0].details.code).toBe('ENOTAPPROVED');

    const health = await s.t.api('GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body.audit).toMatchObject({ ok: true, pending: 0, dropped: 0, lastError: null });
    expect(health.body.audit.written).toBeGreaterThanOrEqual(3);
  });

  it('/health shows audit writes failing (503) and recovers when they succeed', async () => {
    await breakAuditInserts(knex);
    const before = (await entries('later-fixture')).length;
    expect((await fetch(tarball('later-fixture'))).status).toBe(403);
    await eventually(async () => (await s.t.api('GET', '/health', undefined, null)).body.audit.ok === false, 'health to show the failing audit writer');
    const failing = await s.t.api('GET', '/health', undefined, null);
    expect(failing.status).toBe(503);
    expect(failing.body.ok).toBe(false);
    expect(failing.body.audit.pending).toBeGreaterThanOrEqual(1);
    expect(failing.body.audit.lastError).toContain('No space left on device');
    expect(failing.body.audit.lastFailureAt).not.toBeNull();
    // Only the audit writer is failing.
    expect({ database: failing.body.database.ok, policy: failing.body.policy.ok }).toEqual({ database: true, policy: true });

    await repairAuditInserts(knex);
    await eventually(async () => (await s.t.api('GET', '/health', undefined, null)).status === 200, 'health to recover');
    const recovered = (await s.t.api('GET', '/health', undefined, null)).body.audit;
    expect(recovered).toMatchObject({ ok: true, pending: 0, dropped: 0 });
    expect((await entries('later-fixture')).length).toBe(before + 1);
  });
});

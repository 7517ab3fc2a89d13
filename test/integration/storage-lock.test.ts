/**
 * Cross-instance write serialisation of the package storage: two stores on one directory,
 * each with its own PostgreSQL pool (as two gatekeepers have), its own in-process queue and
 * the advisory lock of src/db/package-lock.ts, against a real PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { documentKey, PackageLock } from '../../src/core/storage';
import { createKnex } from '../../src/db/connection';
import { packageLockKeys, PgAdvisoryLocks } from '../../src/db/package-lock';
import { FsPackageStorage } from '../../src/storage/fs';
import { NO_LOCK, PackageLocks } from '../../src/storage/locks';
import { createTestDatabase, TestDatabase } from '../support/database';
import { eventually } from '../support/assert';

const UPDATES = 50;

/**
 * One read-modify-write of a package document: read, add this writer's entry, write. Between
 * the read and the write each writer waits until every writer has read or 100 ms have passed
 * ("the barrier"): without a lock all 50 read before any writes, so all but one update are
 * lost every time (the test is deterministic, not a timing gamble); with the lock only one
 * writer is ever between read and write, so it waits the 100 ms alone and then writes.
 */
function makeUpdater(total: number) {
  let read = 0;
  let allRead!: () => void;
  const everyoneRead = new Promise<void>((resolve) => (allRead = resolve));
  return async (storage: FsPackageStorage, name: string, id: number): Promise<void> => {
    const key = documentKey(name);
    await storage.lock(name, async () => {
      const doc = JSON.parse((await storage.get(key))?.toString() ?? '{"updates":{}}') as { updates: Record<string, number> };
      if (++read === total) allRead();
      await Promise.race([everyoneRead, new Promise((resolve) => setTimeout(resolve, 100))]);
      doc.updates[String(id)] = id;
      await storage.put(key, JSON.stringify(doc));
    });
  };
}

describe('package storage locks across instances (PostgreSQL advisory locks)', () => {
  let db: TestDatabase;
  let dir: string;
  const pools: Knex[] = [];

  function instance(waitMs = 20_000, lock?: PackageLock): FsPackageStorage {
    const knex = createKnex(db.url, 4);
    pools.push(knex);
    return new FsPackageStorage(dir, lock ?? new PackageLocks(new PgAdvisoryLocks(knex, { maxHoldMs: 60_000 }), { waitMs }));
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-storage-lock-'));
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((k) => k.destroy()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it(`${UPDATES} concurrent read-modify-write updates split over two instances lose nothing`, async () => {
    const a = instance();
    const b = instance();
    const update = makeUpdater(UPDATES);
    await Promise.all(Array.from({ length: UPDATES }, (_, i) => update(i % 2 === 0 ? a : b, '@acme/shared', i)));
    const doc = JSON.parse((await a.get(documentKey('@acme/shared')))!.toString()) as { updates: Record<string, number> };
    expect(Object.keys(doc.updates)).toHaveLength(UPDATES);
    expect(JSON.parse((await b.get(documentKey('@acme/shared')))!.toString())).toEqual(doc);
  });

  it('the same updates without the lock lose updates (the test above can fail)', async () => {
    const a = instance(20_000, NO_LOCK);
    const b = instance(20_000, NO_LOCK);
    const update = makeUpdater(UPDATES);
    await Promise.all(Array.from({ length: UPDATES }, (_, i) => update(i % 2 === 0 ? a : b, '@acme/shared', i)));
    const doc = JSON.parse((await a.get(documentKey('@acme/shared')))!.toString()) as { updates: Record<string, number> };
    expect(Object.keys(doc.updates).length).toBeLessThan(UPDATES);
  });

  it('a writer of another instance waits in PostgreSQL until the holder is done', async () => {
    // Two instances, one package: while one holds the lock the other's writer waits in PostgreSQL.
    const a = instance();
    const b = instance();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const order: string[] = [];
    const first = a.lock('pkg', async () => {
      entered();
      order.push('a in');
      await held;
      order.push('a out');
    });
    await inside;
    const second = b.lock('pkg', async () => {
      order.push('b in');
    });
    // b's writer is waiting on the advisory lock: PostgreSQL shows it.
    const [k1, k2] = packageLockKeys('pkg');
    await eventually(async () => {
      const rows = await pools[0]!.raw("select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = ?::int4::oid and objid = ?::int4::oid and objsubid = 2 and not granted", [k1, k2]);
      return (rows.rows[0] as { n: number }).n === 1;
    }, "b's writer waits for the advisory lock");
    try {
      expect(order).toEqual(['a in']);
    } finally {
      release();
      await Promise.all([first, second]);
    }
    expect(order).toEqual(['a in', 'a out', 'b in']);
  });

  it('a waiter gives up after its bound with ELOCKTIMEOUT, writes nothing, and the holder is unaffected', async () => {
    const holder = instance();
    const waiter = instance(300);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = holder.lock('@acme/slow', async () => {
      entered();
      await held;
      await holder.put(documentKey('@acme/slow'), '{"by":"holder"}');
    });
    await inside;

    let ran = false;
    try {
      // Across instances: the advisory lock's lock_timeout.
      const err = await waiter
        .lock('@acme/slow', async () => {
          ran = true;
        })
        .then(
          () => undefined,
          (e: unknown) => e as Error & { code?: string },
        );
      expect(err).toMatchObject({ name: 'GatekeeperError', code: 'ELOCKTIMEOUT' });
      expect(err?.message).toMatch(/^another write to @acme\/slow held its storage lock for more than 0\.3s; nothing was written\. Try again$/);
      expect(ran).toBe(false);
      expect(await waiter.get(documentKey('@acme/slow'))).toBeUndefined();
    } finally {
      release();
      await holding;
    }
    expect((await waiter.get(documentKey('@acme/slow')))?.toString()).toBe('{"by":"holder"}');
    // The waiter's pool still works, and the lock is free now.
    await expect(waiter.lock('@acme/slow', async () => 'free')).resolves.toBe('free');
  });

  it('a holder that hangs longer than the hold bound loses the lock (PostgreSQL ends its transaction)', async () => {
    const knex = createKnex(db.url, 4);
    pools.push(knex);
    const lost: string[][] = [];
    const hanging = new FsPackageStorage(dir, new PackageLocks(new PgAdvisoryLocks(knex, { maxHoldMs: 200, onLost: (names) => lost.push(names) }), { waitMs: 20_000 }));
    const other = instance();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = hanging.lock('stuck', async () => {
      entered();
      await held;
    });
    await inside;
    try {
      // The other instance gets the lock although the holder never returned.
      await expect(other.lock('stuck', async () => 'taken over')).resolves.toBe('taken over');
    } finally {
      release();
      await holding;
    }
    // The holder is told (start.ts logs it): its write may have raced another.
    expect(lost).toEqual([['stuck']]);
  });

  it('an in-process waiter gives up after its bound while an earlier writer of the same instance holds the lock', async () => {
    const knex = createKnex(db.url, 4);
    pools.push(knex);
    const locks = new PackageLocks(new PgAdvisoryLocks(knex, { maxHoldMs: 60_000 }), { waitMs: 300 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = locks.lock('solo', async () => {
      entered();
      await held;
    });
    await inside;
    await expect(locks.lock('solo', async () => 'never')).rejects.toMatchObject({ code: 'ELOCKTIMEOUT' });
    // Re-entrant: inside the holder a nested lock of the same package, and of another, run.
    release();
    await holding;
    await expect(locks.lock('solo', () => locks.lock('solo', () => locks.lock('other', async () => 'nested')))).resolves.toBe('nested');
  });
});

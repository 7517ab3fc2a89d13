/**
 * The job claim's SQL against a real PostgreSQL: concurrent claims of a due job give exactly
 * one winner, a lease is renewed and completed only by its holder, an expired lease is taken
 * over, and a completed job is due again one interval after its run started.
 */
import type { Knex } from 'knex';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { JobRepository } from '../../src/db/repositories/jobs';
import { createTestDatabase, TestDatabase } from '../support/database';

describe('job claims (SQL)', () => {
  let db: TestDatabase;
  let knex: Knex;
  let repo: JobRepository;
  /** One connection each, so the claims really race on the row. */
  const racers: Knex[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url, 4);
    await migrateLatest(knex);
    repo = new JobRepository(knex);
    for (let i = 0; i < 20; i++) racers.push(createKnex(db.url, 1));
    await Promise.all(racers.map((k) => k.raw('select 1')));
  });

  afterAll(async () => {
    await Promise.all(racers.map((k) => k.destroy()));
    await knex?.destroy();
    await db?.drop();
  });

  /** Makes the job due now and unleased. */
  const makeDue = (name: string) => knex('jobs').where({ name }).update({ next_run_at: knex.raw(`now() - interval '1 second'`), locked_by: null, locked_until: null });

  it('gives a due job to exactly one of 20 concurrent claims (plain claim and poll)', async () => {
    await repo.ensure([{ name: 'race.plain', intervalMs: 60_000 }, { name: 'race.poll', intervalMs: 60_000 }]);
    for (let round = 0; round < 5; round++) {
      await makeDue('race.plain');
      const plain = await Promise.all(racers.map((k, i) => new JobRepository(k).claimDue('race.plain', `racer-${i}`, 30_000)));
      const plainWinners = plain.filter((c) => c !== undefined);
      expect(plainWinners).toHaveLength(1);

      await makeDue('race.poll');
      const polled = await Promise.all(racers.map((k, i) => new JobRepository(k).poll(['race.poll'], ['race.poll'], `racer-${i}`, 30_000)));
      const pollWinners = polled.flatMap((p) => p.claimed);
      expect(pollWinners).toHaveLength(1);
      // Every loser still read the row, and it names the winner.
      const winner = polled.findIndex((p) => p.claimed.length === 1);
      for (const p of polled) expect(p.rows).toHaveLength(1);
      const row = await repo.find('race.poll');
      expect(row).toMatchObject({ lockedBy: `racer-${winner}`, held: true, claim: pollWinners[0].claim });
    }
    expect((await repo.find('race.plain'))?.claim).toBe(5);
    expect((await repo.find('race.poll'))?.claim).toBe(5);
  });

  it('lets only the holder renew and complete, and makes the job due one interval after its start', async () => {
    await repo.ensure([{ name: 'lease.holder', intervalMs: 3_600_000 }]);
    const claim = await repo.claimDue('lease.holder', 'a', 30_000);
    expect(claim).toBeDefined();
    // Held: nobody else claims it, due or not.
    expect(await repo.claimDue('lease.holder', 'b', 30_000)).toBeUndefined();
    expect(await repo.claimNow('lease.holder', 'b', 30_000)).toBeUndefined();
    expect(await repo.renew('lease.holder', 'b', claim!.claim, 30_000)).toBeUndefined();
    expect(await repo.renew('lease.holder', 'a', claim!.claim + 1, 30_000)).toBeUndefined();
    const renewed = await repo.renew('lease.holder', 'a', claim!.claim, 60_000);
    expect(renewed!.getTime()).toBeGreaterThan(claim!.lockedUntil.getTime());
    expect(await repo.complete('lease.holder', 'b', claim!.claim, 3_600_000, null)).toBeUndefined();

    const done = await repo.complete('lease.holder', 'a', claim!.claim, 3_600_000, 'it failed');
    expect(done).toMatchObject({ lockedBy: null, lockedUntil: null, held: false, runs: 1, failures: 1, lastError: 'it failed', lastRunBy: 'a' });
    expect(done!.nextRunAt.getTime() - done!.startedAt!.getTime()).toBe(3_600_000);
    // Not due for an hour: a poll claims nothing; runNow's claim does.
    expect((await repo.poll(['lease.holder'], ['lease.holder'], 'b', 30_000)).claimed).toEqual([]);
    const forced = await repo.claimNow('lease.holder', 'b', 30_000);
    expect(forced).toMatchObject({ claim: claim!.claim + 1, takeover: false });
    const ok = await repo.complete('lease.holder', 'b', forced!.claim, 3_600_000, null);
    expect(ok).toMatchObject({ runs: 2, failures: 1, lastError: null });
  });

  it('hands an expired lease to the next claim and counts the takeover; the old holder can no longer record its run', async () => {
    await repo.ensure([{ name: 'lease.expired', intervalMs: 60_000 }]);
    const first = await repo.claimDue('lease.expired', 'dead', 30_000);
    expect(first).toBeDefined();
    // Before expiry: refused. Then the lease runs out (set in the past by the database's clock).
    expect((await repo.poll(['lease.expired'], ['lease.expired'], 'alive', 30_000)).claimed).toEqual([]);
    await knex('jobs').where({ name: 'lease.expired' }).update({ locked_until: knex.raw(`now() - interval '1 millisecond'`) });
    const polled = await repo.poll(['lease.expired'], ['lease.expired'], 'alive', 30_000);
    expect(polled.claimed).toEqual([expect.objectContaining({ name: 'lease.expired', claim: first!.claim + 1, takeover: true })]);
    expect(polled.rows[0]).toMatchObject({ lockedBy: 'alive', takeovers: 1, held: true });
    expect(await repo.renew('lease.expired', 'dead', first!.claim, 30_000)).toBeUndefined();
    expect(await repo.complete('lease.expired', 'dead', first!.claim, 60_000, null)).toBeUndefined();
    expect(await repo.complete('lease.expired', 'alive', first!.claim + 1, 60_000, null)).toMatchObject({ runs: 1, lastRunBy: 'alive' });
  });

  it('releases an aborted claim without counting a run, leaving the job due', async () => {
    await repo.ensure([{ name: 'lease.release', intervalMs: 60_000 }]);
    const claim = await repo.claimDue('lease.release', 'a', 30_000);
    expect(await repo.release('lease.release', 'a', claim!.claim, 'aborted: stopping')).toBe(true);
    const again = await repo.claimDue('lease.release', 'b', 30_000);
    expect(again).toMatchObject({ claim: claim!.claim + 1, takeover: false });
    expect(await repo.find('lease.release')).toMatchObject({ runs: 0, lastError: 'aborted: stopping', lockedBy: 'b' });
  });

  it('records when a run last succeeded: a later failure keeps it, the next success moves it', async () => {
    await repo.ensure([{ name: 'success.kept', intervalMs: 60_000 }]);
    const run = async (error: string | null) => {
      await makeDue('success.kept');
      const claim = await repo.claimDue('success.kept', 'a', 30_000);
      return repo.complete('success.kept', 'a', claim!.claim, 60_000, error);
    };
    expect((await repo.find('success.kept'))?.lastSuccessAt).toBeNull();
    expect(await run('the feed answered 503')).toMatchObject({ lastSuccessAt: null, lastError: 'the feed answered 503' });
    const ok = await run(null);
    expect(ok?.lastSuccessAt).toBeInstanceOf(Date);
    expect(ok?.lastSuccessAt?.getTime()).toBe(ok?.lastRunAt?.getTime());
    // An hour back, so a later time is told apart whatever the clock's resolution.
    await knex('jobs').where({ name: 'success.kept' }).update({ last_success_at: knex.raw(`last_success_at - interval '1 hour'`) });
    const back = (await repo.find('success.kept'))!.lastSuccessAt!;
    const failed = await run('the feed answered 503 again');
    expect(failed).toMatchObject({ lastError: 'the feed answered 503 again', lastSuccessAt: back });
    const again = await run(null);
    expect(again!.lastSuccessAt!.getTime()).toBeGreaterThan(back.getTime());
  });
});

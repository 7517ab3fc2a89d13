/**
 * Background work is claimed (docs/operations.md, "Background jobs"): three JobRunners in
 * three processes on one database run a job once per interval, not three times; a holder
 * killed with SIGKILL mid-run loses its job to another instance once its lease has expired,
 * and that instance completes it; a runner whose database goes away reports it in health,
 * backs off, and recovers when the database returns; the gatekeeper runs its advisory
 * refresh as job 'advisories.refresh' and reports it in /health.
 *
 * Every assertion is on counts, claims and the database's own timestamps, never on how long
 * the test took.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import pino from 'pino';
import { createKnex, migrateLatest } from '../../src/db/connection';
import { freePort, makeReachableTempDir } from '../../src/db/embedded';
import { JobRepository } from '../../src/db/repositories/jobs';
import { Store } from '../../src/db/store';
import { JobRunner } from '../../src/services/jobs';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';
import { EmbeddedServer, startEmbeddedServer } from '../support/embedded-pg';
import { FixtureRegistry, startFixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper } from '../support/gatekeeper';

const RUNNER_SCRIPT = path.join(__dirname, '../support/job-runner-process.js');

interface RunnerProcess {
  instanceId: string;
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function startRunner(config: { url: string; instanceId: string; leaseMs: number; pollMs: number; jobs: Array<{ name: string; intervalMs: number; holdMs?: number }> }): Promise<RunnerProcess> {
  const proc = spawn(process.execPath, [RUNNER_SCRIPT, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    proc.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
      if (output.includes('{"ready":true}')) resolve({ instanceId: config.instanceId, proc, output: () => output, exited });
    });
    exited.then((code) => reject(new Error(`job runner ${config.instanceId} exited with ${code} before it was ready:\n${output}`)));
  });
}

interface EventRow {
  job: string;
  instance: string;
  claim: string;
  started_at: Date;
  event: 'start' | 'end';
  takeover: boolean;
  at: Date;
}

const EVENTS_TABLE = (knex: Knex) =>
  knex.schema.createTable('job_test_events', (t) => {
    t.increments('id');
    t.text('job').notNullable();
    t.text('instance').notNullable();
    t.bigInteger('claim').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.text('event').notNullable();
    t.boolean('takeover').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
  });

describe('three job runners in three processes on one database', () => {
  const LEASE_MS = 3000;
  const POLL_MS = 100;
  const TICK_MS = 1000;
  /** Longer than two leases: the run survives only if its heartbeat renews the lease. */
  const HOLD_MS = 7000;
  let db: TestDatabase;
  let knex: Knex;
  const runners: RunnerProcess[] = [];

  const events = (job: string) => knex<EventRow>('job_test_events').where({ job }).orderBy('id');
  const jobRow = (name: string) => new JobRepository(knex).find(name);

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url, 4);
    await migrateLatest(knex);
    await EVENTS_TABLE(knex);
    // The long jobs exist but are not due until a test makes them due.
    const repo = new JobRepository(knex);
    await repo.ensure([
      { name: 'long.renewed', intervalMs: 3_600_000 },
      { name: 'long.killed', intervalMs: 3_600_000 },
      { name: 'long.stopped', intervalMs: 3_600_000 },
    ]);
    await knex('jobs').whereIn('name', ['long.renewed', 'long.killed', 'long.stopped']).update({ next_run_at: knex.raw(`now() + interval '1 year'`) });
    for (const instanceId of ['runner-a', 'runner-b', 'runner-c']) {
      runners.push(
        await startRunner({
          url: db.url,
          instanceId,
          leaseMs: LEASE_MS,
          pollMs: POLL_MS,
          jobs: [
            { name: 'tick', intervalMs: TICK_MS },
            { name: 'long.renewed', intervalMs: 3_600_000, holdMs: HOLD_MS },
            { name: 'long.killed', intervalMs: 3_600_000, holdMs: HOLD_MS },
            { name: 'long.stopped', intervalMs: 3_600_000, holdMs: HOLD_MS },
          ],
        }),
      );
    }
  });

  afterAll(async () => {
    for (const r of runners) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
    await Promise.all(runners.map((r) => r.exited));
    await knex?.destroy();
    await db?.drop();
  });

  /**
   * The tick runs: one per claim, each at least one interval after the previous one by the
   * database's clock. With `contiguous`, no claim is missing either (no instance died: a
   * killed instance may have claimed a run and died before writing its row).
   */
  async function expectOncePerInterval(contiguous: boolean): Promise<EventRow[]> {
    const rows = (await events('tick')).filter((r) => r.event === 'start');
    const byClaim = [...rows].sort((a, b) => Number(a.claim) - Number(b.claim));
    // No claim ran twice; with every instance alive, claims 1..n all ran.
    expect(new Set(byClaim.map((r) => r.claim)).size).toBe(byClaim.length);
    if (contiguous) expect(byClaim.map((r) => Number(r.claim))).toEqual(byClaim.map((_, i) => i + 1));
    for (let i = 1; i < byClaim.length; i++) {
      const gap = byClaim[i].started_at.getTime() - byClaim[i - 1].started_at.getTime();
      expect({ claim: Number(byClaim[i].claim), gapAtLeastInterval: gap >= TICK_MS }).toEqual({ claim: Number(byClaim[i].claim), gapAtLeastInterval: true });
    }
    // So the runs fit the intervals that passed between the first and the last: not three per interval.
    const span = byClaim[byClaim.length - 1].started_at.getTime() - byClaim[0].started_at.getTime();
    expect(byClaim.length).toBeLessThanOrEqual(Math.floor(span / TICK_MS) + 1);
    return byClaim;
  }

  it('runs a job once per interval across the three, not three times', async () => {
    await eventually(async () => (await events('tick')).length >= 8, 'eight runs of the tick job', 60_000);
    const rows = await expectOncePerInterval(true);
    const row = await jobRow('tick');
    // Completed runs: every run but possibly the one in progress.
    expect(row!.runs).toBeGreaterThanOrEqual(rows.length - 1);
    expect(row!.runs).toBeLessThanOrEqual(rows.length);
    expect(row!.failures).toBe(0);
    expect(row!.takeovers).toBe(0);
    // All three were polling all along (none died), each ready to claim.
    for (const r of runners) expect({ runner: r.instanceId, exitCode: r.proc.exitCode }).toEqual({ runner: r.instanceId, exitCode: null });
  });

  it('keeps a run that outlasts its lease with the heartbeat: no other instance claims it', async () => {
    await knex('jobs').where({ name: 'long.renewed' }).update({ next_run_at: knex.raw('now()') });
    await eventually(async () => (await events('long.renewed')).some((r) => r.event === 'end'), 'the long run to end', 60_000);
    const rows = await events('long.renewed');
    expect(rows.map((r) => r.event)).toEqual(['start', 'end']);
    expect(rows[1]).toMatchObject({ instance: rows[0].instance, claim: rows[0].claim, takeover: false });
    // Precondition (guaranteed by the job's hold): the run lasted longer than one lease.
    expect(rows[1].at.getTime() - rows[0].started_at.getTime()).toBeGreaterThan(LEASE_MS);
    await eventually(async () => (await jobRow('long.renewed'))!.runs === 1, 'the run to be recorded');
    expect(await jobRow('long.renewed')).toMatchObject({ claim: 1, runs: 1, takeovers: 0, failures: 0, lockedBy: null, lastRunBy: rows[0].instance, lastError: null });
  });

  it('hands the job of a holder killed with SIGKILL mid-run to another instance once the lease has expired, which completes it', async () => {
    await knex('jobs').where({ name: 'long.killed' }).update({ next_run_at: knex.raw('now()') });
    await eventually(async () => (await events('long.killed')).some((r) => r.event === 'start'), 'the long run to start', 30_000);
    const [first] = await events('long.killed');
    const holder = runners.find((r) => r.instanceId === first.instance)!;
    holder.proc.kill('SIGKILL');
    await holder.exited;
    // The dead holder's last lease, read after it died: nothing renews it any more.
    const lease = await jobRow('long.killed');
    expect(lease).toMatchObject({ lockedBy: holder.instanceId, claim: Number(first.claim) });
    const deadUntil = lease!.lockedUntil!.getTime();

    await eventually(async () => (await events('long.killed')).some((r) => r.event === 'end'), 'another instance to complete the job', 90_000);
    const rows = await events('long.killed');
    const starts = rows.filter((r) => r.event === 'start');
    const ends = rows.filter((r) => r.event === 'end');
    // Exactly one takeover, by a live instance, with the next claim; the dead holder never ended.
    expect(starts).toHaveLength(2);
    expect(ends).toHaveLength(1);
    expect(starts[1]).toMatchObject({ claim: String(Number(first.claim) + 1), takeover: true });
    expect(starts[1].instance).not.toBe(holder.instanceId);
    expect(ends[0]).toMatchObject({ instance: starts[1].instance, claim: starts[1].claim });
    // Not before the dead holder's lease had expired (both times by the database's clock).
    expect(starts[1].started_at.getTime()).toBeGreaterThan(deadUntil);
    await eventually(async () => (await jobRow('long.killed'))!.runs === 1, 'the taken-over run to be recorded');
    expect(await jobRow('long.killed')).toMatchObject({ runs: 1, takeovers: 1, failures: 0, lockedBy: null, lastRunBy: starts[1].instance });

    // The tick went on once per interval through the kill (the dead holder's tick, if it held one, was taken over too).
    const before = (await events('tick')).length;
    await eventually(async () => (await events('tick')).length >= before + 3, 'three more ticks from the survivors', 60_000);
    await expectOncePerInterval(false);
  });

  it('gives the job of a holder stopped with SIGTERM mid-run back at once: another instance claims it without a takeover and completes it', async () => {
    await knex('jobs').where({ name: 'long.stopped' }).update({ next_run_at: knex.raw('now()') });
    await eventually(async () => (await events('long.stopped')).some((r) => r.event === 'start'), 'the long run to start', 30_000);
    const [first] = await events('long.stopped');
    const holder = runners.find((r) => r.instanceId === first.instance)!;
    holder.proc.kill('SIGTERM');
    expect(await holder.exited).toBe(0);
    await eventually(async () => (await events('long.stopped')).some((r) => r.event === 'end'), 'another instance to complete the job', 60_000);
    const rows = await events('long.stopped');
    const starts = rows.filter((r) => r.event === 'start');
    expect(starts).toHaveLength(2);
    // Released, not expired: the next claim is no takeover.
    expect(starts[1]).toMatchObject({ claim: String(Number(first.claim) + 1), takeover: false });
    expect(starts[1].instance).not.toBe(holder.instanceId);
    expect(rows.filter((r) => r.event === 'end')).toEqual([expect.objectContaining({ instance: starts[1].instance, claim: starts[1].claim })]);
    await eventually(async () => (await jobRow('long.stopped'))!.runs === 1, 'the run to be recorded');
    expect(await jobRow('long.stopped')).toMatchObject({ runs: 1, takeovers: 0, failures: 0, lockedBy: null, lastError: null });
  });
});

describe('a job runner whose database goes away', () => {
  let dir: string;
  let port: number;
  let server: EmbeddedServer;
  let knex: Knex;
  let runner: JobRunner;
  const runs: number[] = [];
  /** Every poll of the jobs table this runner made, with its outcome (instrumented, not replaced). */
  const polls: Array<{ at: number; ok: boolean }> = [];

  beforeAll(async () => {
    dir = makeReachableTempDir('gk-jobs-pg-');
    port = await freePort();
    server = await startEmbeddedServer(path.join(dir, 'db'), port);
    knex = createKnex(server.url, 4);
    await migrateLatest(knex);
    const store = new Store(knex);
    const repo = store.repos.jobs;
    const poll = repo.poll.bind(repo);
    repo.poll = async (...args: Parameters<typeof poll>) => {
      const at = Date.now();
      try {
        const result = await poll(...args);
        polls.push({ at, ok: true });
        return result;
      } catch (err) {
        polls.push({ at, ok: false });
        throw err;
      }
    };
    runner = new JobRunner(store, pino({ level: 'silent' }), { instanceId: 'lonely', leaseMs: 2000, pollMs: 100 });
    runner.register({ name: 'tick', intervalMs: 200, run: async (_signal, context) => void runs.push(context.claim) });
    runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await knex?.destroy();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports the unreachable database in health, backs off, and recovers when it returns', async () => {
    await eventually(async () => runner.health().tick.runs >= 2, 'two runs while the database is up');
    expect(runner.health().tick).toMatchObject({ ok: true });
    expect(runner.health().tick.claimError).toBeUndefined();

    await server.stop();
    const outage = polls.length;
    await eventually(async () => runner.health().tick.claimError !== undefined, 'the claim error in health');
    expect(runner.health().tick.ok).toBe(false);
    // No hot retry loop: each failed poll waits longer than the last (the delay doubles, within a tenth of jitter).
    await eventually(async () => polls.slice(outage).filter((p) => !p.ok).length >= 5, 'five failed polls', 60_000);
    const failed = polls.slice(outage).filter((p) => !p.ok);
    for (let k = 1; k < 5; k++) {
      const gap = failed[k].at - failed[k - 1].at;
      const floor = 0.9 * 100 * 2 ** Math.min(k, 4);
      expect({ k, gap: gap >= floor - 2 }).toEqual({ k, gap: true });
    }
    const runsBefore = runs.length;

    server = await startEmbeddedServer(path.join(dir, 'db'), port);
    await eventually(async () => runner.health().tick.claimError === undefined && runs.length > runsBefore + 1, 'the runner to claim and run again', 60_000);
    expect(runner.health().tick).toMatchObject({ ok: true });
    // Claims went on from where they were: each run its own claim.
    expect(new Set(runs).size).toBe(runs.length);
  });
});

describe('the gatekeeper runs its advisory refresh as a claimed job', () => {
  let upstream: FixtureRegistry;
  let t: TestGatekeeper;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'stale-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    upstream.setAdvisories({ 'stale-fixture': [{ id: 4242, url: 'https://github.com/advisories/GHSA-stal-efix-ture', title: 'Stale', severity: 'high', vulnerable_versions: '<2.0.0' }] });
    t = await startTestGatekeeper({ upstream: upstream.url });
  });

  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  it("reports 'advisories.refresh' in /health, refreshes due packages when it runs, and releases its claim on close", async () => {
    const jobs = t.gk.runtime.jobs;
    // Due at the first start: the first poll runs it.
    await eventually(async () => jobs.health()['advisories.refresh'].runs >= 1 && !jobs.health()['advisories.refresh'].running, 'the first refresh');
    const health = await t.api('GET', '/health', undefined, null);
    expect(health.body.jobs['advisories.refresh']).toMatchObject({ ok: true, runs: expect.any(Number) });
    expect(health.body.jobs['advisories.refresh'].nextRunAt).toEqual(expect.any(String));

    // A package whose answer is two days old is asked about again when the job runs.
    const knex = createKnex(t.db.url, 1);
    try {
      await knex('advisory_checks').insert({ package: 'stale-fixture', versions: JSON.stringify(['1.0.0']), ok: true, checked_at: knex.raw(`now() - interval '2 days'`) });
      const asked = () => upstream.requests.filter((r) => r.url.includes('/advisories/bulk') && (r.body ?? '').includes('stale-fixture')).length;
      expect(asked()).toBe(0);
      expect(await jobs.runNow('advisories.refresh')).toBe(true);
      expect(asked()).toBe(1);
      const stored = await knex('advisories').where({ package: 'stale-fixture' }).select('advisory_id');
      expect(stored.length).toBe(1);
      // Its answer is fresh again (by the database's clock).
      expect(await knex('advisory_checks').where({ package: 'stale-fixture' }).where('checked_at', '>', knex.raw(`now() - interval '1 hour'`)).count('* as n').first()).toEqual({ n: '1' });

      await t.gk.close();
      const row = await new JobRepository(knex).find('advisories.refresh');
      expect(row).toMatchObject({ lockedBy: null, failures: 0 });
      expect(row!.runs).toBeGreaterThanOrEqual(2);
    } finally {
      await knex.destroy();
    }
  });
});

describe("what one instance's advisory refresh finds applies on every instance", () => {
  const NAME = 'spread-fixture';
  let upstream: FixtureRegistry;
  let a: TestGatekeeper;
  let b: TestGatekeeper;
  const tarball = async (t: TestGatekeeper, version: string) => {
    const res = await fetch(new URL(`${NAME}/-/${NAME}-${version}.tgz`, t.url));
    const text = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return { status: res.status, code: res.status === 200 ? undefined : (JSON.parse(text) as { code?: string }).code };
  };

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: NAME, versions: ['1.0.0', '1.0.1'].map((version) => ({ version, license: 'MIT' })) }]);
    const settings = { advisoryRefresh: '2s', jobPoll: '1s' };
    a = await startTestGatekeeper({ upstream: upstream.url, settings });
    b = await startTestGatekeeper({ upstream: upstream.url, db: a.db, settings });
    expect((await a.api('PATCH', '/policy', { mode: 'open' })).status).toBe(200);
    // B learns of the change through the database's notification: wait for it, or B's first read races it.
    const generation = (await a.api('GET', '/health', undefined, null)).body.policy.generation as number;
    await eventually(async () => ((await b.api('GET', '/health', undefined, null)).body.policy.generation as number) >= generation, "B to load A's policy");
    // B runs no background job: the refresh that finds the advisory is A's.
    await b.gk.runtime.jobs.stop();
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await upstream?.close();
  });

  it('a critical advisory the job finds on A makes B refuse the version it served (and holds in its caches) before', async () => {
    expect(await tarball(b, '1.0.0')).toEqual({ status: 200, code: undefined });
    expect(await tarball(b, '1.0.0')).toEqual({ status: 200, code: undefined });
    const asked = () => upstream.requests.filter((r) => r.url.includes('/advisories/bulk') && (r.body ?? '').includes(NAME)).length;
    const before = asked();
    upstream.setAdvisories({ [NAME]: [{ id: 5151, url: 'https://advisories.example.test/5151', title: 'Remote code execution', severity: 'critical', vulnerable_versions: '<1.0.1' }] });
    // A's refresh asks again (the answer is older than GATEKEEPER_ADVISORY_REFRESH) and stores the advisory.
    await eventually(async () => (await a.gk.database.knex('advisories').where({ package: NAME })).length === 1, "A's refresh to store the advisory", 30_000);
    expect(asked()).toBeGreaterThan(before);
    // B learns it from the database's notification, not by asking itself.
    await eventually(async () => (await tarball(b, '1.0.0')).status === 403, 'B to refuse the vulnerable version', 15_000);
    expect(await tarball(b, '1.0.0')).toEqual({ status: 403, code: 'EADVISORY' });
    expect(await tarball(b, '1.0.1')).toEqual({ status: 200, code: undefined });
  });

  it("an instance whose answer is stale takes the check another instance's refresh stored, instead of asking the upstream itself", async () => {
    // Nobody refreshes in the background now: what is asked below is asked by B's request path.
    await a.gk.runtime.jobs.stop();
    const asked = () => upstream.requests.filter((r) => r.url.includes('/advisories/bulk') && (r.body ?? '').includes(NAME)).length;
    const advisories = b.gk.runtime.advisories;
    await eventually(async () => advisories.known(NAME)?.status === 'stale', "B's answer to go stale (GATEKEEPER_ADVISORY_REFRESH is 2s here)", 15_000);
    // As A's refresh leaves it when the answer did not change: a new check time, no announcement.
    await a.gk.database.knex('advisory_checks').where({ package: NAME }).update({ checked_at: a.gk.database.knex.fn.now() });
    const before = asked();
    await advisories.prepare(NAME, ['1.0.0', '1.0.1']);
    expect(asked()).toBe(before);
    expect(advisories.known(NAME)).toMatchObject({ status: 'fresh', advisories: [expect.objectContaining({ severity: 'critical' })] });
    // Stale in the database too: B asks.
    await eventually(async () => advisories.known(NAME)?.status === 'stale', "B's answer to go stale again", 15_000);
    await a.gk.database.knex('advisory_checks').where({ package: NAME }).update({ checked_at: a.gk.database.knex.raw(`now() - interval '1 hour'`) });
    await advisories.prepare(NAME, ['1.0.0', '1.0.1']);
    expect(asked()).toBe(before + 1);
  });

  it("keeps a package's entries in force while the refresh asks about it again (a decision meanwhile never sees none)", async () => {
    const advisories = b.gk.runtime.advisories;
    expect(advisories.known(NAME)?.advisories).toEqual([expect.objectContaining({ severity: 'critical' })]);
    const knex = b.gk.database.knex;
    await knex('advisory_checks').where({ package: NAME }).update({ checked_at: knex.raw(`now() - interval '1 hour'`) });
    // Holds every read and write of the advisories table, so the refresh stops midway.
    const blocker = createKnex(b.db.url, 1);
    const trx = await blocker.transaction();
    try {
      await trx.raw('lock table advisories in access exclusive mode');
      const run = advisories.refreshDue();
      await eventually(
        async () => (await knex.raw(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%advisories%'`)).rows.length > 0,
        'the refresh to wait for the advisories table',
      );
      expect(advisories.known(NAME)?.advisories).toEqual([expect.objectContaining({ severity: 'critical' })]);
      await trx.commit();
      expect(await run).toBe(1);
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
      await blocker.destroy();
    }
    expect(advisories.known(NAME)).toMatchObject({ status: 'fresh', advisories: [expect.objectContaining({ severity: 'critical' })] });
  });

  it('shows since when a run has been held, here and on the other instances, and nothing once it ended', async () => {
    const knex = createKnex(a.db.url, 2);
    const runners = ['probe-1', 'probe-2'].map((instanceId) => new JobRunner(new Store(knex), pino({ level: 'silent' }), { instanceId, leaseMs: 30_000, pollMs: 200 }));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    for (const r of runners) r.register({ name: 'probe.hold', intervalMs: 3_600_000, run: () => held });
    try {
      const running = runners[0].runNow('probe.hold');
      await eventually(async () => runners[0].health()['probe.hold'].running === true, 'the probe run to start');
      runners[1].start();
      await eventually(async () => runners[1].health()['probe.hold'].heldBy === 'probe-1', 'the other runner to see the holder');
      const row = await knex('jobs').where({ name: 'probe.hold' }).first();
      for (const r of runners) expect(r.health()['probe.hold'].heldSince).toBe(new Date(row.started_at).toISOString());
      release();
      expect(await running).toBe(true);
      expect(runners[0].health()['probe.hold'].heldSince).toBeUndefined();
    } finally {
      release();
      for (const r of runners) await r.stop();
      await knex.destroy();
    }
  });

  it('abandons a run that passes its deadline: its signal aborts, the lease runs out and the job is taken over and completed', async () => {
    const knex = createKnex(a.db.url, 2);
    const runners = ['stuck-a', 'stuck-b'].map((instanceId) => new JobRunner(new Store(knex), pino({ level: 'silent' }), { instanceId, leaseMs: 1500, pollMs: 100 }));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    let abortedWith: unknown;
    for (const r of runners) {
      r.register({
        name: 'probe.stuck',
        intervalMs: 3_600_000,
        timeoutMs: 300,
        run: (signal) => {
          calls += 1;
          if (calls > 1) return Promise.resolve();
          // The first run hangs and ignores its signal, as a stuck run would.
          signal.addEventListener('abort', () => (abortedWith = signal.reason));
          return held;
        },
      });
    }
    try {
      runners[0].start();
      await eventually(async () => calls === 1, 'the first run to start');
      runners[1].start();
      await eventually(async () => abortedWith !== undefined, "the stuck run's signal to abort at its deadline");
      expect(String(abortedWith)).toMatch(/passed its deadline of 300 ms/);
      // Reported as abandoned at once (the lease it no longer renews lasts a second more, at least).
      expect(runners[0].health()['probe.stuck']).toMatchObject({ running: false, lastError: expect.stringMatching(/abandoned: the run passed its deadline/) });
      // bigint columns: pg returns them as text.
      await eventually(async () => Number((await knex('jobs').where({ name: 'probe.stuck' }).first())?.runs) === 1, 'another claim to complete the job');
      const row = await knex('jobs').where({ name: 'probe.stuck' }).first();
      expect({ runs: Number(row.runs), takeovers: Number(row.takeovers) }).toEqual({ runs: 1, takeovers: 1 });
      // Either instance may take it over, this one included.
      expect(calls).toBe(2);
    } finally {
      release();
      for (const r of runners) await r.stop();
      await knex.destroy();
    }
  });
});

describe('a job whose interval is longer than a timer can wait', () => {
  let db: TestDatabase;
  let knex: Knex;
  let runner: JobRunner | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    knex = createKnex(db.url);
    await migrateLatest(knex);
  });

  afterAll(async () => {
    await runner?.stop();
    await knex?.destroy();
    await db?.drop();
  });

  it('completes and records its run: the deadline (twice the interval, 10 weeks here) is held to what a timer can wait instead of firing at once', async () => {
    const ran: string[] = [];
    runner = new JobRunner(new Store(knex), pino({ level: 'silent' }), { instanceId: 'weekly', leaseMs: 2000, pollMs: 100 });
    runner.register({
      name: 'feed.fortnightly',
      intervalMs: 5 * 7 * 86_400_000,
      run: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        ran.push('done');
      },
    });
    runner.start();
    await eventually(async () => (runner!.health()['feed.fortnightly']?.runs ?? 0) >= 1, 'the first run recorded');
    expect(ran).toEqual(['done']);
    expect(runner.health()['feed.fortnightly']).toMatchObject({ ok: true, lastSuccessAt: expect.any(String) });
    expect(runner.health()['feed.fortnightly'].lastError).toBeUndefined();
  });
});

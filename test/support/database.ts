import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A fresh database in the run's PostgreSQL server (see global-setup.ts), dropped at the end. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.GK_TEST_ADMIN_URL;
  if (!url) throw new Error('GK_TEST_ADMIN_URL is unset: run the tests through jest (global-setup.ts)');
  return url;
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `gk_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`create database ${name}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdmin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

/**
 * Runs `hold` in a transaction and keeps that transaction open while `race` starts the calls
 * that must wait for its locks; once `waiters` statements of the database wait for a lock (read
 * from pg_stat_activity), runs `meanwhile` and commits, so each call's order against the lock
 * and against `meanwhile` is fixed, not left to timing.
 * Returns what the calls returned.
 */
export async function whileLocked<T>(
  knex: import('knex').Knex,
  hold: (trx: import('knex').Knex.Transaction) => Promise<unknown>,
  race: () => Array<Promise<T>>,
  waiters = 1,
  /** What happens while they wait, before the lock is released (another writer's work, say). */
  meanwhile: () => Promise<void> | void = () => undefined,
): Promise<T[]> {
  const waiting = async () => Number((await knex.raw("select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).rows[0].n);
  let release = () => undefined as void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = () => undefined as void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  const holder = knex.transaction(async (trx) => {
    await hold(trx);
    held();
    await released;
  });
  await Promise.race([holding, holder]);
  const calls = race();
  for (let i = 0; i < 400 && (await waiting()) < waiters; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  const seen = await waiting();
  try {
    await meanwhile();
  } finally {
    release();
  }
  await holder;
  const results = await Promise.all(calls);
  if (seen < waiters) throw new Error(`whileLocked: ${seen} of ${waiters} calls waited for the lock, so their order against it was not fixed`);
  return results;
}

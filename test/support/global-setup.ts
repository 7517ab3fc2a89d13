import { Client } from 'pg';
import { makeReachableTempDir, startEmbeddedDatabase } from '../../src/db/embedded';

/**
 * One PostgreSQL server for the whole run; every test file creates its own database in it.
 * GATEKEEPER_TEST_DATABASE_URL names an existing server (CI uses the machine's); without it
 * an embedded server is started, so `npm test` needs no database server installed.
 */
export default async function globalSetup(): Promise<void> {
  const external = process.env.GATEKEEPER_TEST_DATABASE_URL;
  if (external) {
    const client = new Client({ connectionString: external, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('select 1');
    } catch (err) {
      throw new Error(`GATEKEEPER_TEST_DATABASE_URL (${external}) is not reachable: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
    process.env.GK_TEST_ADMIN_URL = external;
    process.env.GK_TEST_DATABASE_KIND = 'external';
    return;
  }
  const dir = makeReachableTempDir('gk-test-pg-');
  const db = await startEmbeddedDatabase({ dir: `${dir}/db` });
  (globalThis as Record<string, unknown>).__gkEmbedded = { db, dir };
  process.env.GK_TEST_ADMIN_URL = db.url;
  process.env.GK_TEST_DATABASE_KIND = 'embedded';
}

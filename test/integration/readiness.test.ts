/**
 * Readiness for a load balancer: 503 ENOTREADY while the policy channel is down (the instance
 * would deny everything) and from the start of a shutdown, while requests are still served
 * for GATEKEEPER_SHUTDOWN_DELAY; 200 again once the channel is back.
 */
import { Client } from 'pg';
import { LISTENER_APPLICATION_NAME } from '../../src/db/listener';
import { eventually } from '../support/assert';
import { adminUrl } from '../support/database';
import { gatekeeperSuite } from '../support/suite';

describe('readiness', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'ready-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { shutdownDelay: '3s' }, policyMode: 'none', npm: false });
  const ready = async () => {
    const res = await fetch(new URL('-/gatekeeper/v1/ready', s.t.url));
    return { status: res.status, body: (await res.json()) as { ready?: boolean; code?: string; error?: string } };
  };

  it('is ready while everything is up, and not while the policy channel is down', async () => {
    expect(await ready()).toEqual({ status: 200, body: { ready: true } });
    const dbName = new URL(s.t.db.url).pathname.slice(1);
    const admin = new Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await admin.query(`alter database "${dbName}" allow_connections false`);
      await admin.query(`select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1 and application_name = $2`, [dbName, LISTENER_APPLICATION_NAME]);
      await eventually(async () => (await ready()).status === 503, 'readiness to fail with the channel down');
      const down = await ready();
      expect(down.body.code).toBe('ENOTREADY');
      expect(down.body.error).toMatch(/^\[ENOTREADY\] this instance is not ready: .*policy is not trusted/);
    } finally {
      await admin.query(`alter database "${dbName}" allow_connections true`);
      await admin.end();
    }
    await eventually(async () => (await ready()).status === 200, 'readiness to come back with the channel', 30_000);
  });

  it('stops being ready as soon as a shutdown starts, while it still serves', async () => {
    const closing = s.t.gk.close();
    const during = await ready();
    expect(during.status).toBe(503);
    expect(during.body.error).toContain('shutting down');
    const ping = await fetch(new URL('-/ping', s.t.url));
    expect(ping.status).toBe(200);
    await closing;
  });
});

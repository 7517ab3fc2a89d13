import { GatekeeperError } from '../../core/errors';
import { ok, RouteDef } from '../route';

export const get_health: RouteDef = {
  name: 'get_health',
  method: 'get',
  path: '/health',
  access: 'public',
  responses: { 200: 'every part that counts is healthy', 503: 'a part that counts is failing: the same report, its failing parts with ok false' },
  summary:
    'Database, policy, plugins, upstream and audit-writer health (and cache, advisory, tarball-inspection-record and background-job statistics; jobs and inspections do not count towards ok); 503 when any part that counts is failing. Under GATEKEEPER_REQUIRE_AUTH, anonymous callers get liveness only ({ok}), never the parts or the upstream URL',
  handler: async ({ runtime, principal }) => {
    const report = await runtime.health();
    const status = report.ok ? 200 : 503;
    if (runtime.settings.requireAuth && !principal) return ok({ ok: report.ok }, status);
    return ok(report, status);
  },
};

export const get_ready: RouteDef = {
  name: 'get_ready',
  method: 'get',
  path: '/ready',
  access: 'public',
  summary:
    'Readiness for load balancers: 200 while this instance can serve; 503 ENOTREADY while its database, policy channel or storage is unavailable, and from the start of a shutdown',
  handler: async ({ runtime }) => {
    const { ready, reasons } = await runtime.readiness();
    if (!ready) throw new GatekeeperError('ENOTREADY', `this instance is not ready: ${reasons.join('; ')}. Route to another instance`);
    return ok({ ready: true });
  },
};

import { ok, RouteDef } from '../route';

export const get_health: RouteDef = {
  name: 'get_health',
  method: 'get',
  path: '/health',
  access: 'public',
  summary: 'Database, policy, plugins and upstream health; 503 when any is down',
  handler: async ({ runtime }) => {
    const report = await runtime.health();
    return ok(report, report.ok ? 200 : 503);
  },
};

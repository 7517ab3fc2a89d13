import type { Request, Response } from 'express';
import type { GatekeeperRuntime } from '../runtime';

/**
 * GET /-/gatekeeper/metrics: this instance's metrics in Prometheus' text format (docs/metrics.md).
 * Who may read them is the route table's `metrics` access (an admin, or GATEKEEPER_METRICS_ALLOW).
 */
export function createMetricsHandler(runtime: GatekeeperRuntime) {
  return async function metrics(req: Request, res: Response): Promise<void> {
    const { contentType, body } = await runtime.metrics.render();
    res.statusCode = 200;
    res.setHeader('content-type', contentType);
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

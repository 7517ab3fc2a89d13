import { Router } from 'express';
import { errorBody } from '../../core/errors';
import type { GatekeeperRuntime } from '../runtime';

/**
 * `npm audit` through the gatekeeper: its advisory requests are passed to the upstream (as
 * verdaccio-audit does) and the answers returned as they are.
 */
export function createAuditRouter(runtime: GatekeeperRuntime, upstream: string): Router {
  const router = Router();
  const base = upstream.endsWith('/') ? upstream : `${upstream}/`;
  for (const path of ['/-/npm/v1/security/advisories/bulk', '/-/npm/v1/security/audits/quick', '/-/npm/v1/security/audits']) {
    router.post(path, async (req, res) => {
      try {
        const answer = await fetch(new URL(path.slice(1), base), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(req.body ?? {}),
          signal: AbortSignal.timeout(30_000),
        });
        res.status(answer.status);
        res.setHeader('content-type', answer.headers.get('content-type') ?? 'application/json');
        res.send(Buffer.from(await answer.arrayBuffer()));
      } catch (err) {
        runtime.logger.warn({ err }, 'npm audit pass-through failed');
        res.status(502).json(errorBody('EUPSTREAM', `the upstream's audit endpoint could not be reached: ${(err as Error).message}`));
      }
    });
  }
  return router;
}

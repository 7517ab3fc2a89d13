import express, { NextFunction, Request, Response, Router } from 'express';
import { asGatekeeperError, errorBody, GatekeeperError } from '../core/errors';
import { can } from '../core/roles';
import type { GatekeeperRuntime } from '../server/runtime';
import { actorOf, principalOfRequest } from '../server/registry/identity';
import { openApiDocument } from './openapi';
import type { RouteDef } from './route';
import * as advisoryRoutes from './routes/advisories';
import * as identityRoutes from './routes/identity';
import * as licenseRoutes from './routes/licenses';
import * as policyRoutes from './routes/policy';
import * as publishingRoutes from './routes/publishing';
import * as requestRoutes from './routes/requests';
import * as systemRoutes from './routes/system';

export const ADMIN_PREFIX = '/-/gatekeeper/v1';

export const ROUTES: readonly RouteDef[] = [
  ...Object.values(systemRoutes),
  ...Object.values(identityRoutes),
  ...Object.values(policyRoutes),
  ...Object.values(publishingRoutes),
  ...Object.values(licenseRoutes),
  ...Object.values(requestRoutes),
  ...Object.values(advisoryRoutes),
];

function authorize(route: RouteDef, req: Request): void {
  if (route.access === 'public') return;
  const principal = principalOfRequest(req);
  if (!principal) {
    throw new GatekeeperError('EUNAUTHENTICATED', "this route needs a token: log in with 'gatekeeper login' or 'npm login'");
  }
  if (route.access !== 'authenticated' && !can(principal.role, route.access)) {
    throw new GatekeeperError('EFORBIDDEN', `${principal.username} (${principal.role}) may not call ${route.name}`);
  }
}

/** The one error handler: statuses come from the error code. */
export function adminErrorHandler(runtime: GatekeeperRuntime) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const known = asGatekeeperError(err);
    if (known) {
      res.status(known.status).json(known.toBody());
      return;
    }
    const parseError = err as { type?: string; status?: number };
    if (parseError?.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('EVALIDATION', 'the request body is not valid JSON'));
      return;
    }
    if (parseError?.type === 'entity.too.large') {
      res.status(413).json(errorBody('EPAYLOADTOOLARGE', 'the request body is too large'));
      return;
    }
    runtime.logger.error({ err }, 'admin API error');
    res.status(500).json(errorBody('EINTERNAL', 'an internal error occurred; the server log has the details'));
  };
}

export function createAdminRouter(runtime: GatekeeperRuntime, version: string): Router {
  const router = Router();
  router.use(express.json({ limit: '10mb' }));
  const document = openApiDocument(ROUTES, version);
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  for (const route of ROUTES) {
    router[route.method](route.path, (req: Request, res: Response, next: NextFunction) => {
      Promise.resolve()
        .then(async () => {
          authorize(route, req);
          const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
          const result = await route.handler({
            req,
            runtime,
            principal: principalOfRequest(req),
            actor: actorOf(req),
            params: req.params as Record<string, string>,
            query: Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, typeof v === 'string' ? v : undefined])),
            body,
          });
          res.setHeader('cache-control', 'no-store');
          res.status(result.status ?? 200).json(result.body);
        })
        .catch(next);
    });
  }
  router.use((req: Request, res: Response) => {
    res.status(404).json(errorBody('ENOTFOUND', `no admin route ${req.method} ${ADMIN_PREFIX}${req.path}; see ${ADMIN_PREFIX}/openapi.json`));
  });
  router.use(adminErrorHandler(runtime));
  return router;
}

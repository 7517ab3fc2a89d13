import type { Request, Response } from 'express';
import { GatekeeperError } from '../../core/errors';
import { writeError } from '../http/write-error';
import { principalOfRequest } from './identity';

/** GET /-/ping: liveness for npm ping and load balancers. */
export function ping(_req: Request, res: Response): void {
  res.setHeader('cache-control', 'no-store');
  res.status(200).json({});
}

/** GET /-/whoami (npm whoami): the route table has already required a login. */
export function whoami(req: Request, res: Response): void {
  res.setHeader('cache-control', 'no-store');
  res.status(200).json({ username: principalOfRequest(req)?.username });
}

/** A listed route this registry does not offer yet: refused with a code, never passed on. */
export function notOffered(what: string) {
  return (_req: Request, res: Response): void =>
    writeError(res, new GatekeeperError('EMETHODNOTALLOWED', `${what} is not offered by this registry. Use the gatekeeper CLI or admin API instead`));
}

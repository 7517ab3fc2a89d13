import type { Request } from 'express';
import type { Permission } from '../core/roles';
import type { Actor } from '../services/audit';
import type { Principal } from '../services/identity';
import type { GatekeeperRuntime } from '../server/runtime';

/**
 * One admin API route: its method, path, who may call it, and one handler. The express
 * router and the OpenAPI document are both built from the list of these.
 */
export interface RouteContext {
  req: Request;
  runtime: GatekeeperRuntime;
  principal: Principal | undefined;
  actor: Actor;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: Record<string, unknown>;
}

export interface RouteResult {
  status?: number;
  body: unknown;
  /** Response headers (the console's session cookie). */
  headers?: Record<string, string | string[]>;
}

export type Access = Permission | 'public' | 'authenticated';

export interface ParamDoc {
  name: string;
  description: string;
  /** A query parameter that is a flag: `true` or `false`, anything else is refused (400). */
  type?: 'boolean';
  /** The route refuses a request without it (400). A field needed only with or instead of another (expiresIn or expiresAt) is not marked. */
  required?: true;
}

export interface RouteDef {
  /** verb_resource, e.g. `list_approvals`; the OpenAPI operationId. */
  name: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path relative to /-/gatekeeper/v1, e.g. `/approvals/:id`. */
  path: string;
  access: Access;
  summary: string;
  /**
   * The statuses the route answers other than errors (which have the envelope and their own
   * status), with what each means: `{ 200: 'OK' }` when not given. The lowest is what a
   * handler's result without a status is sent with; the OpenAPI document lists them all.
   */
  responses?: Readonly<Record<number, string>>;
  /** Every query parameter the route takes: any other is refused (400), not ignored. */
  query?: ParamDoc[];
  body?: ParamDoc[];
  /**
   * For a route that is not a GET: whether this request only asks (a question in its body, no
   * write). A scoped token (a service account's) may call the admin API only for GETs and such
   * questions; its scope is about packages.
   */
  onlyAsks?(body: Record<string, unknown>): boolean;
  handler(ctx: RouteContext): Promise<RouteResult>;
}

/** A result sent with the route's success status (see RouteDef.responses), or `status`, one of them. */
export const ok = (body: unknown, status?: number): RouteResult => (status === undefined ? { body } : { status, body });

/** The responses of a route that creates what its body describes. */
export const CREATED: Readonly<Record<number, string>> = Object.freeze({ 201: 'Created' });

const OK: Readonly<Record<number, string>> = Object.freeze({ 200: 'OK' });

/** The statuses a route answers other than errors, by number. */
export function successStatuses(route: RouteDef): number[] {
  return Object.keys(route.responses ?? OK).map(Number).sort((a, b) => a - b);
}

/**
 * The same route for a scoped name written with a slash (`/packages/@scope/name/...`): express
 * matches `:name` as one segment, so such routes are declared twice; this makes the second.
 */
export function scopedVariant(route: RouteDef): RouteDef {
  return {
    ...route,
    name: route.name.replace(/_package/, '_scoped_package'),
    path: route.path.replace('/:name', '/:scope/:name'),
    summary: 'The same for a scoped name written with a slash (@scope/name)',
  };
}

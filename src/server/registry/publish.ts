import type { NextFunction, Request, Response } from 'express';
import { asGatekeeperError, errorBody } from '../../core/errors';
import type { Packument } from '../../core/packument';
import { parsePublishBody } from '../../core/publish';
import { parseWritePath, WritePath } from '../../core/registry-path';
import type { Actor } from '../../services/audit';
import type { GatekeeperRuntime, VerdaccioStorage } from '../runtime';
import { denyOnError } from './gate';
import { actorOf, principalOfRequest } from './identity';
import { readRawPackument } from './manifests';

/**
 * Registry writes, checked before Verdaccio performs them: publish (immutability,
 * permissions), unpublish (the unpublish policy), deprecate and dist-tags (permissions,
 * audit). Verdaccio does the storage work; we record the outcome when it answers.
 */

const succeeded = (res: Response) => res.statusCode >= 200 && res.statusCode < 300;

/**
 * Runs `fn` with whether Verdaccio's answer is a success, before that answer is sent: a
 * client that got 201 for a publish finds the version recorded as published.
 */
function beforeAnswer(res: Response, fn: (ok: boolean) => Promise<void>, runtime: GatekeeperRuntime): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  let called = false;
  res.end = ((...args: unknown[]) => {
    if (called) return end(...args);
    called = true;
    fn(succeeded(res))
      .catch((err) => runtime.logger.error({ err }, 'recording the outcome of a registry write failed'))
      .finally(() => end(...args));
    return res;
  }) as Response['end'];
}

async function storedVersions(runtime: GatekeeperRuntime, storage: VerdaccioStorage, name: string, req: Request): Promise<Packument | undefined> {
  return readRawPackument(runtime, storage, name, req).catch((err: { status?: number }) => {
    if (err?.status === 404) return undefined;
    throw err;
  });
}

export function createWriteGuard(runtime: GatekeeperRuntime, storage: VerdaccioStorage) {
  const { publishing } = runtime;

  async function publish(req: Request, res: Response, next: NextFunction, name: string, actor: Actor): Promise<void> {
    const body = req.body as { _attachments?: Record<string, unknown>; versions?: Record<string, Record<string, unknown>> } | undefined;
    const principal = principalOfRequest(req);
    if (body && body._attachments && Object.keys(body._attachments).length > 0) {
      const request = parsePublishBody(name, body);
      const reservation = await publishing.reserve(actor, principal, request);
      beforeAnswer(res, (ok) => (ok ? reservation.confirm() : reservation.release(`the registry answered ${res.statusCode}`)), runtime);
      return runtime.requestContext.run({ raw: true }, () => next());
    }
    // No tarball: a deprecation (or a star), based on an unfiltered write read.
    publishing.assertMayPublish(principal, name);
    const before = await storedVersions(runtime, storage, name, req);
    const changes = Object.entries(body?.versions ?? {})
      .filter(([version, manifest]) => before?.versions?.[version] && (before.versions[version].deprecated ?? '') !== (manifest?.deprecated ?? ''))
      .map(([version, manifest]) => ({ version, deprecated: (manifest?.deprecated as string | undefined) ?? '' }));
    beforeAnswer(
      res,
      async (ok) => {
        if (ok) for (const c of changes) await publishing.recordWrite(actor, 'package.deprecate', name, { message: c.deprecated }, c.version);
      },
      runtime,
    );
    runtime.requestContext.run({ raw: true }, () => next());
  }

  /** PUT /<name>/-rev/<rev>: the stored document minus the versions being unpublished. */
  async function change(req: Request, res: Response, next: NextFunction, name: string, actor: Actor): Promise<void> {
    const principal = principalOfRequest(req);
    const before = await storedVersions(runtime, storage, name, req);
    const kept = new Set(Object.keys((req.body as { versions?: object } | undefined)?.versions ?? {}));
    const removed = Object.keys(before?.versions ?? {}).filter((v) => !kept.has(v));
    await publishing.assertMayUnpublish(principal, name, removed);
    beforeAnswer(res, async (ok) => (ok && removed.length > 0 ? publishing.recordUnpublished(actor, name, removed) : undefined), runtime);
    runtime.requestContext.run({ raw: true }, () => next());
  }

  async function unpublish(req: Request, res: Response, next: NextFunction, name: string, actor: Actor): Promise<void> {
    const before = await storedVersions(runtime, storage, name, req);
    const all = Object.keys(before?.versions ?? {});
    await publishing.assertMayUnpublish(principalOfRequest(req), name, all);
    beforeAnswer(res, async (ok) => (ok ? publishing.recordUnpublished(actor, name, all) : undefined), runtime);
    next();
  }

  async function removeTarball(req: Request, next: NextFunction, target: Extract<WritePath, { kind: 'remove-tarball' }>): Promise<void> {
    const principal = principalOfRequest(req);
    publishing.assertMayPublish(principal, target.name);
    // npm removes the tarball right after the version; a version still published needs the unpublish policy.
    const record = target.version ? await publishing.versionState(target.name, target.version) : undefined;
    if (record?.state !== 'unpublished' && target.version) await publishing.assertMayUnpublish(principal, target.name, [target.version]);
    next();
  }

  async function distTag(req: Request, res: Response, next: NextFunction, target: Extract<WritePath, { kind: 'dist-tag' }>, actor: Actor): Promise<void> {
    publishing.assertMayPublish(principalOfRequest(req), target.name);
    const version = typeof req.body === 'string' ? req.body : undefined;
    beforeAnswer(
      res,
      async (ok) => {
        if (ok) await publishing.recordWrite(actor, 'package.dist_tag', target.name, { op: req.method === 'DELETE' ? 'rm' : 'add', tag: target.tag ?? null, body: req.body ?? null }, version);
      },
      runtime,
    );
    next();
  }

  return async function guardWrites(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.method !== 'PUT' && req.method !== 'DELETE' && req.method !== 'POST') return next();
    let target: WritePath | undefined;
    try {
      target = parseWritePath(req.method, req.path);
    } catch (err) {
      return denyOnError(runtime, res, err, req.path);
    }
    if (!target) return next();
    const actor = actorOf(req);
    const written = target.name;
    // The stored package changes: drop its cached responses before the client hears back.
    beforeAnswer(
      res,
      async (ok) => {
        if (!ok) return;
        runtime.packuments.invalidate(written);
        // Its versions may be gone (unpublish): no decision about them may be reused.
        runtime.governance.cache.forget(written);
      },
      runtime,
    );
    try {
      switch (target.kind) {
        case 'publish':
          return await publish(req, res, next, target.name, actor);
        case 'change':
          return await change(req, res, next, target.name, actor);
        case 'unpublish':
          return await unpublish(req, res, next, target.name, actor);
        case 'remove-tarball':
          return await removeTarball(req, next, target);
        case 'dist-tag':
          return await distTag(req, res, next, target, actor);
      }
    } catch (err) {
      const known = asGatekeeperError(err);
      if (known && target.kind !== 'publish') {
        await publishing.recordRefusedWrite(actor, `package.${target.kind.replace('-', '_')}`, target.name, known).catch(() => undefined);
      }
      if (known) {
        res.status(known.status).setHeader('cache-control', 'no-store');
        res.json(known.toBody());
        return;
      }
      runtime.logger.error({ err, path: req.path }, 'registry write check failed; refusing');
      res.status(503).json(errorBody('EPOLICYUNAVAILABLE', `the write to ${target.name} could not be checked (${(err as Error).message}); nothing was changed`));
    }
  };
}

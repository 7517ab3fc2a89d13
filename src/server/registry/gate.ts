import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { convertDistRemoteToLocalTarballUrls } from '@verdaccio/tarball';
import { asGatekeeperError, errorBody, ErrorCode, statusOf } from '../../core/errors';
import fs from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../../core/duration';
import { abbreviatePackument, hiddenNotice, Packument, representativeDecision, toHeaderValue, warningNotice } from '../../core/packument';
import { buildResponse, CachedResponse, cacheKey, storageRevision } from './packument-cache';
import { blockMessage, Decision, VersionManifest } from '../../core/policy';
import { parseRegistryPath, RegistryPath } from '../../core/registry-path';
import { can } from '../../core/roles';
import type { Actor } from '../../services/audit';
import type { GatekeeperRuntime, VerdaccioStorage } from '../runtime';
import { actorOf, principalOfRequest } from './identity';
import { readRawPackument } from './manifests';

/**
 * The gate: every packument, version and tarball read passes through here before
 * Verdaccio's own routes. It reads the unfiltered packument from Verdaccio's storage
 * (which syncs the upstream), decides every version with one policy snapshot, and answers
 * itself. Any error while deciding denies: nothing unfiltered leaves on an error.
 */

const ABBREVIATED = 'application/vnd.npm.install-v1+json';

export function wantsAbbreviated(accept: string | undefined): boolean {
  if (!accept) return false;
  // npm sends "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
  const first = accept.split(',')[0].split(';')[0].trim();
  return first === ABBREVIATED;
}

export function sendError(res: Response, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(statusOf(code)).setHeader('cache-control', 'no-store');
  res.json(errorBody(code, message, details));
}

/** Maps any error on a gate path to a refusal. Unknown errors become EPOLICYUNAVAILABLE. */
export function denyOnError(runtime: GatekeeperRuntime, res: Response, err: unknown, what: string): void {
  const known = asGatekeeperError(err);
  if (known) {
    sendError(res, known.code, known.message, known.details);
    return;
  }
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (status === 404) {
    sendError(res, 'ENOTFOUND', `${what} is not in this registry or its upstream`);
    return;
  }
  if (typeof status === 'number' && status >= 500) {
    runtime.logger.warn({ err, what }, 'upstream or storage error on a gate path');
    sendError(res, 'EUPSTREAM', `${what} could not be read from storage or the upstream (${(err as Error).message}); try again later`);
    return;
  }
  runtime.logger.error({ err, what }, 'gate failed; denying');
  sendError(
    res,
    'EPOLICYUNAVAILABLE',
    `the gatekeeper could not decide on ${what} (${(err as Error)?.message ?? 'unknown error'}); nothing is served until it can`,
  );
}

function localTarballUrls(runtime: GatekeeperRuntime, packument: Packument, req: Request): Packument {
  return convertDistRemoteToLocalTarballUrls(
    packument as never,
    { protocol: req.protocol, headers: req.headers as Record<string, string>, host: req.hostname, remoteAddress: req.socket.remoteAddress },
    undefined,
  ) as unknown as Packument;
}

function refuse(runtime: GatekeeperRuntime, res: Response, actor: Actor, decision: Decision, via: 'packument' | 'tarball' | 'version'): void {
  runtime.governance.recordBlocked(actor, decision, via);
  sendError(res, decision.code as ErrorCode, blockMessage(decision), { rule: decision.ruleId, package: decision.name, version: decision.version });
}

/**
 * Streams a tarball that Verdaccio has stored, once the gate has allowed it. Returns false
 * when it is not stored yet (Verdaccio then fetches it from the upstream and stores it).
 * Plain Verdaccio re-reads the packument for every tarball when a filter plugin is loaded;
 * this does not.
 */
export function sendStoredTarball(storageDir: string, name: string, filename: string, req: IncomingMessage, res: ServerResponse): boolean {
  if (filename.includes('/') || filename.includes('\\') || filename.startsWith('.')) return false;
  const file = path.join(storageDir, name, filename);
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return false;
    size = stat.size;
  } catch {
    return false;
  }
  res.statusCode = 200;
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', size);
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
  return true;
}

/** Writes a cached packument response: ETag/304, gzip when the client accepts it, HEAD. */
export function sendCached(req: IncomingMessage, res: ServerResponse, entry: CachedResponse, actor: Actor, governance: GatekeeperRuntime['governance']): void {
  if (entry.blocked) governance.recordBlocked(actor, entry.blocked as Decision, 'packument');
  if (entry.warned) governance.recordWarned(actor, entry.warned as Decision[], 'packument');
  res.statusCode = entry.status;
  for (const [key, value] of Object.entries(entry.headers)) res.setHeader(key, value);
  res.setHeader('etag', entry.etag);
  res.setHeader('vary', 'accept, accept-encoding');
  if (entry.status === 200 && req.headers['if-none-match'] === entry.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const body = gzip ? entry.gzip : entry.body;
  if (gzip) res.setHeader('content-encoding', 'gzip');
  res.setHeader('content-length', body.length);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * The fast path: an anonymous read of a packument whose response is cached and current is
 * answered straight from the HTTP server, before express and Verdaccio's middleware. It
 * makes the same checks as the gate (policy trusted, generation, storage revision, expiry)
 * and returns false for anything else, which then takes the full path, including every
 * refusal: it can only serve what the gate itself put in the cache.
 */
export function createFastPath(runtime: GatekeeperRuntime) {
  const storageDir = path.join(runtime.settings.dataDir, 'storage');
  return function fastPath(req: IncomingMessage, res: ServerResponse): boolean {
    try {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || req.headers.authorization || runtime.settings.requireAuth) return false;
      const url = req.url ?? '';
      if (url.includes('?') || url.startsWith('/-/')) return false;
      const target = parseRegistryPath(url);
      if (!target || !runtime.governance.cache.healthy) return false;
      if (target.kind === 'tarball') {
        // Only a version the gate has already decided and allowed without anything to say.
        if (!target.version) return false;
        const decision = runtime.governance.cache.peek(runtime.governance.cache.current(), target.name, target.version);
        if (!decision || !decision.allowed || decision.warnings.length > 0) return false;
        return sendStoredTarball(storageDir, target.name, target.filename, req, res);
      }
      if (target.kind !== 'packument') return false;
      const generation = runtime.governance.cache.current().generation;
      const key = cacheKey(target.name, wantsAbbreviated(req.headers.accept), `http://${req.headers.host ?? ''}`);
      const entry = runtime.packuments.lookup(key, generation, storageRevision(storageDir, target.name), Date.now(), false);
      if (!entry) return false;
      sendCached(req, res, entry, { username: '$anonymous', ip: req.socket.remoteAddress ?? null }, runtime.governance);
      return true;
    } catch {
      return false;
    }
  };
}

export function createGate(runtime: GatekeeperRuntime, storage: VerdaccioStorage) {
  const { governance } = runtime;

  const storageDir = path.join(runtime.settings.dataDir, 'storage');
  const maxageMs = parseDuration(runtime.settings.upstreamMaxage);

  /** Reads, filters, serialises and compresses a packument response once. */
  async function buildPackument(req: Request, name: string, abbreviated: boolean): Promise<CachedResponse> {
    const raw = await readRawPackument(runtime, storage, name, req, true);
    const uplinks = raw._uplinks as Record<string, { fetched?: number }> | undefined;
    delete raw._uplinks;
    const revision = storageRevision(storageDir, name);
    await governance.prepare(raw);
    const generation = governance.cache.current().generation;
    const { packument, hidden, allowed, validUntil, warned } = governance.filterPackument(raw);
    const fetched = Object.values(uplinks ?? {}).map((u) => u.fetched ?? 0);
    const upstreamExpiry = fetched.length > 0 ? Math.min(...fetched) + maxageMs : Infinity;
    const expiresAt = Math.min(upstreamExpiry, validUntil ?? Infinity);
    const meta = { generation, revision, expiresAt };
    if (allowed.length === 0 && hidden.length > 0) {
      const decision = representativeDecision(raw, hidden) as Decision;
      const others = hidden.length > 1 ? ` (all ${hidden.length} versions are blocked)` : '';
      const body = errorBody(decision.code as ErrorCode, `${blockMessage(decision)}${others}`, { rule: decision.ruleId, package: name });
      return buildResponse(statusOf(decision.code as ErrorCode), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, JSON.stringify(body), {
        ...meta,
        blocked: decision,
      });
    }
    const local = localTarballUrls(runtime, packument, req);
    const headers: Record<string, string> = {
      'content-type': abbreviated ? `${ABBREVIATED}; charset=utf-8` : 'application/json; charset=utf-8',
    };
    const notices = [hiddenNotice(name, hidden), warningNotice(name, warned)].filter((n): n is string => n !== undefined);
    if (notices.length > 0) {
      // npm prints npm-notice only for responses it does not store in its cache.
      headers['npm-notice'] = toHeaderValue(notices.join(' | '));
      headers['cache-control'] = 'no-store';
    }
    return buildResponse(200, headers, JSON.stringify(abbreviated ? abbreviatePackument(local) : local), { ...meta, warned: warned.map((w) => w.decision) });
  }

  async function servePackument(req: Request, res: Response, target: Extract<RegistryPath, { kind: 'packument' }>, actor: Actor): Promise<void> {
    const abbreviated = wantsAbbreviated(req.get('accept'));
    const key = cacheKey(target.name, abbreviated, `${req.protocol}://${req.get('host') ?? ''}`);
    const generation = governance.cache.current().generation; // EPOLICYUNAVAILABLE when it must not be trusted
    const cached = runtime.packuments.lookup(key, generation, storageRevision(storageDir, target.name), Date.now());
    const entry = cached ?? (await runtime.packuments.build(key, () => buildPackument(req, target.name, abbreviated)));
    sendCached(req, res, entry, actor, governance);
  }

  async function serveVersion(req: Request, res: Response, target: Extract<RegistryPath, { kind: 'version' }>, actor: Actor): Promise<void> {
    const raw = await readRawPackument(runtime, storage, target.name, req);
    await governance.prepare(raw);
    const { packument, hidden } = governance.filterPackument(raw);
    const version = packument.versions?.[target.spec] ? target.spec : packument['dist-tags']?.[target.spec];
    if (version && packument.versions?.[version]) {
      const local = localTarballUrls(runtime, { ...packument, versions: { [version]: packument.versions[version] } }, req);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.status(200).send(JSON.stringify(local.versions?.[version]));
      return;
    }
    const blocked = hidden.find((h) => h.version === target.spec);
    if (blocked) {
      refuse(runtime, res, actor, blocked.decision, 'version');
      return;
    }
    sendError(res, 'ENOTFOUND', `${target.name} has no version or tag '${target.spec}'`);
  }

  async function decideTarball(req: Request, target: Extract<RegistryPath, { kind: 'tarball' }>): Promise<Decision | undefined> {
    const version = target.version as string;
    const policy = governance.cache.current();
    const cached = governance.cache.peek(policy, target.name, version);
    if (cached) return cached;
    const raw = await readRawPackument(runtime, storage, target.name, req);
    if (!raw.versions?.[version]) return undefined;
    await governance.prepare(raw);
    return governance.decide(target.name, version, raw);
  }

  return async function gate(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let target: RegistryPath | undefined;
    try {
      target = parseRegistryPath(req.path);
    } catch (err) {
      return denyOnError(runtime, res, err, req.path);
    }
    if (!target) return next();

    const principal = principalOfRequest(req);
    const actor = actorOf(req);
    if (runtime.settings.requireAuth && !principal) {
      return sendError(res, 'EUNAUTHENTICATED', `this registry requires a login; run 'npm login --registry ${runtime.publicUrl(req)}'`);
    }
    if (principal && !can(principal.role, 'install')) {
      return sendError(res, 'EFORBIDDEN', `${principal.username} may not install packages`);
    }

    const what = target.kind === 'tarball' ? `${target.name}@${target.version ?? target.filename}` : target.name;
    try {
      switch (target.kind) {
        case 'packument':
          if (req.query.write === 'true' && runtime.publishing.mayPublish(principal, target.name)) {
            // The unfiltered document, so a write based on it cannot drop hidden versions.
            runtime.requestContext.run({ raw: true }, () => next());
            return;
          }
          return await servePackument(req, res, target, actor);
        case 'version':
          return await serveVersion(req, res, target, actor);
        case 'tarball': {
          if (!target.version) return sendError(res, 'ENOTFOUND', `${target.filename} is not a tarball of ${target.name}`);
          const decision = await decideTarball(req, target);
          if (!decision) return sendError(res, 'ENOTFOUND', `${target.name}@${target.version} is not in this registry or its upstream`);
          if (!decision.allowed) return refuse(runtime, res, actor, decision, 'tarball');
          if (decision.warnings.length > 0) {
            governance.recordWarned(actor, [decision], 'tarball');
            res.setHeader('npm-notice', toHeaderValue(`gatekeeper: warning: ${decision.warnings.map((w) => w.reason).join('; ')}`));
          }
          if (sendStoredTarball(storageDir, target.name, target.filename, req, res)) return;
          runtime.requestContext.run({ raw: true }, () => next());
          return;
        }
      }
    } catch (err) {
      denyOnError(runtime, res, err, what);
    }
  };
}


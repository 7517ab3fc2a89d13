import { databaseFailure } from '../../db/errors';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import type { NextFunction, Request, Response } from 'express';
import { convertDistRemoteToLocalTarballUrls } from '@verdaccio/tarball';
import { asGatekeeperError, ErrorCode, GatekeeperError, httpError } from '../../core/errors';
import { versionFromTarball } from '../../core/names';
import { markErrorCode, writeError } from '../http/write-error';
import { RegistryMatch, routeOf, unsupportedCommand } from './routes';
import { parseDuration, parseSize } from '../../core/duration';
import { can } from '../../core/roles';
import { sendTarballEntry, TarballCache, TarballEntry, tarballKey, tarballStorageKey } from './tarball-cache';
import type { HotPathReads, PackageStorage, StorageStat } from '../../core/storage';
import { abbreviatePackument, dependencyNames, installNotice, Packument, policyRestrictions, representativeDecision, toHeaderValue, versionWarnings } from '../../core/packument';
import { addInstallNotices } from './notices';
import { buildResponse, CachedResponse, cacheKey } from './packument-cache';
import { Audience, audienceOf, blockMessage, blockParts, Decision } from '../../core/policy';
import { inspectTarball } from '../../core/manifest-compare';
import { matchesIntegrity } from '../../core/integrity';
import { integrityOf as integrityOfBytes } from '../../core/publish';
import { readTarballManifestAsync } from '../../core/tarball-manifest';
import type { Actor } from '../../services/audit';
import { isSessionValue } from '../../services/sessions';
import type { GatekeeperRuntime, VerdaccioStorage } from '../runtime';
import { actorOf, principalOfRequest } from './identity';
import { readRawPackument, readStoredVersion, standInRequest } from './manifests';
import { DependencyPrefetcher, PrefetchStats, WarmContext } from './prefetch';
import { thenSentence } from '../../core/text';
import { scopeAllowsWrite } from '../../core/sso';
import { acceptsGzip, etagMatches, REVALIDATE, REVALIDATE_TARBALL, UNSTORED_TARBALL } from '../http/conditional';

/**
 * The gate: the handlers of the registry's read routes (packument, version, tarball,
 * dist-tags; see routes.ts). Each reads the unfiltered packument from Verdaccio's storage
 * (which syncs the upstream), decides every version with one policy snapshot, and answers
 * itself. Any error while deciding denies: nothing unfiltered leaves on an error.
 */

const ABBREVIATED = 'application/vnd.npm.install-v1+json';

export function wantsAbbreviated(accept: string | undefined): boolean {
  if (!accept) return false;
  // npm sends "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
  // The first media type, without splitting the header (every packument request asks).
  const start = accept.length - accept.trimStart().length;
  if (!accept.startsWith(ABBREVIATED, start)) return false;
  const rest = accept.slice(start + ABBREVIATED.length).trimStart();
  return rest === '' || rest[0] === ',' || rest[0] === ';';
}

/** A refusal of a gate path, written by the one error writer. */
export function sendError(res: Response, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
  writeError(res, new GatekeeperError(code, message, details));
}

/** Maps any error on a gate path to a refusal. Unknown errors become EPOLICYUNAVAILABLE. */
export function denyOnError(runtime: GatekeeperRuntime, res: Response, err: unknown, what: string): void {
  writeError(res, gateError(runtime, err, what));
}

export function gateError(runtime: GatekeeperRuntime, err: unknown, what: string): GatekeeperError {
  const known = asGatekeeperError(err);
  if (known) return known;
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (status === 404) return new GatekeeperError('ENOTFOUND', `${what} is not in this registry or its upstream. Check the name`);
  const database = databaseFailure(err);
  if (database) {
    runtime.logger.error({ err, what }, 'the database failed on a gate path; denying');
    return new GatekeeperError(database.code, `the gatekeeper could not decide on ${what}: ${database.message}`);
  }
  if (typeof status === 'number' && status >= 500) {
    runtime.logger.warn({ err, what }, 'upstream or storage error on a gate path');
    return new GatekeeperError('EUPSTREAM', `${what} could not be read from storage or the upstream. Try again later; the server log has the details`);
  }
  // An unexpected error's own text (a database statement, a stack's message) stays in the log.
  runtime.logger.error({ err, what }, 'gate failed; denying');
  return new GatekeeperError(
    'EPOLICYUNAVAILABLE',
    `the gatekeeper could not decide on ${what} (an internal error, in the server log); nothing is served until it can. Try again later or ask an admin to check /-/gatekeeper/v1/health`,
  );
}

/**
 * A decision's refusal as an error: code, message with the next step for its audience, details,
 * and the message in parts for a status text too short for all of it (the reason or a brief
 * form of it, the whole next step, then the console's page and the suffix while they fit).
 */
export function refusalOf(decision: Decision, suffix = '', publicUrl?: string, audience: Audience = 'developer'): GatekeeperError {
  const { reason, what, next, link } = blockParts(decision, publicUrl, audience);
  return new GatekeeperError(
    decision.code as ErrorCode,
    `${thenSentence(reason, next)}${link}${suffix}`,
    { rule: decision.ruleId, package: decision.name, version: decision.version },
    { short: { what, next, more: [link, suffix] } },
  );
}

function localTarballUrls(runtime: GatekeeperRuntime, packument: Packument, req: Request): Packument {
  // Only the Host header goes to Verdaccio's URL code: it would take X-Forwarded-Proto from any
  // client, and the response is cached for everyone under express's req.protocol, which
  // believes that header only from GATEKEEPER_TRUST_PROXY.
  const headers: Record<string, string> = req.headers.host === undefined ? {} : { host: req.headers.host };
  return convertDistRemoteToLocalTarballUrls(packument as never, { protocol: req.protocol, headers, host: req.hostname, remoteAddress: req.socket.remoteAddress }, undefined) as unknown as Packument;
}

function refuse(runtime: GatekeeperRuntime, res: Response, actor: Actor, decision: Decision, via: 'packument' | 'tarball' | 'version'): void {
  runtime.governance.recordBlocked(actor, decision, via);
  writeError(res, refusalOf(decision, '', runtime.publicUrl(res.req), audienceOf(principalOfRequest(res.req)?.role)));
}

/** A first fetch's answer: the bytes and the decision they are sent under, and their ETag. */
interface FetchedTarball {
  bytes: Buffer;
  decision: Decision;
  etag: string;
}

const TARBALL_CACHES = new WeakMap<GatekeeperRuntime, TarballCache>();

/**
 * The publish records' integrities of private versions that have no inspection (published
 * before inspections were recorded, or whose record failed), per runtime, by `name@version`:
 * read from the database once, for the full path and the fast path alike.
 */
const RECORDED_INTEGRITIES = new WeakMap<GatekeeperRuntime, Map<string, string>>();
const MAX_RECORDED_INTEGRITIES = 10_000;

function recordedIntegritiesOf(runtime: GatekeeperRuntime): Map<string, string> {
  let held = RECORDED_INTEGRITIES.get(runtime);
  if (!held) RECORDED_INTEGRITIES.set(runtime, (held = new Map()));
  return held;
}

/** The runtime's tarball cache (GATEKEEPER_TARBALL_CACHE_SIZE), made on first use. */
export function tarballCacheOf(runtime: GatekeeperRuntime): TarballCache {
  let cache = TARBALL_CACHES.get(runtime);
  if (!cache) {
    const made = new TarballCache(parseSize(runtime.settings.tarballCacheSize));
    // Every write to a package (publish, unpublish, a removed tarball) drops its responses: its tarballs go too.
    runtime.packuments.onInvalidate((name) => made.invalidate(name));
    TARBALL_CACHES.set(runtime, made);
    cache = made;
  }
  return cache;
}

/**
 * Sends a tarball that is in storage, once the gate has allowed it: from memory when it is
 * small and was read before under the package's current storage revision, else read or
 * streamed from storage (see tarball-cache.ts); with ETag and Last-Modified, 304 on a
 * conditional request. Returns false when it is not stored (the gate then fetches it), or
 * when it no longer matches `expected`, the integrity it was verified against when it was
 * fetched or published (its inspection's): the gate then fetches it again.
 */
export function sendStoredTarball(
  cache: TarballCache,
  storage: HotPathReads,
  name: string,
  filename: string,
  req: IncomingMessage,
  res: ServerResponse,
  fast = false,
  expected?: string,
): boolean {
  const key = tarballKey(name, filename);
  // The fast path trusts a held entry: any write to the package drops it (see tarballCacheOf).
  const inMemory = fast ? cache.lookup(key) : undefined;
  if (inMemory?.bytes) return sendTarballEntry(req, res, inMemory);
  const stored = tarballStorageKey(name, filename);
  if (!stored) return false;
  const revision = storage.revision(name);
  const held = cache.lookup(key, revision);
  if (held && sendEntry(held)) return true;
  // Not held, or held for another object than the one stored now (replaced, or written in
  // place): read afresh, and checked again (see TarballCache.read).
  if (held) cache.invalidateKey(key);
  const entry = cache.read(storage, stored, revision, expected);
  if (!entry) return false;
  cache.store(key, entry);
  return sendEntry(entry);

  function sendEntry(known: TarballEntry): boolean {
    return sendTarballEntry(
      req,
      res,
      known,
      (etag, at) => {
        if (cache.lookup(key, revision) === known) cache.store(key, { ...known, etag, verifiedAt: at });
      },
      () => {
        // Changed in storage since it was verified: the next request fetches it again.
        cache.reject(known.key, known.identity);
        if (cache.lookup(key, revision) === known) cache.invalidateKey(key);
      },
    );
  }
}

/**
 * Stores an allowed upstream tarball (written atomically by the package storage). No lock:
 * every writer of an upstream tarball writes the same verified bytes, and the package's
 * document is not touched.
 */
export async function storeTarball(storage: PackageStorage, name: string, filename: string, bytes: Buffer): Promise<{ key: string; stat: StorageStat } | undefined> {
  const key = tarballStorageKey(name, filename);
  if (!key) return undefined;
  // A copy of the upstream's bytes: fetched again if a crash loses it.
  return { key, stat: await storage.put(key, bytes, { durable: false }) };
}

/** A tarball's first fetch (not stored yet): 304 when the client holds these bytes already, as for a stored one. */
function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, etag: string): void {
  res.setHeader('etag', etag);
  res.setHeader('cache-control', res.hasHeader('npm-notice') ? UNSTORED_TARBALL : REVALIDATE_TARBALL);
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', bytes.length);
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** Writes a cached packument response: ETag/304, gzip when the client accepts it, HEAD. */
export function sendCached(
  req: IncomingMessage,
  res: ServerResponse,
  entry: CachedResponse,
  actor: Actor,
  governance: GatekeeperRuntime['governance'],
  runtime?: GatekeeperRuntime,
): void {
  if (entry.blocked) {
    governance.recordBlocked(actor, entry.blocked as Decision, 'packument');
    // A cached refusal is written here, not by the error writer: its code is counted all the same.
    markErrorCode(res, (entry.blocked as Decision).code as ErrorCode);
  }
  if (entry.warned && entry.warned.length > 0) governance.recordWarned(actor, entry.warned as Decision[], 'packument');
  res.statusCode = entry.status;
  if (entry.statusText) res.statusMessage = entry.statusText;
  for (const [key, value] of Object.entries(entry.headers)) res.setHeader(key, value);
  // Not part of the cached entry: whether this install was told yet that the advisory source is down.
  if (entry.status === 200 && runtime) addInstallNotices(runtime, req, res);
  res.setHeader('etag', entry.etag);
  res.setHeader('vary', 'accept, accept-encoding');
  if (entry.status === 200 && etagMatches(req.headers['if-none-match'], entry.etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  if (gzip) res.setHeader('content-encoding', 'gzip');
  res.setHeader('content-length', gzip ? entry.gzip.length : entry.length);
  if (req.method === 'HEAD') res.end();
  else if (gzip) res.end(entry.gzip);
  else if (entry.body) res.end(entry.body);
  else sendDecompressed(res, entry.gzip);
}

/** A large cached body to a client that does not accept gzip: decompressed as it is sent. */
function sendDecompressed(res: ServerResponse, gzip: Buffer): void {
  const gunzip = createGunzip();
  // Our own gzip does not fail to decompress; if it did, the response is cut short, not finished wrong.
  gunzip.on('error', () => res.destroy());
  gunzip.pipe(res);
  gunzip.end(gzip);
}

const PREFETCHERS = new WeakMap<GatekeeperRuntime, DependencyPrefetcher>();

/** The warm-ahead's counts, for /health (undefined before the read handlers exist). */
export function prefetchStats(runtime: GatekeeperRuntime): PrefetchStats | undefined {
  return PREFETCHERS.get(runtime)?.stats();
}

/** Starts no more warm-ahead builds (the instance is closing). */
export function stopPrefetch(runtime: GatekeeperRuntime): void {
  PREFETCHERS.get(runtime)?.close();
}

/**
 * A response was served to a client: the dependencies it names are warmed ahead once
 * (prefetch.ts), for that client's origin, form and audience.
 */
function warmAhead(runtime: GatekeeperRuntime, entry: CachedResponse, context: WarmContext): void {
  const names = entry.warmAhead;
  if (!names) return;
  entry.warmAhead = undefined;
  PREFETCHERS.get(runtime)?.warm(names, context);
}

/**
 * The caller of a request the fast path may answer: anonymous (unless GATEKEEPER_REQUIRE_AUTH),
 * or a Bearer token the token cache holds (trusted only while its invalidation channel is
 * connected) whose role may install, exactly as checkAccess decides for `read` routes.
 * Undefined: the full path decides, and writes any refusal. Basic credentials always take
 * the full path (a password check per request, throttled).
 */
function fastCaller(runtime: GatekeeperRuntime, req: IncomingMessage): (Actor & { audience: Audience }) | undefined {
  const header = req.headers.authorization;
  const ip = runtime.clientAddress(req);
  if (!header) return runtime.settings.requireAuth ? undefined : { username: '$anonymous', ip, audience: 'developer' };
  if (header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  // A console session is no Bearer token (the full path refuses it); the token cache holds sessions too.
  if (!token || isSessionValue(token)) return undefined;
  const principal = runtime.identity.cachedPrincipal(token);
  if (!principal || !can(principal.role, 'install')) return undefined;
  return { username: principal.username, ip, audience: audienceOf(principal.role) };
}

/**
 * The fast path: a read of a packument whose response is cached and current, or of a tarball
 * whose version the gate has already decided and allowed, is answered straight from the HTTP
 * server, before express and Verdaccio's middleware, for anonymous callers and for Bearer
 * tokens in the token cache alike (see fastCaller). It makes the same checks as the gate
 * (policy trusted, generation, storage revision, expiry) and returns false for anything else,
 * which then takes the full path, including every refusal: it can only serve what the gate
 * itself put in the caches.
 */
export function createFastPath(runtime: GatekeeperRuntime) {
  const { storage } = runtime;
  const tarballs = tarballCacheOf(runtime);
  return function fastPath(req: IncomingMessage, res: ServerResponse, match: RegistryMatch): boolean {
    try {
      const handler = match.route.handler;
      if ((handler !== 'packument' && handler !== 'tarball') || match.query.size > 0 || !runtime.governance.cache.healthy || runtime.governance.cache.stale) return false;
      // npm owner ls reads the packument too; the full path refuses it (see the packument handler).
      if (req.headers['npm-command'] === 'owner') return false;
      const actor = fastCaller(runtime, req);
      if (!actor) return false;
      const name = match.params.package;
      if (handler === 'tarball') {
        // Only a version the gate has already decided and allowed without anything to say.
        const version = versionFromTarball(name, match.params.filename);
        if (!version) return false;
        const decision = runtime.governance.cache.peek(runtime.governance.cache.current(), name, version);
        if (!decision || !decision.allowed || decision.warnings.length > 0) return false;
        // A stored copy is served only with the integrity its bytes are checked against held:
        // its inspection's (see inspected()), or a private version's publish record's (see
        // publishedIntegrity()). The full path reads them.
        const expected = runtime.inspections.known(name, version)?.integrity ?? (runtime.publishing.isPrivate(name) ? recordedIntegritiesOf(runtime).get(`${name}@${version}`) : undefined);
        if (!expected) return false;
        return sendStoredTarball(tarballs, storage, name, match.params.filename, req, res, true, expected);
      }
      const generation = runtime.governance.cache.current().generation;
      const abbreviated = wantsAbbreviated(req.headers.accept);
      const protocol = runtime.requestProtocol(req);
      const key = cacheKey(name, abbreviated, `${protocol}://${req.headers.host ?? ''}`, actor.audience);
      const entry = runtime.packuments.lookup(key, generation, storage.revision(name), Date.now(), false);
      if (!entry) return false;
      sendCached(req, res, entry, { username: actor.username, ip: actor.ip }, runtime.governance, runtime);
      if (entry.warmAhead) warmAhead(runtime, entry, { protocol, host: req.headers.host ?? '', abbreviated, audience: actor.audience });
      return true;
    } catch {
      return false;
    }
  };
}

/** The read handlers of the route table: packument, version, tarball, dist-tags. */
export function createReadHandlers(runtime: GatekeeperRuntime, storage: VerdaccioStorage) {
  const { governance } = runtime;

  const packages = runtime.storage;
  const tarballs = tarballCacheOf(runtime);
  const recordedIntegrities = recordedIntegritiesOf(runtime);
  const maxageMs = parseDuration(runtime.settings.upstreamMaxage);
  // The key a client's request in that context computes (servePackument, the fast path).
  const warmKey = (name: string, c: WarmContext) => cacheKey(name, c.abbreviated, `${c.protocol}://${c.host}`, c.audience);
  const prefetcher = new DependencyPrefetcher({
    concurrency: runtime.settings.prefetchDependencies,
    keyOf: warmKey,
    // Stored packages are read from storage when asked for, and private ones are never proxied.
    skip: (name) => packages.revision(name) !== 'absent' || runtime.publishing.isPrivate(name),
    build: async (name, c) => {
      const key = warmKey(name, c);
      const generation = governance.cache.current().generation;
      if (runtime.packuments.lookup(key, generation, packages.revision(name), Date.now(), false)) return;
      await runtime.packuments.build(key, () => buildPackument(standInRequest(c), name, c.abbreviated, c.audience));
    },
  });
  PREFETCHERS.set(runtime, prefetcher);

  /**
   * On a package's first sight, what deciding it needs besides the packument (the advisories
   * and tarball inspections the database holds) is loaded while the packument is fetched, not
   * after it; concurrent first sights share one query (governance.prepare then finds it).
   */
  function preload(name: string): void {
    runtime.advisories.preload(name);
    runtime.inspections.prepare(name).catch(() => undefined);
  }

  /** Reads, filters, serialises and compresses a packument response once. */
  async function buildPackument(req: Request, name: string, abbreviated: boolean, audience: Audience): Promise<CachedResponse> {
    preload(name);
    const raw = await readRawPackument(runtime, storage, name, req, true);
    const uplinks = raw._uplinks as Record<string, { fetched?: number }> | undefined;
    delete raw._uplinks;
    const revision = packages.revision(name);
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
      const refusal = httpError(refusalOf(decision, others, runtime.publicUrl(req), audience));
      return buildResponse(refusal.status, refusal.headers, JSON.stringify(refusal.body), { ...meta, statusText: refusal.statusText, blocked: decision });
    }
    const local = localTarballUrls(runtime, packument, req);
    // npm tells why a version it was asked for is hidden (see policyRestrictions), instead of "No matching version".
    const publicUrl = runtime.publicUrl(req);
    const restrictions = policyRestrictions(name, hidden, (decision) => blockMessage(decision, publicUrl, audience));
    // npm acts on these two itself: only the gate's restrictions, and never staged versions (nothing decided them), whatever storage holds.
    const { stagedVersions: _staged, policyRestrictions: _restrictions, ...rest } = local;
    const served: Packument = restrictions ? { ...rest, policyRestrictions: restrictions } : rest;
    const headers: Record<string, string> = {
      'content-type': abbreviated ? `${ABBREVIATED}; charset=utf-8` : 'application/json; charset=utf-8',
      'cache-control': REVALIDATE,
    };
    // One notice, about what installing the package gets (see installNotice); none otherwise.
    const notice = installNotice(name, raw, { packument, hidden, warned });
    if (notice) {
      // npm prints npm-notice only for responses it does not store in its cache.
      headers['npm-notice'] = notice;
      headers['cache-control'] = 'no-store';
    }
    // An unreachable advisory source is not a warning about a version: not audited per version.
    const versionWarned = warned.filter((w) => versionWarnings(w.decision).length > 0).map((w) => w.decision);
    const dependencies = dependencyNames(packument);
    return buildResponse(200, headers, JSON.stringify(abbreviated ? abbreviatePackument(served) : served), {
      ...meta,
      warned: versionWarned,
      ...(dependencies.length > 0 ? { warmAhead: dependencies } : {}),
    });
  }

  async function servePackument(req: Request, res: Response, name: string, actor: Actor): Promise<void> {
    const abbreviated = wantsAbbreviated(req.get('accept'));
    // A refusal's next step depends on the caller's role: the audience is part of the key.
    const audience = audienceOf(principalOfRequest(req)?.role);
    const key = cacheKey(name, abbreviated, `${req.protocol}://${req.get('host') ?? ''}`, audience);
    const generation = governance.cache.current().generation; // EPOLICYUNAVAILABLE when it must not be trusted
    const cached = runtime.packuments.lookup(key, generation, packages.revision(name), Date.now());
    const entry = cached ?? (await runtime.packuments.build(key, () => buildPackument(req, name, abbreviated, audience)));
    sendCached(req, res, entry, actor, governance, runtime);
    if (entry.warmAhead) warmAhead(runtime, entry, { protocol: req.protocol, host: req.get('host') ?? '', abbreviated, audience });
  }

  /** The filtered packument: what a version or dist-tag read may see. */
  async function filtered(req: Request, name: string) {
    preload(name);
    const raw = await readRawPackument(runtime, storage, name, req);
    await governance.prepare(raw);
    return governance.filterPackument(raw);
  }

  async function serveVersion(req: Request, res: Response, name: string, spec: string, actor: Actor): Promise<void> {
    const { packument, hidden } = await filtered(req, name);
    const versions = packument.versions ?? {};
    const tags = packument['dist-tags'] ?? {};
    // Own properties only: /pkg/__proto__ and /pkg/constructor are not versions.
    const version = Object.hasOwn(versions, spec) ? spec : Object.hasOwn(tags, spec) ? tags[spec] : undefined;
    if (version !== undefined && Object.hasOwn(versions, version)) {
      const local = localTarballUrls(runtime, { ...packument, versions: { [version]: versions[version] } }, req);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('cache-control', REVALIDATE);
      res.status(200).send(JSON.stringify(local.versions?.[version]));
      return;
    }
    const blocked = hidden.find((h) => h.version === spec);
    if (blocked) {
      refuse(runtime, res, actor, blocked.decision, 'version');
      return;
    }
    sendError(res, 'ENOTFOUND', `${name} has no version or tag '${spec.slice(0, 100)}'. Run 'npm view ${name} versions' to see what is available`);
  }

  async function decideTarball(req: Request, name: string, version: string): Promise<Decision | undefined> {
    const policy = governance.cache.current();
    const cached = governance.cache.peek(policy, name, version);
    if (cached) return cached;
    preload(name);
    const raw = await readRawPackument(runtime, storage, name, req);
    if (!raw.versions || !Object.hasOwn(raw.versions, version)) return undefined;
    await governance.prepare(raw);
    return governance.decide(name, version, raw);
  }

  async function serveTarball(req: Request, res: Response, next: NextFunction, name: string, filename: string, actor: Actor): Promise<void> {
    const version = versionFromTarball(name, filename);
    if (!version) return sendError(res, 'ENOTFOUND', `${filename.slice(0, 200)} is not a tarball of ${name}. Check the URL`);
    const decision = await decideTarball(req, name, version);
    if (!decision) return sendError(res, 'ENOTFOUND', `${name}@${version} is not in this registry or its upstream. Check the version`);
    if (!decision.allowed) return refuse(runtime, res, actor, decision, 'tarball');
    // A warned version's tarball carries its own notice (npm ci reads no packument), from the
    // decision the bytes are sent under: on a first fetch, the one made with what the inspection found.
    let recorded = false;
    const warn = (d: Decision): void => {
      res.removeHeader('npm-notice');
      const warnings = versionWarnings(d);
      if (warnings.length === 0) return;
      if (!recorded) governance.recordWarned(actor, [d], 'tarball');
      recorded = true;
      res.setHeader('npm-notice', toHeaderValue(`gatekeeper: warning for ${name}@${version}: ${warnings.join('; ')}`));
    };
    const isPrivate = runtime.publishing.isPrivate(name);
    // While this version's first fetch (or the inspection of its stored copy) runs, its answer is
    // the one every request gets: its decision is not made yet.
    if (isPrivate || (!fetching.has(`${name}@${version}`) && (await inspected(name, version)))) {
      const expected = isPrivate ? await publishedIntegrity(name, version) : runtime.inspections.known(name, version)?.integrity;
      warn(decision);
      addInstallNotices(runtime, req, res);
      if (sendStoredTarball(tarballs, packages, name, filename, req, res, false, expected)) return;
    }
    if (isPrivate) {
      return sendError(res, 'ENOTFOUND', `${name}@${version} is private and its tarball is not in storage, or no longer matches the integrity it was published with. Publish it again under a new version`);
    }
    const fetched = await fetchTarball(req, name, version, filename, actor);
    if (!fetched.decision.allowed) return refuse(runtime, res, actor, fetched.decision, 'tarball');
    warn(fetched.decision);
    addInstallNotices(runtime, req, res);
    sendBytes(req, res, fetched.bytes, fetched.etag);
  }

  /**
   * The integrity a private version was published with, which its stored copy must still
   * match: its inspection's (read if not held), else, for a version whose inspection was
   * never recorded (published before inspections were, or its record failed), its publish
   * record's. Undefined for a version with neither.
   */
  async function publishedIntegrity(name: string, version: string): Promise<string | undefined> {
    await runtime.inspections.prepare(name);
    const inspection = runtime.inspections.known(name, version);
    if (inspection) return inspection.integrity;
    const key = `${name}@${version}`;
    const held = recordedIntegrities.get(key);
    if (held) return held;
    const record = await runtime.publishing.versionState(name, version);
    if (record?.state !== 'published') return undefined;
    // A published version's integrity never changes: read once.
    recordedIntegrities.set(key, record.integrity);
    if (recordedIntegrities.size > MAX_RECORDED_INTEGRITIES) recordedIntegrities.delete(recordedIntegrities.keys().next().value as string);
    return record.integrity;
  }

  /**
   * Whether an upstream version's tarball inspection is held. Every first fetch records one
   * before it stores the copy, but a copy can outlive its record (one stored before inspections
   * existed, or a record lost in a database crash): such a copy is inspected again, from its
   * own bytes, before it is served, since its package.json is what the client acts on.
   */
  async function inspected(name: string, version: string): Promise<boolean> {
    await runtime.inspections.prepare(name);
    return runtime.inspections.known(name, version) !== undefined;
  }

  /** Tarballs being fetched for the first time (or stored copies being inspected), until stored. */
  const fetching = new Map<string, Promise<FetchedTarball>>();

  /** The tarball from the upstream's own origin, verified; a refusal of its origin or bytes is audited. */
  async function upstreamBytes(name: string, version: string, dist: { tarball?: unknown; integrity?: unknown; shasum?: unknown }, actor: Actor): Promise<Buffer> {
    try {
      return await runtime.upstreamTarball(
        String(dist.tarball ?? ''),
        { integrity: typeof dist.integrity === 'string' ? dist.integrity : undefined, shasum: typeof dist.shasum === 'string' ? dist.shasum : undefined },
        `${name}@${version}`,
      );
    } catch (err) {
      const known = asGatekeeperError(err);
      if (known && (known.code === 'EINTEGRITY' || known.code === 'ETARBALLORIGIN')) {
        governance.recordTarballRefused(actor, name, version, known, String(dist.tarball ?? '').slice(0, 500));
      }
      throw err;
    }
  }

  /**
   * The first fetch of an upstream tarball: only from the upstream's own origin, verified
   * against the packument's integrity, its own package.json read and compared with the
   * manifest (recorded once per version), decided again with what was found. Concurrent
   * requests for one tarball share one fetch. A stored copy whose inspection is missing (see
   * inspected()) goes the same way from its own bytes.
   *
   * The answer does not wait for the database or the disk: the version is decided with its
   * inspection held in memory (the package is held before it is recorded), and the copy is
   * stored, when allowed, only once the inspection's insert has committed, so no stored copy
   * is ever without its record. Until then the fetch stays shared (`fetching`), and requests
   * for the version get its bytes from memory. An insert that fails after the answer leaves
   * nothing stored and nothing held (see InspectionService.record): the next request fetches
   * and records the version again, and /health shows the failure.
   */
  function fetchTarball(req: Request, name: string, version: string, filename: string, actor: Actor): Promise<FetchedTarball> {
    const key = `${name}@${version}`;
    const shared = fetching.get(key);
    if (shared) return shared;
    const work = (async () => {
      // The stored copy, not revalidated with the upstream once per tarball: npm ci fetches
      // tarballs long after their packuments, when the copy is older than the uplink's maxage.
      const { raw, manifest } = await readStoredVersion(runtime, storage, name, version, req);
      if (!manifest) throw new GatekeeperError('ENOTFOUND', `${key} is not in this registry or its upstream. Check the version`);
      const dist = (manifest.dist ?? {}) as { tarball?: unknown; integrity?: unknown; shasum?: unknown };
      // A stored copy not inspected yet (see inspected()) is read again if it still matches
      // the integrity it was verified against; otherwise the upstream is asked.
      const storedKey = tarballStorageKey(name, filename);
      const stored = storedKey ? await packages.get(storedKey) : undefined;
      const fromStorage = stored !== undefined && matchesIntegrity(stored, dist);
      const bytes = fromStorage ? (stored as Buffer) : await upstreamBytes(name, version, dist, actor);
      const read = await readTarballManifestAsync(bytes, { errorCode: 'EUPSTREAM', label: key });
      // The verified bytes' own sha512, not the document's string (which may list other hashes beside the one that matched).
      const integrity = integrityOfBytes(bytes);
      const inspection = inspectTarball(manifest, read, integrity, new Date());
      // The package's inspections are held, so the recording below is held at once.
      await runtime.inspections.prepare(name);
      // What was found may change this version's decision and the package's responses: they go
      // before the inspection is held and again right after (a decision made in between, while
      // this fetch waited, was made without it).
      runtime.forgetPackage(name);
      const recorded = runtime.inspections.record(inspection, 'upstream');
      runtime.forgetPackage(name);
      await governance.prepare(raw);
      if (runtime.inspections.known(name, version) !== inspection) {
        // No longer held (this process forgot every package meanwhile): decided with the stored row.
        await recorded;
        runtime.forgetPackage(name);
        await governance.prepare(raw);
      }
      const decision = governance.decide(name, version, raw);
      // The bytes are hashed once, for the inspection, the response and the held entry alike (never read back).
      const etag = decision.allowed ? `"${integrity}"` : '';
      const settled = recorded.then(
        async () => {
          if (!decision.allowed || fromStorage) return;
          const written = await storeTarball(packages, name, filename, bytes);
          if (written) tarballs.store(tarballKey(name, filename), tarballs.entry(packages, written.key, packages.revision(name), written.stat, bytes, etag));
        },
        (err: unknown) => {
          runtime.logger.error({ err, package: name, version }, 'a tarball inspection could not be recorded after its answer; the copy is not stored, and the next fetch inspects it again');
          runtime.forgetPackage(name);
        },
      );
      return { answer: { bytes, decision, etag }, settled };
    })();
    const pending = work.then((w) => w.answer);
    fetching.set(key, pending);
    const done = () => {
      if (fetching.get(key) === pending) fetching.delete(key);
    };
    work.then(
      (w) => w.settled.catch((err: unknown) => runtime.logger.error({ err, package: name, version }, 'storing a fetched tarball failed; the next fetch stores it')).finally(done),
      done,
    );
    return pending;
  }

  async function serveDistTags(req: Request, res: Response, name: string): Promise<void> {
    const { packument } = await filtered(req, name);
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.status(200).send(JSON.stringify(packument['dist-tags'] ?? {}));
  }

  /**
   * npm 9 answers a 409 on publish by reading `?write=true` and, unless the version is among the
   * document's versions or times, publishing again with the versions merged in. Our refusal
   * (EVERSIONEXISTS) holds for every version ever published here, unpublished ones too, so
   * that read, made by npm's publish command, is answered with every recorded version in
   * `time`: npm then prints "Cannot publish over existing version" (EPUBLISHCONFLICT) instead
   * of sending a merged document or, after an unpublish of everything, "not in this registry".
   */
  async function serveTakenVersions(res: Response, name: string): Promise<boolean> {
    const recorded = await runtime.publishing.recordedVersions(name);
    if (recorded.length === 0) return false;
    const time: Record<string, string> = {};
    for (const r of recorded) time[r.version] = (r.publishedAt ?? r.reservedAt).toISOString();
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.status(200).send(JSON.stringify({ _id: name, name, 'dist-tags': {}, versions: {}, time }));
    return true;
  }

  /** Runs a read handler with the route's package, denying on any error. */
  const read =
    (fn: (req: Request, res: Response, next: NextFunction, match: RegistryMatch, actor: Actor) => Promise<void>) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const match = routeOf(req) as RegistryMatch;
      try {
        await fn(req, res, next, match, actorOf(req));
      } catch (err) {
        denyOnError(runtime, res, err, match.params.package ?? req.path);
      }
    };

  const mayWrite = (principal: ReturnType<typeof principalOfRequest>, name: string): boolean => runtime.publishing.mayPublish(principal, name) && scopeAllowsWrite(principal?.scope, name);

  return {
    packument: read(async (req, res, next, match, actor) => {
      // npm owner ls reads the maintainers: say that owners are not how this registry works, instead of "no admin found".
      if (req.get('npm-command') === 'owner') {
        writeError(res, unsupportedCommand());
        return;
      }
      // The write view only for whoever may write the name: by the publish rules, and by the token's scope (a service account's).
      if (match.query.get('write') === 'true' && mayWrite(principalOfRequest(req), match.params.package)) {
        if (req.get('npm-command') === 'publish' && (await serveTakenVersions(res, match.params.package))) return;
        // The unfiltered document, so a write based on it cannot drop hidden versions.
        runtime.requestContext.run({ raw: true }, () => next());
        return;
      }
      await servePackument(req, res, match.params.package, actor);
    }),
    version: read((req, res, _next, match, actor) => serveVersion(req, res, match.params.package, match.params.version, actor)),
    tarball: read((req, res, next, match, actor) => serveTarball(req, res, next, match.params.package, match.params.filename, actor)),
    distTags: read((req, res, _next, match) => serveDistTags(req, res, match.params.package)),
  };
}

/**
 * The one way the gatekeeper talks to its upstream registry.
 *
 * Transport: make-fetch-happen, the HTTP layer npm-registry-fetch is built on, with npm's own
 * credential rules (`getAuth` from npm-registry-fetch) and npm's proxy, CA, client-certificate
 * and agent options passed through from `npmOptions`. npm-registry-fetch itself cannot be
 * used for this: it hands make-fetch-happen a fixed option list without `redirect`, so every
 * redirect is followed (up to 20, to any host) before we could look at it, and it reads a
 * whole error body into memory, without a limit, before returning. Here:
 *
 * - every call has one overall deadline (AbortSignal) covering connecting, the headers, every
 *   redirect and the whole body. (minipass-fetch's `timeout` stops at the headers and its body
 *   timeout only starts when a body is consumed with `.buffer()`/`.json()`; @npmcli/agent maps
 *   `timeout` to an idle timeout: a server trickling a byte a second trips none of them.)
 * - every body is size limited: content-length is checked up front, and bytes are counted
 *   (after decompression) while reading.
 * - no retries and no HTTP cache (no `cachePath`, `cache: 'no-store'`): the gatekeeper has its
 *   own caches, and the caller decides about retrying.
 * - redirects are followed by hand (GET only, at most MAX_REDIRECTS), each target held to the
 *   same origin rule as tarball URLs: the registry's origin or one of `tarballHosts`.
 *
 * Errors are GatekeeperErrors: the deadline is EUPSTREAMTIMEOUT, a body over the limit
 * EUPSTREAMTOOLARGE, connection errors, 5xx and answers that make no sense EUPSTREAM, a refusal
 * retrying cannot mend (401, 403, a redirect not followed, another 4xx) EUPSTREAMREFUSED, tarball
 * bytes that do not match their integrity EINTEGRITY, and a URL outside the allowed origins
 * ETARBALLORIGIN. Messages name the upstream by origin only (never credentials) and the package.
 */
import type { Readable } from 'node:stream';
import npmFetch from 'npm-registry-fetch';
import { ErrorCode, GatekeeperError } from '../core/errors';
import { integrityToVerify, matchesIntegrityString } from '../core/integrity';
import { jsonNestingDepth } from '../core/tarball-manifest';
import { shownValue } from '../core/text';
import { DirectAgents, directAgents } from './agents';

/** The subset of make-fetch-happen (and its minipass-fetch Response) used here. */
interface FetchResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: NodeJS.ReadableStream & { destroy?(err?: Error): void };
}
type MakeFetch = (url: string, options: Record<string, unknown>) => Promise<FetchResponse>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const makeFetch = require('make-fetch-happen') as MakeFetch;
const getAuth = (npmFetch as unknown as { getAuth(uri: string, opts: Record<string, unknown>): NpmAuth }).getAuth;

interface NpmAuth {
  token: string | null;
  auth: string | null;
  cert: string | null;
  key: string | null;
}

export interface UpstreamLogger {
  debug?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface UpstreamClientOptions {
  /**
   * The upstream registry, e.g. https://registry.example/ (a path is allowed). Credentials in
   * the URL are sent as Basic auth unless `npmOptions` has credentials for it.
   */
  registry: string;
  /** Other origins tarballs may come from (scheme, host and port, e.g. https://cdn.example). */
  tarballHosts?: string[];
  /** The overall deadline of each call, in milliseconds. */
  timeoutMs: number;
  /** The largest body accepted, in bytes (tarballs; and everything else unless packumentMaxBytes). */
  maxBytes: number;
  /** The largest packument, advisory or audit answer accepted. Default: maxBytes. */
  packumentMaxBytes?: number;
  /**
   * npm's options, as npm-registry-fetch takes them: `//host/:_authToken` and the other
   * nerf-darted credentials, `proxy`, `httpsProxy`, `noProxy`, `ca`, `cert`, `key`,
   * `strictSSL`, `localAddress`, `maxSockets`, `agent`, `userAgent`, `headers`. Cache, retry
   * and timeout options are ignored (see the file header). `npmOptionsFor` (npm-options.ts)
   * reads them from npm's configuration.
   */
  npmOptions?: Record<string, unknown>;
  logger?: UpstreamLogger;
  /** Told of every call when it ends: its operation, duration and, when it failed, its error code (metrics). */
  observe?: (operation: UpstreamOperation, seconds: number, code?: ErrorCode) => void;
}

/** What a call was for, as the metrics label it. */
export type UpstreamOperation = 'packument' | 'tarball' | 'search' | 'ping' | 'post' | 'stream';

/** The request headers postStream passes on (anything else is set by the client). */
export interface PostStreamHeaders {
  'content-type'?: string;
  'content-encoding'?: string;
}

export type PackumentResult = { status: 200; body: Record<string, unknown>; etag?: string } | { status: 304 } | { status: 404 };

export interface ExpectedTarball {
  integrity?: string;
  shasum?: string;
  /** The package, for messages (e.g. "foo@1.2.3"); default: the file name in the URL. */
  label?: string;
}

export const MAX_REDIRECTS = 3;
/** Packuments nested deeper than this are refused (no real one comes close). */
export const MAX_PACKUMENT_DEPTH = 64;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Bytes of an unwanted body (an error page, a redirect) read before the connection is dropped. */
const DISCARD_BYTES = 64 * 1024;
const ABBREVIATED_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNECTIONTIMEOUT', 'EIDLETIMEOUT', 'ERESPONSETIMEOUT', 'ETRANSFERTIMEOUT']);
const TIMEOUT_TYPES = new Set(['request-timeout', 'body-timeout']);

/** Why a call's signal is aborted once the call is over (not an error: nothing is waiting on it by then). */
const CALL_ENDED = Object.freeze({ reason: 'the upstream call ended' });

/** One call's deadline. */
class Deadline {
  readonly controller = new AbortController();
  expired = false;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the call: stops the timer and drops any connection still open. */
  end(): void {
    clearTimeout(this.timer);
    // With a reason given, no AbortError (a DOMException with a stack) is made for every call that ended well.
    if (!this.controller.signal.aborted) this.controller.abort(CALL_ENDED);
  }
}

/** Scheme, host and port, without credentials or path: how the upstream is named in messages. */
function originOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

function normalizeOrigin(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new GatekeeperError('EVALIDATION', `${what} ${JSON.stringify(value)} is not a URL. Write it as scheme://host[:port], e.g. https://registry.example.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GatekeeperError('EVALIDATION', `${what} ${JSON.stringify(value)} is not an http(s) URL. Write it as scheme://host[:port].`);
  }
  return url.origin;
}

/** An npm package name as a registry path segment: `@scope%2fname`. */
export function escapePackageName(name: string): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.length > 214) {
    throw new GatekeeperError('EINVALIDNAME', `${JSON.stringify(String(name).slice(0, 100))} is not a package name. Check the name and try again.`);
  }
  const escaped = encodeURIComponent(name).replace(/%2F/g, '%2f');
  return name.startsWith('@') ? `@${escaped.slice(3)}` : escaped;
}

/** An ETag we may pass on: a quoted token of visible ASCII, optionally weak. */
function cleanEtag(value: string | null): string | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  return /^(W\/)?"[\x21\x23-\x7e]{0,200}"$/.test(trimmed) ? trimmed : undefined;
}

/** A connection reset before any answer came: the request may be sent again on a new connection. */
function isConnectionReset(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export class UpstreamClient {
  readonly registry: string;
  private readonly registryUrl: URL;
  private readonly allowedOrigins: Set<string>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly packumentMaxBytes: number;
  private readonly npm: Record<string, unknown>;
  /** Plain keep-alive agents when no proxy is in play (agents.ts); undefined: make-fetch-happen chooses. */
  private readonly agents: DirectAgents | undefined;
  private readonly logger?: UpstreamLogger;
  private readonly observe?: UpstreamClientOptions['observe'];

  constructor(options: UpstreamClientOptions) {
    const origin = normalizeOrigin(options.registry, 'the upstream registry');
    const url = new URL(options.registry);
    url.search = '';
    url.hash = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.npm = { ...(options.npmOptions ?? {}) };
    this.agents = directAgents(this.npm);
    if (url.username !== '' || url.password !== '') {
      // Credentials in the registry URL: sent as Basic auth (as minipass-fetch would), unless
      // npm's settings have credentials for the registry; never part of the URL we keep.
      const decode = (part: string): string => {
        try {
          return decodeURIComponent(part);
        } catch {
          return part;
        }
      };
      const basic = Buffer.from(`${decode(url.username)}:${decode(url.password)}`).toString('base64');
      url.username = '';
      url.password = '';
      const nerf = `//${url.host}${url.pathname}`;
      if (!['_authToken', '_auth', 'username'].some((k) => this.npm[`${nerf}:${k}`] !== undefined)) this.npm[`${nerf}:_auth`] = basic;
    }
    this.registryUrl = url;
    this.registry = url.href;
    this.allowedOrigins = new Set([origin, ...(options.tarballHosts ?? []).map((h) => normalizeOrigin(h, 'the tarball host'))]);
    if (!(options.timeoutMs > 0) || !(options.maxBytes > 0)) {
      throw new GatekeeperError('EVALIDATION', 'the upstream timeout and size limit must be positive. Check the upstream settings.');
    }
    this.timeoutMs = options.timeoutMs;
    this.maxBytes = options.maxBytes;
    this.packumentMaxBytes = options.packumentMaxBytes ?? options.maxBytes;
    this.logger = options.logger;
    this.observe = options.observe;
  }

  /** The upstream as messages name it. */
  private get name(): string {
    return `the upstream registry (${originOf(this.registryUrl)})`;
  }

  // ---------------------------------------------------------------------------------------
  // Calls

  /**
   * A packument: 200 with the parsed document (and its ETag), 304 when `etag` still matches,
   * 404 when the upstream does not have it. Anything else throws: 401 and 403 are EUPSTREAM
   * ("refused"), never "not found", because "not found" lets a private package take the name;
   * an answer that is not a JSON object (truncated, HTML, `[]`, `null`), or names another
   * package, is EUPSTREAM too.
   */
  async packument(name: string, options: { abbreviated?: boolean; etag?: string } = {}): Promise<PackumentResult> {
    const url = new URL(escapePackageName(name), this.registryUrl);
    const what = `the packument of ${shownValue(name, 100)}`;
    const headers: Record<string, string> = { accept: options.abbreviated ? ABBREVIATED_ACCEPT : 'application/json' };
    // Only an ETag of the shape we hand out is passed on (anything else could split headers).
    const ifNoneMatch = options.etag === undefined ? undefined : cleanEtag(options.etag);
    if (ifNoneMatch) headers['if-none-match'] = ifNoneMatch;
    return this.call('packument', what, async (deadline) => {
      const res = await this.get(url, headers, what, deadline);
      if (res.status === 404) {
        await this.discard(res, deadline);
        return { status: 404 } as const;
      }
      if (res.status === 304 && ifNoneMatch) {
        await this.discard(res, deadline);
        return { status: 304 } as const;
      }
      if (res.status !== 200) throw await this.badStatus(res, what, deadline);
      const raw = await this.read(res, this.packumentMaxBytes, what, deadline);
      const body = this.parseJson(raw, what);
      const problem = packumentProblem(body, name);
      if (problem) {
        throw new GatekeeperError(
          'EUPSTREAM',
          `${this.name} answered the request for ${what} with something that is not a packument (${problem}). Try again later; if it persists, the upstream is broken or is not an npm registry.`,
        );
      }
      const etag = cleanEtag(res.headers.get('etag'));
      return etag === undefined ? { status: 200, body: body as Record<string, unknown> } : { status: 200, body: body as Record<string, unknown>, etag };
    });
  }

  /** Whether the upstream has a package: true on 200, false on 404; anything else throws. */
  async hasPackage(name: string): Promise<boolean> {
    const answer = await this.packument(name, { abbreviated: true });
    return answer.status === 200;
  }

  /**
   * A tarball's bytes, verified. The URL (and every redirect) must be on the registry's origin
   * or a tarball host, else ETARBALLORIGIN before any request is sent. The bytes must match
   * `integrity` (its strongest algorithm) or, when there is no usable integrity, the sha1
   * `shasum`; with neither, EINTEGRITY: an unverifiable tarball is not served.
   */
  async tarball(url: string, expected: ExpectedTarball): Promise<Buffer> {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    const label = expected.label ?? fileName(parsed) ?? shownValue(String(url), 100);
    const what = `the tarball of ${shownValue(label, 100)}`;
    if (!parsed) {
      throw new GatekeeperError('ETARBALLORIGIN', `${what} has no usable URL (${shownValue(String(url), 100)}), so it was not fetched. The upstream's packument is broken; ask the upstream.`);
    }
    const target = parsed;
    this.checkOrigin(target, what, false, 'tarball');
    const integrity = integrityToVerify(expected);
    if (integrity === undefined) {
      throw new GatekeeperError(
        'EINTEGRITY',
        `the upstream gave no integrity (or shasum) for ${what}, so its bytes cannot be verified. It is not served; ask the upstream to publish integrity for it.`,
      );
    }
    return this.call('tarball', what, async (deadline) => {
      const res = await this.get(target, { accept: '*/*' }, what, deadline, 'tarball');
      if (res.status === 404) {
        await this.discard(res, deadline);
        throw new GatekeeperError('EUPSTREAM', `${this.name} does not have ${what} (404), although its packument listed it: it may still be replicating it, or have taken the version down. Try again later; if it persists, use another version`);
      }
      if (res.status !== 200) throw await this.badStatus(res, what, deadline);
      const bytes = await this.read(res, this.maxBytes, what, deadline);
      if (!matchesIntegrityString(bytes, integrity)) {
        const algorithm = integrity.split('-')[0];
        this.logger?.warn({ tarball: label, algorithm }, 'upstream tarball does not match its integrity');
        throw new GatekeeperError(
          'EINTEGRITY',
          `${what} does not match the ${algorithm} integrity its packument names: it was corrupted or tampered with on the way. It is not served; try again later, and report it to the upstream if it persists.`,
        );
      }
      return bytes;
    });
  }

  /**
   * The upstream's search (`-/v1/search`), for the uplink: `query` is the query string
   * (`text=foo&size=20`), re-encoded parameter by parameter. Answers a JSON object; anything
   * else, 404 included (an upstream without search), throws EUPSTREAM.
   */
  async search(query: string): Promise<Record<string, unknown>> {
    const params = new URLSearchParams(query.replace(/^\?/, ''));
    const url = new URL('-/v1/search', this.registryUrl);
    url.search = params.toString();
    const what = 'a search';
    return this.call('search', what, async (deadline) => {
      const res = await this.get(url, { accept: 'application/json' }, what, deadline);
      if (res.status !== 200) throw await this.badStatus(res, what, deadline);
      const body = this.parseJson(await this.read(res, this.packumentMaxBytes, what, deadline), what);
      if (!isObject(body)) {
        throw new GatekeeperError('EUPSTREAM', `${this.name} answered ${what} with something that is not a JSON object. Check that the upstream supports npm search.`);
      }
      return body;
    });
  }

  /** Resolves when the upstream answers `-/ping` with anything below 500; throws otherwise. */
  async ping(): Promise<void> {
    const url = new URL('-/ping', this.registryUrl);
    const what = 'a ping';
    await this.call('ping', what, async (deadline) => {
      const res = await this.get(url, { accept: 'application/json' }, what, deadline);
      if (res.status >= 500) throw await this.badStatus(res, what, deadline);
      await this.discard(res, deadline);
    });
  }

  /** The bulk advisory endpoint `npm audit` uses: `{ name: [versions] }` in, `{ name: [advisories] }` out. */
  async advisoriesBulk(query: Record<string, string[]>): Promise<Record<string, unknown[]>> {
    const what = 'the advisories bulk request';
    const answer = await this.post('-/npm/v1/security/advisories/bulk', query, what, true);
    if (answer.status !== 200) {
      throw new GatekeeperError('EUPSTREAM', `the upstream's advisory endpoint answered ${answer.status}. Advisories are asked again on the next refresh; check the upstream if it persists.`);
    }
    const body = answer.body;
    if (!isObject(body) || !Object.values(body).every((v) => Array.isArray(v))) {
      throw new GatekeeperError('EUPSTREAM', `the upstream's advisory endpoint answered with something that is not a list of advisories per package. Check that the upstream supports npm audit.`);
    }
    return body as Record<string, unknown[]>;
  }

  /**
   * A JSON POST to a path under the registry (audit pass-through). Answers below 500 are
   * returned with their status and parsed JSON body (undefined when an error answer is not
   * JSON); a 2xx that is not JSON, a 5xx and a redirect are EUPSTREAM.
   */
  async postJson(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    return this.post(path, body, `the request to ${shownValue(path, 100)}`);
  }

  /**
   * A POST to a path under the registry whose body is a stream (the `npm audit` pass-through):
   * the body is sent as it is read (chunked), never buffered whole, within the call's one
   * deadline. Answers below 500 come back with their status, bytes (at most the packument size
   * limit) and content type; a 5xx, a redirect and a 1xx are EUPSTREAM, as for postJson.
   *
   * The body is consumed, or destroyed when the call fails. When it fails itself (e.g. a
   * Transform bounding its size), its GatekeeperError is thrown as it is, not as an upstream
   * error; any other failure of it is EVALIDATION.
   */
  async postStream(path: string, body: Readable, headers: PostStreamHeaders = {}): Promise<{ status: number; body: Buffer; contentType?: string }> {
    const what = `the request to ${shownValue(path, 100)}`;
    let bodyError: unknown;
    // Kept for good: an error the body emits after the call must not go unheard either.
    body.on('error', (err: unknown) => {
      // The call's own abort (the deadline, the end of the call) destroys the body too: that is not its failure.
      if ((err as { name?: unknown })?.name !== 'AbortError') bodyError ??= err;
    });
    try {
      const url = this.underRegistry(path);
      const sent: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
      for (const name of ['content-type', 'content-encoding'] as const) {
        const value = headers[name];
        if (value === undefined) continue;
        if (typeof value !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(value)) {
          throw new GatekeeperError('EVALIDATION', `the ${name} of ${what} is not a short header value of visible ASCII. Send the request with a plain ${name}.`);
        }
        sent[name] = value;
      }
      const answer = await this.call('stream', what, async (deadline) => {
        this.checkOrigin(url, what, false);
        const res = await this.send(url, { method: 'POST', headers: sent, body }, what, deadline);
        if (res.status >= 500 || REDIRECTS.has(res.status) || res.status < 200) throw await this.badStatus(res, what, deadline);
        const raw = await this.read(res, this.packumentMaxBytes, what, deadline);
        const contentType = res.headers.get('content-type');
        return contentType !== null && /^[\x20-\x7e]{1,200}$/.test(contentType) ? { status: res.status, body: raw, contentType } : { status: res.status, body: raw };
      });
      // The upstream answered before reading all of it: the rest goes nowhere.
      if (!body.readableEnded && !body.destroyed) body.destroy();
      return answer;
    } catch (err) {
      if (!body.destroyed) body.destroy();
      if (bodyError !== undefined) {
        if (bodyError instanceof GatekeeperError) throw bodyError;
        const code = (bodyError as { code?: unknown }).code;
        const reason = typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : 'a read error';
        throw new GatekeeperError('EVALIDATION', `the body of ${what} could not be read to the end (${reason}), so it was not passed on. Send the request again.`);
      }
      throw err;
    }
  }

  /** A JSON POST; `anyStatus` returns 5xx answers (unread) instead of throwing. */
  private async post(path: string, body: unknown, what: string, anyStatus = false): Promise<{ status: number; body: unknown }> {
    const url = this.underRegistry(path);
    const payload = Buffer.from(JSON.stringify(body ?? {}));
    return this.call('post', what, async (deadline) => {
      this.checkOrigin(url, what, false);
      const res = await this.send(url, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: payload }, what, deadline);
      if (anyStatus && res.status >= 500) {
        await this.discard(res, deadline);
        return { status: res.status, body: undefined };
      }
      if (res.status >= 500 || REDIRECTS.has(res.status) || res.status < 200) throw await this.badStatus(res, what, deadline);
      const raw = await this.read(res, this.packumentMaxBytes, what, deadline);
      if (res.status >= 300) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          parsed = undefined;
        }
        return { status: res.status, body: parsed };
      }
      return { status: res.status, body: this.parseJson(raw, what) };
    });
  }

  // ---------------------------------------------------------------------------------------
  // Plumbing

  /** A path under the registry as a URL; anything that would leave it (or carries a query) is EVALIDATION. */
  private underRegistry(path: string): URL {
    const url = new URL(path.replace(/^\/+/, ''), this.registryUrl);
    if (!url.href.startsWith(this.registry) || /(^|\/)\.\.?(\/|$)/.test(path) || url.search !== '') {
      throw new GatekeeperError('EVALIDATION', `${shownValue(path, 100)} is not a path under the upstream registry. Use a relative path such as -/npm/v1/security/audits/quick.`);
    }
    return url;
  }

  /** Runs one call under one deadline, mapping whatever it throws to a GatekeeperError. */
  private async call<T>(operation: UpstreamOperation, what: string, fn: (deadline: Deadline) => Promise<T>): Promise<T> {
    const deadline = new Deadline(this.timeoutMs);
    const started = this.observe ? performance.now() : 0;
    let code: ErrorCode | undefined;
    try {
      return await fn(deadline);
    } catch (err) {
      const mapped = this.mapError(err, what, deadline);
      code = mapped.code;
      throw mapped;
    } finally {
      deadline.end();
      this.observe?.(operation, (performance.now() - started) / 1000, code);
    }
  }

  /**
   * Refuses a URL outside the upstream's origin and the tarball hosts. `kind` picks the next
   * step: a tarball host may be added (tarball_hosts); a document (a packument, search, a ping,
   * advisories) that the upstream redirects elsewhere means the upstream URL is not the registry's.
   */
  private checkOrigin(url: URL, what: string, redirected: boolean, kind: 'tarball' | 'document' = 'document'): void {
    const ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && this.allowedOrigins.has(url.origin);
    if (ok) return;
    const where = url.protocol === 'http:' || url.protocol === 'https:' ? originOf(url) : `a URL of scheme ${shownValue(url.protocol, 20)}`;
    if (kind === 'document') {
      throw new GatekeeperError(
        'ETARBALLORIGIN',
        redirected
          ? `${this.name} redirected ${what} to ${where}, which is not the upstream's origin, so it was not followed: registry documents are read only from the upstream itself. If the registry now lives there, an admin sets the upstream (GATEKEEPER_UPSTREAM) to that address and restarts the gatekeeper.`
          : `${what} would be read from ${where}, which is not the upstream's origin, so it was not. Check the upstream (GATEKEEPER_UPSTREAM).`,
      );
    }
    throw new GatekeeperError(
      'ETARBALLORIGIN',
      redirected
        ? `${this.name} redirected ${what} to ${where}, which is neither the upstream nor an allowed tarball host, so it was not followed. If that host is trusted, add it to the upstream's tarball hosts.`
        : `${what} is on ${where}, which is neither the upstream nor an allowed tarball host, so it was not fetched. If that host is trusted, add it to the upstream's tarball hosts.`,
    );
  }

  /** A GET, following redirects by hand within the allowed origins. */
  private async get(start: URL, headers: Record<string, string>, what: string, deadline: Deadline, kind: 'tarball' | 'document' = 'document'): Promise<FetchResponse> {
    let url = start;
    for (let hop = 0; ; hop++) {
      this.checkOrigin(url, what, hop > 0, kind);
      const res = await this.send(url, { method: 'GET', headers }, what, deadline);
      if (!REDIRECTS.has(res.status)) return res;
      const location = res.headers.get('location');
      await this.discard(res, deadline);
      if (hop >= MAX_REDIRECTS) {
        throw new GatekeeperError('EUPSTREAM', `${this.name} redirected ${what} more than ${MAX_REDIRECTS} times. Check the upstream's configuration.`);
      }
      let next: URL | undefined;
      try {
        next = location ? new URL(location, url) : undefined;
      } catch {
        next = undefined;
      }
      if (!next) throw new GatekeeperError('EUPSTREAM', `${this.name} redirected ${what} without a usable location. Check the upstream's configuration.`);
      this.logger?.debug?.({ from: originOf(url), to: originOf(next), status: res.status }, 'following an upstream redirect');
      url = next;
    }
  }

  /** One request, with npm's credentials for that URL and npm's transport options. */
  private async send(url: URL, init: { method: string; headers: Record<string, string>; body?: Buffer | Readable }, what: string, deadline: Deadline): Promise<FetchResponse> {
    const opts = this.npm;
    const auth = getAuth(url.href, { ...opts, registry: this.registry });
    const headers: Record<string, string> = {
      'user-agent': typeof opts.userAgent === 'string' ? opts.userAgent : 'npm-gatekeeper',
      ...(isObject(opts.headers) ? (opts.headers as Record<string, string>) : {}),
      ...init.headers,
    };
    if (auth.token) headers.authorization = `Bearer ${auth.token}`;
    else if (auth.auth) headers.authorization = `Basic ${auth.auth}`;
    const cert = auth.cert || opts.cert;
    const key = auth.key || opts.key;
    const agent = this.agents ? this.agents.for(url.protocol, cert, key) : opts.agent;
    const attempt = (): Promise<FetchResponse> =>
      makeFetch(url.href, {
        method: init.method,
        headers,
        body: init.body,
        signal: deadline.signal,
        redirect: 'manual',
        retry: { retries: 0 },
        cache: 'no-store',
        timeout: this.timeoutMs,
        agent,
        ca: opts.ca,
        cert,
        key,
        localAddress: opts.localAddress,
        maxSockets: opts.maxSockets,
        noProxy: opts.noProxy,
        proxy: opts.httpsProxy || opts.proxy,
        strictSSL: opts.strictSSL,
        dns: opts.dns,
      });
    const res = await attempt().catch((err: unknown) => {
      // A kept-alive connection the upstream closed just as this request went out on it: the
      // request never reached it. A GET is sent once more, on a new connection, within the
      // same deadline; anything else (or a second reset) is the answer.
      if (init.method !== 'GET' || deadline.expired || !isConnectionReset(err)) throw err;
      this.logger?.debug?.({ upstream: originOf(url), what, code: (err as { code?: unknown }).code }, 'upstream reset the connection; sending the request again');
      return attempt();
    });
    // An abort at the end of the call emits 'error' on an unread body: never let it go unheard.
    res.body.on('error', () => undefined);
    this.logger?.debug?.({ method: init.method, upstream: originOf(url), status: res.status, what }, 'upstream answered');
    return res;
  }

  /** The body, at most `limit` bytes (by content-length up front, then by counting), within the deadline. */
  private read(res: FetchResponse, limit: number, what: string, deadline: Deadline): Promise<Buffer> {
    const declared = res.headers.get('content-length');
    if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > limit) {
      res.body.destroy?.();
      return Promise.reject(this.tooLarge(what, limit));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const finish = (err: unknown, value?: Buffer): void => {
        if (settled) return;
        settled = true;
        deadline.signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value as Buffer);
      };
      const onAbort = (): void => {
        res.body.destroy?.();
        finish(new Error('aborted'));
      };
      if (deadline.signal.aborted) return onAbort();
      deadline.signal.addEventListener('abort', onAbort);
      res.body.on('data', (chunk: Buffer) => {
        if (settled) return;
        total += chunk.length;
        if (total > limit) {
          res.body.destroy?.();
          finish(this.tooLarge(what, limit));
          return;
        }
        chunks.push(chunk);
      });
      res.body.on('end', () => finish(undefined, Buffer.concat(chunks, total)));
      res.body.on('error', (err: unknown) => finish(err));
    });
  }

  /** Reads and drops a small unwanted body (keeping the connection usable); a large one is cut. */
  private async discard(res: FetchResponse, deadline: Deadline): Promise<void> {
    try {
      await this.read(res, DISCARD_BYTES, 'an unwanted body', deadline);
    } catch {
      // Too large, cut, or out of time: the connection is dropped at the end of the call.
    }
  }

  /**
   * An upstream answer that is not the one asked for. What retrying may mend (5xx, 408, 429,
   * an unasked 304, anything below 200) is EUPSTREAM (502); what it cannot (401 and 403: the credentials, a
   * redirect not followed, another 4xx) is EUPSTREAMREFUSED (403), so clients do not retry it.
   */
  private async badStatus(res: FetchResponse, what: string, deadline: Deadline): Promise<GatekeeperError> {
    await this.discard(res, deadline);
    if (res.status === 401 || res.status === 403) {
      return new GatekeeperError(
        'EUPSTREAMREFUSED',
        `${this.name} refused ${what} (${res.status}). Check the credentials configured for the upstream (npm's auth settings for its URL).`,
      );
    }
    if (REDIRECTS.has(res.status)) {
      return new GatekeeperError('EUPSTREAMREFUSED', `${this.name} answered ${what} with a redirect (${res.status}), which is not followed for this request. Check the upstream's URL.`);
    }
    // (A 304 nobody asked for is nonsense from a cache on the way: asked again, it may be an answer.)
    if (res.status >= 500 || res.status === 429 || res.status === 408 || res.status === 304 || res.status < 200) {
      return new GatekeeperError('EUPSTREAM', `${this.name} answered ${res.status} for ${what}. Try again later; if it persists, check the upstream.`);
    }
    return new GatekeeperError('EUPSTREAMREFUSED', `${this.name} answered ${res.status} for ${what}. Check the upstream's URL and configuration.`);
  }

  private tooLarge(what: string, limit: number): GatekeeperError {
    return new GatekeeperError(
      'EUPSTREAMTOOLARGE',
      `${this.name} sent more than ${limit} bytes for ${what}, more than the gatekeeper accepts. If the package really is that large, raise the upstream size limit.`,
    );
  }

  private parseJson(raw: Buffer, what: string): unknown {
    let text = raw.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const notJson = (why: string): GatekeeperError =>
      new GatekeeperError(
        'EUPSTREAM',
        `${this.name} answered the request for ${what} with something that is not ${what.startsWith('the packument') ? 'a packument' : 'JSON'} (${why}). Try again later; if it persists, the upstream is broken or is not an npm registry.`,
      );
    if (jsonNestingDepth(text) > MAX_PACKUMENT_DEPTH) throw notJson(`nested deeper than ${MAX_PACKUMENT_DEPTH} levels`);
    try {
      return JSON.parse(text);
    } catch {
      const start = text.trimStart().slice(0, 1);
      throw notJson(text.trim() === '' ? 'an empty body' : start === '<' ? 'HTML' : 'invalid or truncated JSON');
    }
  }

  private mapError(err: unknown, what: string, deadline: Deadline): GatekeeperError {
    if (err instanceof GatekeeperError) return err;
    const e = (err ?? {}) as { code?: unknown; type?: unknown; name?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    const type = typeof e.type === 'string' ? e.type : undefined;
    if (deadline.expired || (code && TIMEOUT_CODES.has(code)) || (type && TIMEOUT_TYPES.has(type))) {
      return new GatekeeperError(
        'EUPSTREAMTIMEOUT',
        `${this.name} did not deliver ${what} within ${Math.round(this.timeoutMs / 100) / 10}s. Try again later; if it keeps happening, check the upstream's health or raise the upstream timeout.`,
      );
    }
    const reason = code && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) && code !== 'FETCH_ERROR' ? code : type && /^[a-z-]{1,40}$/.test(type) ? type : 'a connection error';
    return new GatekeeperError(
      'EUPSTREAM',
      `cannot get ${what} from ${this.name} (${reason}). Check that the upstream is up and reachable from the gatekeeper (network, proxy, DNS, certificates).`,
    );
  }
}

/** The last path segment of a URL, decoded, for messages. */
function fileName(url: URL | undefined): string | undefined {
  const last = url?.pathname.split('/').pop();
  if (!last) return undefined;
  try {
    return shownValue(decodeURIComponent(last), 100);
  } catch {
    return shownValue(last, 100);
  }
}

/** Why a parsed answer is not a packument of `name`, or undefined when it is one. */
function packumentProblem(body: unknown, name: string): string | undefined {
  if (body === null) return 'null';
  if (Array.isArray(body)) return 'an array';
  if (typeof body !== 'object') return `a ${typeof body}`;
  const doc = body as Record<string, unknown>;
  if (doc.name !== undefined && doc.name !== name) return `it names ${typeof doc.name === 'string' ? shownValue(doc.name, 100) : 'no string'} instead`;
  if (doc.versions !== undefined && !isObject(doc.versions)) return 'its versions are not an object';
  if (doc['dist-tags'] !== undefined && !isObject(doc['dist-tags'])) return 'its dist-tags are not an object';
  return undefined;
}

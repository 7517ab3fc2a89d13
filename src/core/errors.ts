import { fitText, oneLine } from './text';

/**
 * Stable error codes. Every error a user or an API client can see carries one of these
 * codes, and its HTTP status is this table's entry for the code. Responses are written from
 * a code by one function, `writeError` (src/server/http/write-error.ts), through
 * `httpError` below; a test runs every code through it.
 */
export const ErrorCodes = {
  // Policy decisions (install time).
  ENOTAPPROVED: 403,
  EBANNED: 403,
  ELICENSE: 403,
  EQUARANTINED: 403,
  EINSTALLSCRIPTS: 403,
  EADVISORY: 403,
  EDEPRECATED: 403,
  // The tarball's own package.json disagrees with the manifest (name, version, install scripts),
  // on install or publish. 403 like every refusal retrying cannot fix: with 400, pnpm retried
  // a refused tarball for about 70 s before giving up.
  EMANIFESTMISMATCH: 403,
  // A malware entry (an OSV MAL- id, one its source marks as malware, an admin's flag) affects the version.
  EMALWARE: 403,
  // Signs of a hijacked release: a publisher new to the package, a release without the provenance its predecessor had.
  ENEWPUBLISHER: 403,
  EPROVENANCEDOWNGRADE: 403,
  EPOLICYUNAVAILABLE: 503,
  // Publishing.
  EVERSIONEXISTS: 409,
  ENOTPRIVATE: 403,
  EUPSTREAMNAME: 409,
  EUNPUBLISHWINDOW: 403,
  EBADPUBLISH: 400,
  // npm owner, access, team and org: publish rules decide who may publish here, not npm's owners or teams.
  ENOTSUPPORTED: 403,
  // Identity and access.
  EUNAUTHENTICATED: 401,
  EFORBIDDEN: 403,
  EBADCREDENTIALS: 401,
  EUSERDISABLED: 401,
  ETOKENREVOKED: 401,
  ESELFREGISTRATION: 403,
  ETOOMANYATTEMPTS: 429,
  // A state-changing call authenticated by the console's session cookie without its CSRF token.
  ECSRF: 403,
  // A request with several different console session cookies (another page of the host may have set one): none is taken.
  ESESSIONCOOKIES: 401,
  // Single sign-on (docs/sso.md) and scoped tokens.
  ESSOINVALID: 401,
  ESSOREFUSED: 403,
  ESSOUNAVAILABLE: 502,
  ELOGINSESSION: 410,
  EPASSWORDLOGINOFF: 403,
  ETOKENEXPIRED: 401,
  ETOKENSCOPE: 403,
  // Input and resources.
  EVALIDATION: 400,
  EINVALIDNAME: 400,
  EINVALIDVERSION: 400,
  EINVALIDRANGE: 400,
  EINVALIDTAG: 400,
  ENOTFOUND: 404,
  ECONFLICT: 409,
  EPAYLOADTOOLARGE: 413,
  // The HTTP parser's refusals: headers larger than Node reads, and a request whose headers did not arrive in time.
  EHEADERSTOOLARGE: 431,
  EREQUESTTIMEOUT: 408,
  EUNSUPPORTEDMEDIATYPE: 415,
  EMETHODNOTALLOWED: 405,
  ETOOMANYREQUESTS: 429,
  // Infrastructure.
  EDATABASE: 503,
  // Readiness: this instance should not get traffic now (database, LISTEN channel, storage, shutdown).
  ENOTREADY: 503,
  // A write waited longer than its bound for the package's storage lock (another instance or request holds it).
  ELOCKTIMEOUT: 503,
  EUPSTREAM: 502,
  EUPSTREAMTIMEOUT: 504,
  EUPSTREAMTOOLARGE: 502,
  // Refusals of what the upstream served that retrying cannot fix: 4xx, so npm and pnpm fail
  // at once instead of retrying a 5xx for a minute.
  EINTEGRITY: 403,
  ETARBALLORIGIN: 403,
  EINTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ErrorCodes, value);
}

export function statusOf(code: ErrorCode): number {
  return ErrorCodes[code];
}

/**
 * An error with a stable code. The message is written for people: it says what happened
 * and, where there is one, the next step. `toBody()` is the one error envelope.
 */
export interface ErrorOptions {
  /** Seconds after which the client may try again (429, 503): the Retry-After header. */
  retryAfter?: number;
}

export class GatekeeperError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options: ErrorOptions = {}) {
    super(message);
    this.name = 'GatekeeperError';
    this.code = code;
    this.details = details;
    if (options.retryAfter !== undefined) this.retryAfter = Math.max(1, Math.ceil(options.retryAfter));
  }

  get status(): number {
    return statusOf(this.code);
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

export interface ErrorBody {
  error: string;
  code: ErrorCode;
  details?: Record<string, unknown>;
}

/** The longest message a body carries: a message that quotes its input never echoes all of it. */
export const MAX_BODY_MESSAGE = 2000;

/**
 * `{"error": "[CODE] message", "code": "CODE"}`: npm prints the `error` field verbatim, so it is
 * one line without control characters or bidi controls whatever a message quoted, and a message
 * longer than MAX_BODY_MESSAGE loses its middle, never its next step. (Messages quote others'
 * text through `quoteText`, which bounds it where it is quoted; this is the last line of defence.)
 */
export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  const text = fitText(oneLine(message), MAX_BODY_MESSAGE);
  const body: ErrorBody = { error: `[${code}] ${text}`, code };
  if (details && Object.keys(details).length > 0) body.details = details;
  return body;
}

/**
 * Duck-typed check: code from another copy of this module (plugins loaded by Verdaccio
 * from the build output, tests running the sources) must be recognised too.
 */
export function asGatekeeperError(err: unknown): GatekeeperError | undefined {
  if (err instanceof GatekeeperError) return err;
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; details?: unknown; name?: unknown; retryAfter?: unknown };
    if (e.name === 'GatekeeperError' && isErrorCode(e.code)) {
      const retryAfter = typeof e.retryAfter === 'number' ? e.retryAfter : undefined;
      return new GatekeeperError(e.code, String(e.message), e.details as Record<string, unknown> | undefined, { retryAfter });
    }
  }
  return undefined;
}

export const validation = (message: string, details?: Record<string, unknown>): GatekeeperError =>
  new GatekeeperError('EVALIDATION', message, details);
export const notFound = (message: string): GatekeeperError => new GatekeeperError('ENOTFOUND', message);
export const conflict = (message: string, details?: Record<string, unknown>): GatekeeperError =>
  new GatekeeperError('ECONFLICT', message, details);
export const forbidden = (message: string): GatekeeperError => new GatekeeperError('EFORBIDDEN', message);

/** The longest status text we send: clients print it whole, proxies may not like more. */
export const MAX_STATUS_TEXT = 400;

/**
 * An HTTP reason phrase carrying the message: pnpm, yarn 4 and bun print the status text,
 * not the body. Only printable ASCII survives (a reason phrase cannot carry CR, LF or other
 * control characters, and non-ASCII is shown garbled), runs of white space become one, and a
 * longer text loses its middle at MAX_STATUS_TEXT (its end is the next step).
 */
export function statusText(text: string): string {
  const cleaned = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u201c\u201d\u201e]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return fitText(cleaned, MAX_STATUS_TEXT);
}

/** Everything an error response is made of; `writeError` sends it. */
export interface HttpError {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: ErrorBody;
}

export function httpError(err: GatekeeperError): HttpError {
  const body = err.toBody();
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (err.retryAfter !== undefined) headers['retry-after'] = String(err.retryAfter);
  // No WWW-Authenticate on 401: npm then prints "your authentication token seems to be
  // invalid" instead of our message, which says why and what to do.
  return { status: err.status, statusText: statusText(body.error), headers, body };
}

/**
 * Any thrown value as a GatekeeperError: ours as they are, anything else as the fallback the
 * caller names (a gate path denies with EPOLICYUNAVAILABLE, the admin API says EINTERNAL).
 */
export function toGatekeeperError(err: unknown, fallback: (err: unknown) => GatekeeperError): GatekeeperError {
  return asGatekeeperError(err) ?? fallback(err);
}

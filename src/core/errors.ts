import { fitText, oneLine, thenSentence } from './text';

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
  // Refusals of what the upstream served, or of how it answered, that retrying cannot fix: 4xx,
  // so npm and pnpm fail at once instead of retrying a 5xx for a minute (yarn 1 then prints the reason too).
  EINTEGRITY: 403,
  ETARBALLORIGIN: 403,
  EUPSTREAMTOOLARGE: 403,
  // The upstream refused the gatekeeper (401, 403: its credentials), redirected it, or answered another 4xx but 408 and 429.
  EUPSTREAMREFUSED: 403,
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
  /** The message in parts, for a status text that cannot hold the whole message (see `statusText`). */
  short?: ShortForm;
}

/**
 * A message in parts, for the status text when the whole `[CODE] message` is longer than
 * MAX_STATUS_TEXT: what happened, the next step, and what may follow it.
 */
export interface ShortForm {
  /**
   * What happened, most complete first (a refusal's reason, then its brief form without long
   * quoted values): the first that fits with the next step is used, else the last, cut at its
   * end. Each starts with what matters most (the package@version and what is wrong).
   */
  what: readonly string[];
  /** The next step: kept whole. */
  next: string;
  /**
   * Said after the next step, each whole or not at all, with its own leading separator (the
   * console's page, how many versions are blocked): a shorter `what` is taken to keep them all.
   */
  more?: readonly string[];
}

export class GatekeeperError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly retryAfter?: number;
  readonly short?: ShortForm;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options: ErrorOptions = {}) {
    super(message);
    this.name = 'GatekeeperError';
    this.code = code;
    this.details = details;
    if (options.retryAfter !== undefined) this.retryAfter = Math.max(1, Math.ceil(options.retryAfter));
    if (options.short !== undefined) this.short = options.short;
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
    const e = err as { code?: unknown; message?: unknown; details?: unknown; name?: unknown; retryAfter?: unknown; short?: unknown };
    if (e.name === 'GatekeeperError' && isErrorCode(e.code)) {
      const retryAfter = typeof e.retryAfter === 'number' ? e.retryAfter : undefined;
      return new GatekeeperError(e.code, String(e.message), e.details as Record<string, unknown> | undefined, { retryAfter, short: asShortForm(e.short) });
    }
  }
  return undefined;
}

function asShortForm(value: unknown): ShortForm | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as { what?: unknown; next?: unknown; more?: unknown };
  const strings = (list: unknown): list is string[] => Array.isArray(list) && list.every((x) => typeof x === 'string');
  if (!strings(v.what) || typeof v.next !== 'string' || (v.more !== undefined && !strings(v.more))) return undefined;
  return { what: v.what, next: v.next, ...(v.more !== undefined ? { more: v.more } : {}) };
}

export const validation = (message: string, details?: Record<string, unknown>): GatekeeperError =>
  new GatekeeperError('EVALIDATION', message, details);
export const notFound = (message: string): GatekeeperError => new GatekeeperError('ENOTFOUND', message);
export const conflict = (message: string, details?: Record<string, unknown>): GatekeeperError =>
  new GatekeeperError('ECONFLICT', message, details);
export const forbidden = (message: string): GatekeeperError => new GatekeeperError('EFORBIDDEN', message);

/**
 * The longest status text we send. Node's http client reads a reason phrase up to its 16 KB
 * header limit and undici (fetch) one longer still, and pnpm and yarn 4 print 400 characters
 * whole (test/integration/clients.test.ts); 400 keeps it a readable line in a terminal, far
 * below what proxies buffer for a response's headers. What a longer message keeps: `statusText`.
 */
export const MAX_STATUS_TEXT = 400;

/** The least room `what` is cut to before the next step (with its `[CODE] `); with less, the text loses its middle instead. */
const MIN_WHAT = 30;

/**
 * An HTTP reason phrase carrying the message: pnpm, yarn 4 and bun print the status text,
 * not the body. Only printable ASCII survives (a reason phrase cannot carry CR, LF or other
 * control characters, and non-ASCII is shown garbled) and runs of white space become one.
 *
 * A text longer than MAX_STATUS_TEXT is made from its `short` form when it has one: the first
 * `what` (a refusal's reason, its brief form, the brief without the package@version) that fits
 * with the whole next step and everything in `more`; else the first that fits with the next
 * step, with what of `more` still fits; else the last `what` cut at its end. What the developer
 * needs (the code, the package@version, what is wrong, the whole next step) is kept; only a
 * next step that leaves less than MIN_WHAT characters (most name the package@version twice:
 * one of 120 characters or more) loses its middle. A text without a short form loses its
 * middle (its end is the next step).
 */
export function statusText(text: string, short?: ShortForm): string {
  const whole = printable(text).trim();
  const whats = (short?.what ?? []).map((w) => printable(w).trim()).filter((w) => w !== '');
  if (whole.length <= MAX_STATUS_TEXT || !short || whats.length === 0) return fitText(whole, MAX_STATUS_TEXT);
  const next = printable(short.next).trim();
  const extras = (short.more ?? []).map((m) => printable(m).trimEnd()).filter((m) => m.trim() !== '');
  const join = (what: string, separator?: string) => (next === '' ? what : separator === undefined ? thenSentence(what, next) : `${what}${separator}${next}`);
  const fits = (t: string) => t.length <= MAX_STATUS_TEXT;
  // Each extra that still fits, in order.
  const withExtras = (t: string) => extras.reduce((acc, extra) => (fits(acc + extra) ? acc + extra : acc), t);
  // A shorter what with every extra (the console's page is a next step too), else the most
  // complete what that fits with what extras still fit, else the last cut at its end.
  const all = whats.map((w) => join(w) + extras.join('')).find(fits);
  if (all !== undefined) return all;
  const some = whats.map((w) => join(w)).find(fits);
  if (some !== undefined) return withExtras(some);
  const last = whats[whats.length - 1];
  // "<what cut>... <next>"
  const room = MAX_STATUS_TEXT - join('', ' ').length;
  if (room < MIN_WHAT) return fitText(join(last), MAX_STATUS_TEXT);
  return withExtras(join(`${cutEnd(last, room - 3)}...`, ' '));
}

/** The start of `text`, at most `length` characters: not ending inside a word (unless the word is long) or on punctuation. */
function cutEnd(text: string, length: number): string {
  let cut = text.slice(0, length);
  if (/\w$/.test(cut) && /^\w/.test(text.slice(length))) {
    const space = cut.lastIndexOf(' ');
    if (space > 0 && space >= length - 20) cut = cut.slice(0, space);
  }
  return cut.replace(/[\s.,;:(]+$/, '');
}

/** Text as a reason phrase may carry it: printable ASCII, runs of white space as one space (not trimmed). */
function printable(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u201c\u201d\u201e]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\s+/g, ' ');
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
  // The short form's first `what` carries the code as the body's message does.
  const short = err.short && { ...err.short, what: err.short.what.map((w) => `[${err.code}] ${w}`) };
  return { status: err.status, statusText: statusText(body.error, short), headers, body };
}

/**
 * Any thrown value as a GatekeeperError: ours as they are, anything else as the fallback the
 * caller names (a gate path denies with EPOLICYUNAVAILABLE, the admin API says EINTERNAL).
 */
export function toGatekeeperError(err: unknown, fallback: (err: unknown) => GatekeeperError): GatekeeperError {
  return asGatekeeperError(err) ?? fallback(err);
}

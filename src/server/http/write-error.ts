import type { ServerResponse } from 'node:http';
import { ErrorCode, GatekeeperError, httpError, toGatekeeperError } from '../../core/errors';
import { databaseFailure } from '../../db/errors';

/**
 * The one error writer. Every error response of the registry, the admin API, login, audit
 * and the plugins goes through here: the status, the status text (the `[CODE] message`, for
 * clients that print only that), the headers and the JSON body all come from the code.
 * When the response has already started, the connection is cut instead: a half-sent body
 * must not look complete.
 */
export function writeError(res: ServerResponse, err: GatekeeperError, extraHeaders: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const http = httpError(err);
  markErrorCode(res, err.code);
  (res as ServerResponse & { [SENT]?: SentError })[SENT] = { code: err.code, message: err.message };
  const payload = JSON.stringify(http.body);
  for (const name of res.getHeaderNames()) {
    // Headers a handler set for a success (etag, content-encoding, npm-notice) do not belong to an error.
    if (!KEEP_ON_ERROR.has(name)) res.removeHeader(name);
  }
  res.statusCode = http.status;
  res.statusMessage = http.statusText;
  for (const [name, value] of Object.entries({ ...http.headers, ...extraHeaders })) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(res.req?.method === 'HEAD' ? undefined : payload);
}

const CODE = Symbol.for('npm-gatekeeper.error-code');

/** Remembers the code a response was refused with (the metrics count requests by it). */
export function markErrorCode(res: ServerResponse, code: ErrorCode): void {
  (res as ServerResponse & { [CODE]?: ErrorCode })[CODE] = code;
}

/** The code the response was refused with; undefined for a response that is no refusal. */
export function errorCodeOf(res: ServerResponse): ErrorCode | undefined {
  return (res as ServerResponse & { [CODE]?: ErrorCode })[CODE];
}

const SENT = Symbol.for('npm-gatekeeper.error-sent');

/** The refusal a response was written with: its code and message (what the client was told). */
export interface SentError {
  code: ErrorCode;
  message: string;
}

/** The refusal writeError wrote to the response; undefined when it wrote none. */
export function errorSentOn(res: ServerResponse): SentError | undefined {
  return (res as ServerResponse & { [SENT]?: SentError })[SENT];
}

/** Response headers that stay when an error replaces a response (CORS, connection handling). */
const KEEP_ON_ERROR = new Set(['access-control-allow-origin', 'vary', 'connection', 'x-request-id']);

/** `writeError` for any thrown value, with the fallback for values that are not ours. */
export function writeAnyError(res: ServerResponse, err: unknown, fallback: (err: unknown) => GatekeeperError): void {
  // The database as the cause (past its deadline, unreachable) is named as such, wherever it was not mapped.
  writeError(res, toGatekeeperError(err, (e) => databaseFailure(e) ?? fallback(e)));
}

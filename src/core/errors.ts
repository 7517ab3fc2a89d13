/**
 * Stable error codes. Every error a user or an API client can see carries one of these
 * codes; HTTP statuses are derived from the code in exactly one place (`statusOf`).
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
  EPOLICYUNAVAILABLE: 503,
  // Publishing.
  EVERSIONEXISTS: 409,
  ENOTPRIVATE: 403,
  EUPSTREAMNAME: 409,
  EUNPUBLISHWINDOW: 403,
  EBADPUBLISH: 400,
  // Identity and access.
  EUNAUTHENTICATED: 401,
  EFORBIDDEN: 403,
  EBADCREDENTIALS: 401,
  EUSERDISABLED: 401,
  ETOKENREVOKED: 401,
  ESELFREGISTRATION: 403,
  // Input and resources.
  EVALIDATION: 400,
  EINVALIDNAME: 400,
  EINVALIDVERSION: 400,
  EINVALIDRANGE: 400,
  ENOTFOUND: 404,
  ECONFLICT: 409,
  EPAYLOADTOOLARGE: 413,
  // Infrastructure.
  EDATABASE: 503,
  EUPSTREAM: 502,
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
export class GatekeeperError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'GatekeeperError';
    this.code = code;
    this.details = details;
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

/** `{"error": "[CODE] message", "code": "CODE"}`: npm prints the `error` field verbatim. */
export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  const body: ErrorBody = { error: `[${code}] ${message}`, code };
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
    const e = err as { code?: unknown; message?: unknown; details?: unknown; name?: unknown };
    if (e.name === 'GatekeeperError' && isErrorCode(e.code)) {
      return new GatekeeperError(e.code, String(e.message), e.details as Record<string, unknown> | undefined);
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

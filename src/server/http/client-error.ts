import type { Socket } from 'node:net';
import { GatekeeperError, httpError } from '../../core/errors';

/**
 * What the HTTP parser refuses before any handler sees a request (Node's 'clientError'): a
 * malformed request line or header, a bad Content-Length, headers too large, headers that did
 * not arrive in time. Node would answer these with a bare status and no body, or not at all; here
 * they get the one error envelope, the `[CODE] message` in the status text too, and the
 * connection is closed (the parser cannot go on reading it). A connection that is already gone
 * or half-answered is just destroyed.
 */
export function refusalOfClientError(err: { code?: unknown }): GatekeeperError | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return new GatekeeperError('EHEADERSTOOLARGE', 'the request headers are larger than this server reads. Send fewer or shorter headers');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatekeeperError('EREQUESTTIMEOUT', 'the request headers did not arrive in time. Send the request again');
    default:
      return new GatekeeperError('EVALIDATION', 'the request is not valid HTTP/1.1 (its request line, a header or its length could not be read). Check what the client sent');
  }
}

export function onClientError(err: Error & { code?: unknown }, socket: Socket): void {
  const refusal = refusalOfClientError(err);
  if (!refusal || !socket.writable || (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const http = httpError(refusal);
  const body = JSON.stringify(http.body);
  const head = [`HTTP/1.1 ${http.status} ${http.statusText}`, ...Object.entries(http.headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', ''].join('\r\n');
  socket.end(head + body);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GatekeeperError, httpError } from '../../core/errors';
import { writeError } from './write-error';

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
  endWithRefusal(socket, refusal);
}

/**
 * A CONNECT request (Node's 'connect'): this is a registry, not a proxy. Node would close the
 * connection without a word; it gets the envelope, and the connection is closed.
 */
export function onConnect(_req: IncomingMessage, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  endWithRefusal(socket, new GatekeeperError('EMETHODNOTALLOWED', 'CONNECT is not allowed: this is an npm registry, not a proxy. Point the client\'s proxy setting elsewhere, and its registry setting here'), { allow: 'GET, HEAD, PUT, POST, DELETE, PATCH' });
}

/**
 * A request whose Expect header asks for anything but 100-continue (Node's
 * 'checkExpectation'), which Node would answer with a bare 417.
 */
export function onUnmetExpectation(_req: IncomingMessage, res: ServerResponse): void {
  writeError(res, new GatekeeperError('EVALIDATION', 'the Expect header asks for something this server does not do (it knows only 100-continue). Send the request without it'));
}

/** Writes the envelope straight to the socket (no response object exists) and closes it. */
function endWithRefusal(socket: Socket, refusal: GatekeeperError, extra: Record<string, string> = {}): void {
  const http = httpError(refusal);
  const body = JSON.stringify(http.body);
  const head = [`HTTP/1.1 ${http.status} ${http.statusText}`, ...Object.entries({ ...http.headers, ...extra }).map(([k, v]) => `${k}: ${v}`), `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', ''].join('\r\n');
  socket.end(head + body);
}

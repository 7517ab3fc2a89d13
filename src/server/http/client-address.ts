import type { IncomingMessage } from 'node:http';

/** express's compiled 'trust proxy' test: is the address at this hop a trusted proxy? */
export type TrustProxyFn = (address: string, hop: number) => boolean;

/**
 * The client's address exactly as express's req.ip computes it under 'trust proxy': the peer,
 * then X-Forwarded-For from its right end for as long as each address so far is a trusted
 * proxy. Without a trust test (GATEKEEPER_TRUST_PROXY unset) the peer's address, and the
 * header is not read. For the fast path, which answers before express sees the request: only
 * the entries it steps over are cut out of the header (not every entry a client sent).
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxyFn | undefined): string | null {
  const peer = req.socket.remoteAddress ?? null;
  if (!trust || !peer) return peer;
  const raw = req.headers['x-forwarded-for'];
  if (!raw) return peer;
  const header = Array.isArray(raw) ? raw.join(',') : raw;
  let address = peer;
  let from = header.length - 1;
  for (let hop = 0; from >= 0 && trust(address, hop); hop++) {
    const [entry, next] = entryBefore(header, from);
    if (entry === undefined) break;
    address = entry;
    from = next;
  }
  return address;
}

/**
 * The request's protocol exactly as express's req.protocol computes it under 'trust proxy':
 * `https` on a TLS socket, else `http`; from a trusted proxy, the first X-Forwarded-Proto
 * entry instead. The fast path keys cached responses by it, as the full path does.
 */
export function requestProtocol(req: IncomingMessage, trust: TrustProxyFn | undefined): string {
  const own = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const peer = req.socket.remoteAddress;
  if (!trust || !peer || !trust(peer, 0)) return own;
  const raw = req.headers['x-forwarded-proto'];
  const header = (Array.isArray(raw) ? raw[0] : raw) || own;
  const comma = header.indexOf(',');
  return (comma === -1 ? header : header.substring(0, comma)).trim();
}

/**
 * The X-Forwarded-For entry that ends at or before `from`, read as the `forwarded` package
 * (express) reads the header: comma-separated, spaces around an entry dropped, empty entries
 * skipped. Returns the entry (undefined when none is left) and where to look for the one before it.
 */
function entryBefore(header: string, from: number): [string | undefined, number] {
  let end = from + 1;
  let start = end;
  for (let i = from; i >= 0; i--) {
    const c = header.charCodeAt(i);
    if (c === 0x20) {
      if (start === end) start = end = i;
    } else if (c === 0x2c) {
      if (start !== end) return [header.substring(start, end), i - 1];
      start = end = i;
    } else {
      start = i;
    }
  }
  return [start !== end ? header.substring(start, end) : undefined, -1];
}

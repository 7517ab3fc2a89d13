import type { IncomingMessage } from 'node:http';

/** express's compiled 'trust proxy' test: is the address at this hop a trusted proxy? */
export type TrustProxyFn = (address: string, hop: number) => boolean;

/**
 * The client's address exactly as express's req.ip computes it under 'trust proxy': the peer,
 * then X-Forwarded-For from its right end for as long as each address so far is a trusted
 * proxy. Without a trust test (GATEKEEPER_TRUST_PROXY unset) the peer's address, and the
 * header is not read. For the fast path, which answers before express sees the request.
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxyFn | undefined): string | null {
  const peer = req.socket.remoteAddress ?? null;
  if (!trust || !peer) return peer;
  const header = req.headers['x-forwarded-for'];
  if (!header) return peer;
  const hops = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .reverse();
  let address = peer;
  for (let i = 0; i < hops.length && trust(address, i); i++) address = hops[i];
  return address;
}

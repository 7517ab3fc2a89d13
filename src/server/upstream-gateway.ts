import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { asGatekeeperError, GatekeeperError } from '../core/errors';
import { isValidPackageName } from '../core/names';
import { normalizePackument } from '../core/packument-validate';
import type { Packument } from '../core/packument';
import { noteUnpublished } from './upstream-merge';

/**
 * What Verdaccio's uplink talks to, in front of the upstream client. Every packument Verdaccio
 * would store is fetched through the upstream client (deadline, size limit, npm's proxy and CA
 * settings) and validated and normalised before Verdaccio sees it, so no upstream document can
 * crash Verdaccio's merge code or reach storage unchecked. `attach` makes the uplink ask for
 * packuments in process (no loopback hop, no second parse); its search, and packuments when
 * nothing is attached, go to a loopback server.
 *
 * It never serves tarballs: the gate fetches those itself (origin, integrity, inspection).
 * Its URL carries a random secret, so other local processes cannot use it as an open proxy
 * to an upstream that needs credentials. It answers Verdaccio with a status only; the error
 * it met is kept per package for a moment, so the gate can tell the client what happened
 * instead of Verdaccio's "not found".
 */

export interface GatewayClient {
  packument(name: string, options: { etag?: string }): Promise<{ status: 200; body: unknown; etag?: string } | { status: 304 } | { status: 404 }>;
  /** The upstream's search answer (validated JSON), for Verdaccio's uplink search. */
  search(query: string): Promise<unknown>;
  /** Told of each packument the upstream sent, once validated and normalised (before Verdaccio has it). */
  fetched?(name: string, packument: Packument): void;
}

type UplinkAnswer = { status: 200; body: unknown; etag?: string } | { status: 304 } | { status: 404 };

/** The uplink's name in Verdaccio's configuration (verdaccio-config.ts). */
export const UPLINK_NAME = 'upstream';

/** What Verdaccio 6.8's uplink object (up-storage) offers for packuments. */
interface VerdaccioUplink {
  getRemoteMetadata(name: string, options: { etag?: unknown } | undefined, callback: (err: unknown, body?: unknown, etag?: string) => void): void;
}

export interface UpstreamGateway {
  /** The uplink URL for Verdaccio (ends with a slash): its search, and packuments when not attached. */
  url: string;
  /**
   * Makes Verdaccio's uplink read packuments in process, through the same fetch, validation
   * and normalisation, without the loopback HTTP hop (and without serialising each document
   * for Verdaccio to parse again). False when the storage has no such uplink.
   */
  attach(storage: unknown): boolean;
  /** Requests the loopback server has answered (search, and packuments when not attached). */
  readonly httpReads: number;
  /** The error the last fetch of this package met, if it was within the last few seconds. */
  failureFor(name: string): GatekeeperError | undefined;
  /** Versions dropped from the package's last upstream document, with why. */
  droppedFor(name: string): ReadonlyArray<{ version: string; reason: string }>;
  close(): Promise<void>;
}

const FAILURE_MEMORY_MS = 30_000;
const MAX_REMEMBERED = 10_000;

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
}

export async function startUpstreamGateway(client: GatewayClient, logger: Logger): Promise<UpstreamGateway> {
  const secret = randomBytes(16).toString('hex');
  const prefix = `/${secret}/`;
  const failures = new Map<string, { at: number; error: GatekeeperError }>();
  const dropped = new Map<string, Array<{ version: string; reason: string }>>();

  const answer = (res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  /**
   * One upstream packument for Verdaccio: fetched through the client, validated and
   * normalised. A failure is remembered for the package (failureFor) and thrown.
   */
  async function fetchPackument(name: string, etag: string | undefined): Promise<UplinkAnswer> {
    try {
      const fetched = await client.packument(name, { etag });
      if (fetched.status !== 200) return fetched;
      const normalised = normalizePackument(fetched.body, name);
      if (normalised.dropped.length > 0) {
        remember(dropped, name, normalised.dropped);
        logger.warn({ package: name, dropped: normalised.dropped.slice(0, 20) }, 'upstream packument had broken versions; they were dropped');
      } else {
        dropped.delete(name);
      }
      failures.delete(name);
      noteUnpublished(normalised.packument, normalised.unpublished);
      client.fetched?.(name, normalised.packument);
      return fetched.etag ? { status: 200, body: normalised.packument, etag: fetched.etag } : { status: 200, body: normalised.packument };
    } catch (err) {
      const known =
        asGatekeeperError(err) ??
        new GatekeeperError('EUPSTREAM', `${name} could not be read from the upstream (${(err as Error).message}). Try again later`);
      if (!asGatekeeperError(err)) logger.error({ err, package: name }, 'upstream gateway failed');
      remember(failures, name, { at: Date.now(), error: known });
      throw known;
    }
  }

  async function packument(res: http.ServerResponse, name: string, etag: string | undefined): Promise<void> {
    let fetched: UplinkAnswer;
    try {
      fetched = await fetchPackument(name, etag);
    } catch (err) {
      const known = err as GatekeeperError;
      return answer(res, known.status >= 500 ? known.status : 502, { error: known.message });
    }
    if (fetched.status === 404) return answer(res, 404, { error: 'not found' });
    if (fetched.status === 304) return answer(res, 304);
    answer(res, 200, fetched.body, fetched.etag ? { etag: fetched.etag } : {});
  }

  async function search(res: http.ServerResponse, query: string): Promise<void> {
    try {
      const body = await client.search(query);
      const objects = (body as { objects?: unknown })?.objects;
      answer(res, 200, { objects: Array.isArray(objects) ? objects.filter((o) => typeof (o as { package?: { name?: unknown } })?.package?.name === 'string') : [] });
    } catch (err) {
      logger.warn({ err }, 'upstream search failed');
      answer(res, 502, { error: (err as Error).message });
    }
  }

  let httpReads = 0;
  const server = http.createServer((req, res) => {
    httpReads++;
    const url = req.url ?? '';
    if (req.method !== 'GET' || !url.startsWith(prefix)) return answer(res, 404, { error: 'not found' });
    const rest = url.slice(prefix.length);
    if (rest.startsWith('-/v1/search?')) return void search(res, rest.slice('-/v1/search?'.length));
    let name: string;
    try {
      name = decodeURIComponent(rest.split('?')[0]);
    } catch {
      return answer(res, 404, { error: 'not found' });
    }
    if (!isValidPackageName(name)) return answer(res, 404, { error: 'not found' });
    const etag = req.headers['if-none-match'];
    void packument(res, name, typeof etag === 'string' ? etag : undefined);
  });
  // Only Verdaccio's uplink agent connects here, over loopback, with a bounded pool. The server
  // never closes an idle connection itself: one it closed just as the agent sent the next
  // request on it would fail that request (Verdaccio does not send it again).
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    failureFor(name) {
      const failure = failures.get(name);
      return failure && Date.now() - failure.at < FAILURE_MEMORY_MS ? failure.error : undefined;
    },
    droppedFor: (name) => dropped.get(name) ?? [],
    get httpReads() {
      return httpReads;
    },
    attach(storage) {
      const uplink = (storage as { uplinks?: Record<string, VerdaccioUplink | undefined> }).uplinks?.[UPLINK_NAME];
      if (typeof uplink?.getRemoteMetadata !== 'function') return false;
      uplink.getRemoteMetadata = (name, options, callback) => {
        fetchPackument(name, typeof options?.etag === 'string' ? options.etag : undefined).then(
          (fetched) => {
            if (fetched.status === 200) return callback(null, fetched.body, fetched.etag);
            // As Verdaccio's own uplink reports them: 404 "not found", 304 an error with remoteStatus.
            const error = Object.assign(new Error(fetched.status === 404 ? 'no such package available' : 'not modified'), {
              status: fetched.status === 404 ? 404 : 500,
              remoteStatus: fetched.status,
            });
            callback(error);
          },
          (err: GatekeeperError) => callback(Object.assign(new Error(err.message), { status: 500, remoteStatus: err.status })),
        );
      };
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * One HTTP request from a chosen local address (127.0.0.x), without keep-alive, for tests
 * where the client address matters (login throttling, trusted proxies, load balancers).
 */
import http from 'node:http';

export interface Reply {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
}

export function requestFrom(base: string, method: string, path: string, opts: { from?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const url = new URL(path, base);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: opts.from,
        agent: false,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, text, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** npm's couch login (`npm login --auth-type=legacy`), from a chosen local address. */
export function couchLogin(base: string, username: string, password: string, opts: { from?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return requestFrom(base, 'PUT', `-/user/org.couchdb.user:${encodeURIComponent(username)}`, {
    ...opts,
    body: { _id: `org.couchdb.user:${username}`, name: username, password, type: 'user', roles: [] },
  });
}

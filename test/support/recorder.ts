/**
 * A small HTTP server on 127.0.0.1 that records every request (method, path, headers, raw
 * body) and answers what the test says: a webhook receiver, an advisory feed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body as received (signatures are checked over these bytes). */
  raw: Buffer;
  /** What the server answered. */
  status: number;
}

export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface Recorder {
  url: string;
  requests: Recorded[];
  /** The requests to one path. */
  to(path: string): Recorded[];
  close(): Promise<void>;
}

export async function startRecorder(answer: (req: { method: string; path: string; index: number }) => Answer): Promise<Recorder> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const index = requests.filter((r) => r.path === path).length;
      const reply = answer({ method: req.method ?? 'GET', path, index });
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, raw: Buffer.concat(chunks), status: reply.status });
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

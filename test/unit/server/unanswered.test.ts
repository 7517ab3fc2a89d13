/**
 * What express leaves to its final handler (no middleware answered, or an error none wrote)
 * is written by the gate's error writer: a code, the message in the body and the status text,
 * not express's HTML page. The gatekeeper hands writeUnanswered to the Verdaccio app as its
 * final callback (src/server/start.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { writeUnanswered } from '../../../src/server/registry/routes';

describe('writeUnanswered', () => {
  let server: http.Server;
  let base: string;
  const logged: unknown[] = [];

  beforeAll(async () => {
    const app = express();
    app.get('/fails', (_req, _res, next) => next(new Error('a handler failed without writing')));
    const logger = { error: (obj: unknown) => logged.push(obj) } as never;
    server = http.createServer((req, res) => app(req as express.Request, res as express.Response, (err?: unknown) => writeUnanswered({ logger }, req, res, err)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers a request no middleware answered with a coded 404, in the body and the status text', async () => {
    const res = await fetch(`${base}/@ac%6de/w6/-rev/1-a?x=1`, { method: 'DELETE' });
    const message = '[ENOTFOUND] this registry has no route DELETE /@ac%6de/w6/-rev/1-a. docs/security.md lists the routes it answers';
    expect([res.status, res.statusText, res.headers.get('content-type')]).toEqual([404, message, 'application/json; charset=utf-8']);
    expect(await res.json()).toEqual({ error: message, code: 'ENOTFOUND' });
  });

  it('answers an error no middleware wrote with a coded 500, and logs it', async () => {
    const res = await fetch(`${base}/fails`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/^\[EINTERNAL\] the request failed inside the gatekeeper/), code: 'EINTERNAL' });
    expect(logged).toHaveLength(1);
  });
});

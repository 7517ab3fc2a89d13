/**
 * The route table owns the registry's HTTP surface: every route Verdaccio defines is either
 * in the table or refused with a code; side doors (the stored package.json, /-/all, search,
 * prototype keys, Verdaccio's token and profile endpoints) never show what the gate hides;
 * bodies are refused before they are read when they are too large or anonymous.
 */
import http from 'node:http';
import net from 'node:net';
import { ErrorCodes, statusText } from '../../src/core/errors';
import { REGISTRY_ROUTES, registryRoutes } from '../../src/server/registry/routes';
import { loginToken } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import { integrityOf } from '../support/tarball';
import { gatekeeperSuite } from '../support/suite';

interface Answer {
  status: number;
  statusText: string;
  text: string;
  body: any;
  headers: Headers;
}

async function call(base: string, method: string, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  }
  const res = await fetch(new URL(path.slice(1), base), { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, statusText: res.statusText, text, body: parsed, headers: res.headers };
}

/** A refusal from the one error writer: a known code, the `[CODE]` message in body and status text. */
function expectCoded(a: Answer, code?: string): void {
  expect(a.body).toEqual(expect.objectContaining({ code: expect.any(String), error: expect.stringMatching(/^\[[A-Z]+\] /) }));
  expect(Object.keys(ErrorCodes)).toContain(a.body.code);
  expect(a.status).toBe(ErrorCodes[a.body.code as keyof typeof ErrorCodes]);
  expect(a.statusText).toBe(statusText(a.body.error));
  if (code) expect(a.body.code).toBe(code);
}

/**
 * A request through node:http, which (unlike fetch) sends any Host and Accept-Encoding and does
 * not decompress. With `first`, only the headers and that many bytes of a body are sent, never
 * the rest: a server that waited for the whole body before answering would never answer (the
 * test would time out).
 */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, first?: number): Promise<{ status: number; statusText: string; headers: http.IncomingHttpHeaders; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path.slice(1), base), { method, headers });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, bytes: Buffer.concat(chunks) });
        req.destroy();
      });
    });
    if (first === undefined) return void req.end();
    req.flushHeaders();
    if (first > 0) req.write(Buffer.alloc(first, 0x20));
  });
}

async function partialRequest(base: string, method: string, path: string, headers: Record<string, string>, first: number): Promise<{ status: number; statusText: string; body: any }> {
  const { status, statusText, bytes } = await rawRequest(base, method, path, headers, first);
  return { status, statusText, body: bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined };
}

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  name?: string;
  handle?: { stack?: ExpressLayer[] };
  regexp?: RegExp;
}

/** Every method and path Verdaccio's express application routes, nested routers included. */
function verdaccioRoutes(app: unknown): Array<{ method: string; path: string }> {
  const found: Array<{ method: string; path: string }> = [];
  const walk = (stack: ExpressLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) for (const method of Object.keys(layer.route.methods)) found.push({ method: method.toUpperCase(), path });
      } else if (layer.name === 'router' && layer.handle?.stack) {
        // Our admin API is mounted as a router of its own; it is not Verdaccio's.
        if (layer.regexp?.test('/-/gatekeeper/v1/health') && !layer.regexp.test('/side-door')) continue;
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as { _router: { stack: ExpressLayer[] } })._router.stack);
  return found;
}

const SAMPLES: Record<string, string> = {
  package: 'side-door',
  version: '2.0.0',
  filename: 'side-door-2.0.0.tgz',
  tag: 'beta',
  _rev: '-rev',
  revision: '1-abc',
  org_couchdb_user: 'org.couchdb.user:someone',
  tokenKey: 'abc',
  sessionId: 'abc',
};

/** Concrete URLs for an express path: each optional part with and without. */
function samplePaths(pattern: string): string[] {
  let variants = [pattern.replace('(/since)?', ''), pattern.replace('(/since)?', '/since')];
  variants = [...new Set(variants)];
  const out: string[] = [];
  for (const variant of variants) {
    const segments = variant.split('/').slice(1);
    let paths = [''];
    for (const segment of segments) {
      const optional = segment.endsWith('?');
      const name = segment.replace(/^:/, '').replace(/\?$/, '');
      const value = segment === '*' ? 'anything' : segment.startsWith(':') ? (SAMPLES[name] ?? 'x') : segment;
      paths = optional ? [...paths, ...paths.map((p) => `${p}/${value}`)] : paths.map((p) => `${p}/${value}`);
    }
    out.push(...paths.map((p) => p || '/'));
  }
  return [...new Set(out)];
}

describe('the route table owns the registry surface', () => {
  const s = gatekeeperSuite({
    packages: [
      {
        name: 'side-door',
        versions: [
          { version: '1.0.0', license: 'MIT' },
          { version: '2.0.0', license: 'MIT' },
        ],
      },
    ],
    settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'], shadowUpstream: false }] },
    policyMode: 'none',
    npm: false,
  });
  let readerToken: string;
  let publisherToken: string;

  beforeAll(async () => {
    await s.t.api('POST', '/approvals', { name: 'side-door', range: '1.0.0', reason: 'only the old one' });
    await s.t.api('POST', '/approvals', { name: '@acme/*', range: '*', reason: 'ours' });
    await s.t.api('POST', '/users', { username: 'reader1', password: 'reader1-password', role: 'reader' });
    await s.t.api('POST', '/users', { username: 'pub1', password: 'pub1-password', role: 'publisher' });
    readerToken = await loginToken(s.t.url, 'reader1', 'reader1-password');
    publisherToken = await loginToken(s.t.url, 'pub1', 'pub1-password');
    // Verdaccio stores the upstream document (with the hidden 2.0.0) once the gate has read it.
    expect((await call(s.t.url, 'GET', '/side-door')).status).toBe(200);
  });

  it('lists every route once, with a handler, an access rule and a body kind', () => {
    const names = REGISTRY_ROUTES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const r of REGISTRY_ROUTES) {
      expect(r.path.startsWith('/')).toBe(true);
      expect(['public', 'read', 'login', 'publish', 'own', 'metrics']).toContain(r.access);
      expect(['none', 'json', 'publish', 'stream']).toContain(r.body);
    }
    // Large bodies only where a publish happens, and only for routes that require a login.
    for (const r of REGISTRY_ROUTES.filter((r) => r.body === 'publish')) expect(r.access).toBe('publish');
  });

  it('passes a write on to Verdaccio for the package the gate checked, however the client spelled the path (a scope with a percent-escape)', async () => {
    const auth = { token: publisherToken };
    // The gate reads /@ac%6de/odd as @acme/odd; Verdaccio's router, left to itself, as a package @acme and a second segment.
    const published = await call(s.t.url, 'PUT', '/@ac%6de/odd', { ...auth, body: publishDocument('@acme/odd', '1.0.0') });
    expect(published.status).toBe(201);
    expect(Object.keys((await call(s.t.url, 'GET', '/@acme%2fodd', auth)).body.versions)).toEqual(['1.0.0']);
    expect((await call(s.t.url, 'PUT', '/@acme%2fodd', { ...auth, body: publishDocument('@acme/odd', '1.0.1') })).status).toBe(201);
    const forWrite = await call(s.t.url, 'GET', '/@ac%6de/odd?write=true', auth);
    expect([forWrite.status, forWrite.body.name]).toEqual([200, '@acme/odd']);
    const tagged = await call(s.t.url, 'PUT', '/-/package/@ac%6de/odd/dist-tags/be%74a', { ...auth, body: '"1.0.0"' });
    expect(tagged.status).toBe(201);
    expect((await call(s.t.url, 'GET', '/-/package/@acme%2fodd/dist-tags', auth)).body).toEqual({ latest: '1.0.1', beta: '1.0.0' });
    const revision = (await call(s.t.url, 'GET', '/@acme%2fodd?write=true', auth)).body._rev;
    const removed = await call(s.t.url, 'DELETE', `/@ac%6de/odd/-rev/${revision}`, auth);
    expect(removed.status).toBe(201);
    expectCoded(await call(s.t.url, 'GET', '/@acme%2fodd', auth), 'ENOTFOUND');
    const actions = ((await s.t.api('GET', '/audit?limit=50')).body.items as Array<{ action: string; package: string | null }>).filter((e) => e.package === '@acme/odd').map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['package.publish', 'package.dist_tag', 'package.unpublish']));
    expect(actions.filter((a) => a.endsWith('_refused'))).toEqual([]);
  });

  it("refuses each of Verdaccio's own routes that the table does not list, with a code", async () => {
    const routes = verdaccioRoutes(s.t.gk.verdaccioApp);
    const hiddenIntegrity = integrityOf(s.upstream.tarball('side-door', '2.0.0'));
    // The walk must see Verdaccio's router, or this test would prove nothing.
    expect(routes.length).toBeGreaterThanOrEqual(25);
    expect(routes).toEqual(expect.arrayContaining([{ method: 'GET', path: '/-/all(/since)?' }, { method: 'POST', path: '/-/npm/v1/tokens' }]));
    const refused: string[] = [];
    const listed: string[] = [];
    for (const { method, path } of routes) {
      for (const sample of samplePaths(path)) {
        const verdict = registryRoutes.match(method, sample);
        if (verdict.kind === 'match') {
          listed.push(`${method} ${sample} -> ${verdict.route.name}`);
          continue;
        }
        refused.push(`${method} ${sample}`);
        const answer = await call(s.t.url, method, sample, { token: s.t.adminToken, body: method === 'GET' || method === 'HEAD' ? undefined : {} });
        expect({ route: `${method} ${sample}`, status: answer.status }).toEqual({ route: `${method} ${sample}`, status: expect.any(Number) });
        expect([400, 404, 405]).toContain(answer.status);
        expectCoded(answer);
        // Nothing of a stored document: no version list, no tags, not the hidden version's integrity.
        expect(answer.text).not.toMatch(/"versions"|"dist-tags"|_uplinks/);
        expect(answer.text).not.toContain(hiddenIntegrity);
      }
    }
    expect(refused).toEqual(expect.arrayContaining(['GET /-/all', 'GET /-/all/since', 'GET /-/_view/starredByUser', 'GET /-/static/favicon.ico', 'PUT /-/user/org.couchdb.user:someone/-rev/1-abc', 'POST /-/package/side-door/dist-tags']));
    // Verdaccio's web UI at / is ours now: browsers are sent to the console, npm gets a coded 404.
    expect(listed).toContain('GET / -> root');
    const root = await call(s.t.url, 'GET', '/', { token: s.t.adminToken });
    expect(root.status).toBe(404);
    expectCoded(root);
    expect(listed.length).toBeGreaterThan(10);
  });

  it('never shows a hidden version through the stored package.json, to anonymous callers or readers', async () => {
    for (const token of [undefined, readerToken, s.t.adminToken]) {
      const answer = await call(s.t.url, 'GET', '/side-door/-/package.json', { token });
      expect(answer.status).toBe(404);
      expectCoded(answer, 'ENOTFOUND');
      expect(answer.text).not.toContain('2.0.0');
      expect(answer.text).not.toContain('_uplinks');
    }
    // The filtered document itself has only the approved version.
    const packument = await call(s.t.url, 'GET', '/side-door');
    expect(Object.keys(packument.body.versions)).toEqual(['1.0.0']);
  });

  it('answers /-/all with a refusal instead of a listing', async () => {
    for (const path of ['/-/all', '/-/all/since?stale=update_after&startkey=0']) {
      const answer = await call(s.t.url, 'GET', path);
      expect(answer.status).toBe(404);
      expectCoded(answer, 'ENOTFOUND');
    }
  });

  it('advertises only allowed versions in search', async () => {
    for (const version of ['1.0.0', '2.0.0']) {
      const put = await call(s.t.url, 'PUT', '/@acme%2ffindable', { token: publisherToken, body: publishDocument('@acme/findable', version, { manifest: { description: `the findable package ${version}` } }) });
      expect(put.status).toBe(201);
    }
    const before = await call(s.t.url, 'GET', '/-/v1/search?text=findable');
    expect(before.status).toBe(200);
    expect(before.body.objects.map((o: any) => [o.package.name, o.package.version])).toEqual([['@acme/findable', '2.0.0']]);

    expect((await s.t.api('POST', '/bans', { name: '@acme/findable', range: '2.0.0', reason: 'broken build' })).status).toBe(201);
    for (const token of [undefined, readerToken]) {
      const after = await call(s.t.url, 'GET', '/-/v1/search?text=findable', { token });
      expect(after.status).toBe(200);
      expect(after.body.objects.map((o: any) => [o.package.name, o.package.version])).toEqual([['@acme/findable', '1.0.0']]);
      expect(after.text).not.toContain('2.0.0');
    }
    expect((await s.t.api('POST', '/bans', { name: '@acme/findable', range: '*', reason: 'withdrawn' })).status).toBe(201);
    const none = await call(s.t.url, 'GET', '/-/v1/search?text=findable');
    expect(none.body.objects).toEqual([]);
  });

  it("lists local results when the upstream's search answers something that is not JSON (an HTML page), and past a package that lists no version (it hung)", async () => {
    const put = await call(s.t.url, 'PUT', '/@acme%2fsearchable', { token: publisherToken, body: publishDocument('@acme/searchable', '1.0.0', { manifest: { description: 'a searchable package' } }) });
    expect(put.status).toBe(201);
    // A package whose every version was unpublished one at a time: its document lists none.
    const emptied = await call(s.t.url, 'PUT', '/@acme%2fsearchable-emptied', { token: publisherToken, body: publishDocument('@acme/searchable-emptied', '1.0.0') });
    expect(emptied.status).toBe(201);
    const doc = (await call(s.t.url, 'GET', '/@acme%2fsearchable-emptied?write=true', { token: publisherToken })).body;
    const removed = await call(s.t.url, 'PUT', `/@acme%2fsearchable-emptied/-rev/${doc._rev}`, { token: publisherToken, body: { ...doc, versions: {}, 'dist-tags': {} } });
    expect(removed.status).toBe(201);
    s.upstream.fault({ path: '/-/v1/search' }, { status: 200, body: '<html><body>a captive portal</body></html>', headers: { 'content-type': 'text/html' } });
    try {
      const answer = await call(s.t.url, 'GET', '/-/v1/search?text=searchable');
      expect(answer.status).toBe(200);
      expect(answer.body.objects.map((o: any) => o.package.name)).toEqual(['@acme/searchable']);
      // The upstream's results are listed too, through the policy (side-door@2.0.0 is not approved).
      s.upstream.fault({ path: '/-/v1/search' }, { status: 200, body: JSON.stringify({ objects: [{ package: { name: 'side-door' } }, { package: { name: '../../etc' } }] }) });
      const upstream = await call(s.t.url, 'GET', '/-/v1/search?text=side');
      expect(upstream.body.objects.map((o: any) => [o.package.name, o.package.version])).toEqual([['side-door', '1.0.0']]);
    } finally {
      s.upstream.clearFaults();
    }
  });

  it('looks versions and tags up as own properties only', async () => {
    for (const spec of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
      const answer = await call(s.t.url, 'GET', `/side-door/${spec}`);
      expect({ spec, status: answer.status }).toEqual({ spec, status: 404 });
      expectCoded(answer, 'ENOTFOUND');
    }
    expect((await call(s.t.url, 'GET', '/side-door/latest')).body.version).toBe('1.0.0');
    const hidden = await call(s.t.url, 'GET', '/side-door/2.0.0');
    expectCoded(hidden, 'ENOTAPPROVED');
  });

  it("serves dist-tags from the filtered document", async () => {
    const tags = await call(s.t.url, 'GET', '/-/package/side-door/dist-tags');
    expect(tags.status).toBe(200);
    expect(tags.body).toEqual({ latest: '1.0.0' });
  });

  it("does not let Verdaccio mint tokens or answer profiles", async () => {
    const token = await call(s.t.url, 'POST', '/-/npm/v1/tokens', { token: s.t.adminToken, body: { password: 'x', readonly: false, cidr_whitelist: [] } });
    expect(token.status).toBeLessThan(500);
    if (token.status < 300) {
      // Whatever it answers must be one of our own tokens, which then works.
      const who = await call(s.t.url, 'GET', '/-/whoami', { token: token.body.token });
      expect(who.body).toEqual({ username: 'admin' });
    } else {
      expectCoded(token);
    }
    // Ours answers: a password change only (test/integration/passwords.test.ts); other properties are refused.
    const profile = await call(s.t.url, 'POST', '/-/npm/v1/user', { token: s.t.adminToken, body: { email: 'x@example.com' } });
    expect(profile.status).toBe(403);
    expectCoded(profile, 'ENOTSUPPORTED');
  });

  it('answers an unknown method with 405 and Allow, a malformed path with 400, an unknown path with 404', async () => {
    const patch = await call(s.t.url, 'PATCH', '/side-door', { body: {} });
    expectCoded(patch, 'EMETHODNOTALLOWED');
    expect(patch.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'PUT']);
    const malformed = await call(s.t.url, 'GET', '/%E0%A4%A');
    expectCoded(malformed, 'EVALIDATION');
    const nul = await call(s.t.url, 'GET', '/side-door/%00');
    expectCoded(nul, 'EVALIDATION');
    const unknown = await call(s.t.url, 'GET', '/-/verdaccio/data/packages');
    expectCoded(unknown, 'ENOTFOUND');
    expect(unknown.statusText).toMatch(/^\[ENOTFOUND\] this registry has no route GET \/-\/verdaccio\/data\/packages/);
  });

  it("answers OPTIONS and unknown methods on an admin path with that path's own methods", async () => {
    const options = await rawRequest(s.t.url, 'OPTIONS', '/-/gatekeeper/v1/users', {});
    expect(options.status).toBe(204);
    expect(String(options.headers.allow).split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    // Anonymous callers' admin changes (PUT here) are refused with 401 before anything else.
    for (const [method, headers] of [['TRACE', {}], ['PROPFIND', {}], ['PUT', { authorization: `Bearer ${s.t.adminToken}` }]] as const) {
      const refused = await rawRequest(s.t.url, method, '/-/gatekeeper/v1/users', headers);
      expect(refused.status).toBe(405);
      expect(String(refused.headers.allow).split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
      expect(JSON.parse(refused.bytes.toString('utf8')).error).toMatch(/^\[EMETHODNOTALLOWED\] \/-\/gatekeeper\/v1\/users does not answer /);
    }
    const unknown = await rawRequest(s.t.url, 'OPTIONS', '/-/gatekeeper/v1/no-such-thing?x=1', {});
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.bytes.toString('utf8')).error).toMatch(/^\[ENOTFOUND\] no admin route OPTIONS \/-\/gatekeeper\/v1\/no-such-thing; see /);
    const withId = await rawRequest(s.t.url, 'OPTIONS', '/-/gatekeeper/v1/users/7?x=1', {});
    expect(withId.status).toBe(204);
    expect(withId.headers.allow).toBeDefined();
  });

  it('refuses a Host header that is no host and port, before it reaches a tarball URL, a message or a cache key', async () => {
    const withHost = async (host: string, path: string): Promise<Answer> => {
      const answer = await rawRequest(s.t.url, 'GET', path, { host });
      const text = answer.bytes.toString('utf8');
      return { status: answer.status, statusText: answer.statusText, text, body: JSON.parse(text), headers: new Headers(answer.headers as Record<string, string>) };
    };
    // The last ones pass a plain pattern but fail Verdaccio's own check (its tarball URLs): refused here, not a 503 there.
    for (const host of ['x y', 'a"b', 'a/b?c#d', 'evil.example:1/../x', 'a@evil.example', 'host:99999999', 'registry_1', 'registry.example.', `${'a'.repeat(300)}.example`, 'registry.example:0', 'registry.example:65536', '256.0.0.1', 'a.1', '[1:2]']) {
      for (const path of ['/side-door', '/side-door/1.0.0', '/side-door/-/side-door-1.0.0.tgz', '/-/ping']) {
        const refused = await withHost(host, path);
        expectCoded(refused, 'EVALIDATION');
        expect(refused.body.error).toBe("[EVALIDATION] the Host header is not a host name with an optional port. Send the registry's host, as npm does (tarball URLs are built from it)");
      }
    }
    for (const host of ['registry.example:4873', 'registry-1', '127.0.0.1:9', '[::1]:4873', 'Registry.Example']) {
      const served = await withHost(host, '/side-door');
      expect([host, served.status]).toEqual([host, 200]);
      expect(served.body.versions['1.0.0'].dist.tarball).toBe(`http://${host.toLowerCase()}/side-door/-/side-door-1.0.0.tgz`);
    }
  });

  it('takes a declared empty JSON body as no body (clients send Content-Type on body-less calls)', async () => {
    const missing = await call(s.t.url, 'DELETE', '/-/gatekeeper/v1/bans/999999', { token: s.t.adminToken, body: '' });
    expectCoded(missing, 'ENOTFOUND');
    const tag = await call(s.t.url, 'PUT', '/-/package/side-door/dist-tags/beta', { token: s.t.adminToken, body: '' });
    expectCoded(tag);
    expect(tag.body.error).not.toMatch(/not valid JSON|stream/);
  });

  it("answers what Node's HTTP parser refuses with the error envelope, the message in the status text too", async () => {
    const { port } = new URL(s.t.url);
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request));
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      });
    const cases: Array<[string, string, number, string]> = [
      ['a lowercase method', 'get /-/ping HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'EVALIDATION'],
      ['a control character in a header', 'GET /-/ping HTTP/1.1\r\nhost: x\r\nx-a: b\u0001c\r\n\r\n', 400, 'EVALIDATION'],
      ['a Content-Length that is no number', 'POST /-/npm/v1/security/advisories/bulk HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n', 400, 'EVALIDATION'],
      ['two Content-Lengths', 'POST /-/npm/v1/security/advisories/bulk HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n{}', 400, 'EVALIDATION'],
      ['a target without a leading slash', 'GET -/ping HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'EVALIDATION'],
      ['headers larger than Node reads', `GET /-/ping HTTP/1.1\r\nhost: x\r\n${Array.from({ length: 3000 }, (_, i) => `x-h${i}: ${'v'.repeat(20)}`).join('\r\n')}\r\n\r\n`, 431, 'EHEADERSTOOLARGE'],
      // Answered by Node itself before any listener (a bare 417; no answer at all) without these.
      ['an Expect other than 100-continue', 'GET /-/ping HTTP/1.1\r\nhost: x\r\nexpect: something\r\nconnection: close\r\n\r\n', 400, 'EVALIDATION'],
      ['CONNECT to a host', 'CONNECT registry.example:443 HTTP/1.1\r\nhost: registry.example:443\r\n\r\n', 405, 'EMETHODNOTALLOWED'],
      ['CONNECT to a path', 'CONNECT /-/ping HTTP/1.1\r\nhost: x\r\n\r\n', 405, 'EMETHODNOTALLOWED'],
    ];
    for (const [what, request, status, code] of cases) {
      const answer = await raw(request);
      const [head, body] = answer.split('\r\n\r\n');
      const parsed = JSON.parse(body) as { error: string; code: string };
      expect([what, parsed.code]).toEqual([what, code]);
      expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${statusText(parsed.error)}`);
      expect(head.toLowerCase()).toContain('connection: close');
    }
    expect((await fetch(new URL('-/ping', s.t.url))).status).toBe(200);
  });

  it("answers a cached packument 304 for a weak, listed or * If-None-Match, and sends no gzip to 'gzip;q=0'", async () => {
    const first = await fetch(new URL('side-door', s.t.url));
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag') as string;
    for (const condition of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await fetch(new URL('side-door', s.t.url), { headers: { 'if-none-match': condition } });
      expect([condition, res.status]).toEqual([condition, 304]);
    }
    expect((await fetch(new URL('side-door', s.t.url), { headers: { 'if-none-match': '"nope"' } })).status).toBe(200);
    const refused = await rawRequest(s.t.url, 'GET', '/side-door', { 'accept-encoding': 'gzip;q=0, identity' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(Object.keys(JSON.parse(refused.bytes.toString('utf8')).versions)).toContain('1.0.0');
    expect((await rawRequest(s.t.url, 'GET', '/side-door', { 'accept-encoding': 'gzip, deflate, br' })).headers['content-encoding']).toBe('gzip');
  });

  it('tells an anonymous caller of whoami or a write that it needs a login, without saying every read does', async () => {
    for (const [method, path] of [['GET', '/-/whoami'], ['GET', '/-/npm/v1/tokens'], ['PUT', '/-/package/side-door/dist-tags/beta']] as const) {
      const res = await call(s.t.url, method, path, method === 'PUT' ? { body: '"1.0.0"' } : {});
      expectCoded(res, 'EUNAUTHENTICATED');
      expect(res.body.error).toBe(`[EUNAUTHENTICATED] this needs a login. Run 'npm login --registry ${s.t.url}' (with yarn 4: 'yarn npm login'), then try again`);
    }
  });

  it('sends the same Access-Control-Allow-Origin on a cached packument or tarball as on a fresh one', async () => {
    for (const path of ['side-door', 'side-door/-/side-door-1.0.0.tgz']) {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(new URL(path, s.t.url));
        expect([path, i, res.status, res.headers.get('access-control-allow-origin')]).toEqual([path, i, 200, '*']);
      }
    }
  });

  it('refuses an anonymous 30 MB publish before reading its body', async () => {
    const answer = await partialRequest(s.t.url, 'PUT', '/@acme%2fbig', { 'content-type': 'application/json', 'content-length': String(30 * 1024 * 1024) }, 1024);
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe('EUNAUTHENTICATED');
    expect(answer.statusText).toMatch(/^\[EUNAUTHENTICATED\] publishing needs a login/);
  });

  it('refuses an anonymous admin change before reading its body, but reads a sign-in', async () => {
    for (const [method, path] of [['POST', '/-/gatekeeper/v1/approvals'], ['PATCH', '/-/gatekeeper/v1/policy'], ['PUT', '/-/gatekeeper/v1/licenses'], ['DELETE', '/-/gatekeeper/v1/bans/1']]) {
      const anonymous = await partialRequest(s.t.url, method, path, { 'content-type': 'application/json', 'content-length': String(900 * 1024) }, 1024);
      expect({ method, path, ...anonymous }).toMatchObject({ method, path, status: 401, body: { code: 'EUNAUTHENTICATED' } });
      expect(anonymous.statusText).toBe("[EUNAUTHENTICATED] this route needs a token: log in with 'gatekeeper login' or 'npm login'");
    }
    const signIn = await call(s.t.url, 'POST', '/-/gatekeeper/v1/session', { body: { username: 'admin', password: 'not the password' } });
    expect(signIn.status).toBe(401);
    expect(signIn.body.code).not.toBe('EUNAUTHENTICATED');
  });

  it('refuses a body larger than the route takes before reading it, for anonymous and logged-in callers', async () => {
    const anonymous = await partialRequest(s.t.url, 'POST', '/-/gatekeeper/v1/session', { 'content-type': 'application/json', 'content-length': String(30 * 1024 * 1024) }, 1024);
    expect(anonymous).toMatchObject({ status: 413, body: { code: 'EPAYLOADTOOLARGE' } });
    const audit = await partialRequest(s.t.url, 'POST', '/-/npm/v1/security/advisories/bulk', { 'content-type': 'application/json', 'content-length': '999999999999' }, 10);
    expect(audit).toMatchObject({ status: 413, body: { code: 'EPAYLOADTOOLARGE' } });
    const login = await partialRequest(s.t.url, 'PUT', '/-/user/org.couchdb.user:admin', { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) }, 10);
    expect(login).toMatchObject({ status: 413, body: { code: 'EPAYLOADTOOLARGE' } });
    const publish = await partialRequest(
      s.t.url,
      'PUT',
      '/@acme%2fbig',
      { 'content-type': 'application/json', 'content-length': String(60 * 1024 * 1024), authorization: `Bearer ${publisherToken}` },
      1024,
    );
    expect(publish).toMatchObject({ status: 413, body: { code: 'EPAYLOADTOOLARGE' } });
  });

  it('cuts a chunked body at the route limit', async () => {
    const res = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(new URL('-/gatekeeper/v1/approvals', s.t.url), { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${s.t.adminToken}` } });
      req.on('error', (err) => (String(err).includes('EPIPE') || String(err).includes('ECONNRESET') ? undefined : reject(err)));
      req.on('response', (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.write('{"pattern":"');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once('drain', pump);
        }
        req.end('"}');
      };
      pump();
    });
    expect(res).toMatchObject({ status: 413, body: { code: 'EPAYLOADTOOLARGE' } });
  });
});

describe('under GATEKEEPER_REQUIRE_AUTH', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'private-world', versions: [{ version: '1.0.0', license: 'MIT' }] }], settings: { requireAuth: true }, policyMode: 'none', npm: false });

  it('gives anonymous callers liveness only from /health, and admins the whole report', async () => {
    const anonymous = await call(s.t.url, 'GET', '/-/gatekeeper/v1/health');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ ok: true });
    expect(anonymous.text).not.toContain(s.upstream.url.replace(/\/$/, ''));
    const admin = await call(s.t.url, 'GET', '/-/gatekeeper/v1/health', { token: s.t.adminToken });
    expect(admin.body.upstream.url).toBe(s.upstream.url);
  });

  it('refuses anonymous reads, search and audit with 401 and how to log in', async () => {
    for (const [method, path] of [
      ['GET', '/private-world'],
      ['GET', '/private-world/-/private-world-1.0.0.tgz'],
      ['GET', '/-/v1/search?text=private'],
      ['GET', '/-/package/private-world/dist-tags'],
      ['POST', '/-/npm/v1/security/advisories/bulk'],
      ['POST', '/-/npm/v1/security/audits/quick'],
    ]) {
      const answer = await call(s.t.url, method, path, method === 'POST' ? { body: { 'private-world': ['1.0.0'] } } : {});
      expect({ path, status: answer.status }).toEqual({ path, status: 401 });
      expectCoded(answer, 'EUNAUTHENTICATED');
      expect(answer.body.error).toContain('npm login --registry');
    }
    expect(s.upstream.requests.filter((r) => r.url.includes('security'))).toEqual([]);
  });
});

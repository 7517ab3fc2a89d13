/**
 * A corpus of hostile inputs against a running gatekeeper: names, versions, paths, bodies,
 * headers and upstream documents. Every answer must carry a stable code (in the body and the
 * status text), nothing but a declared availability error may be a 5xx, and the process
 * stays up and answers /-/ping afterwards.
 */
import fs from 'node:fs';
import http from 'node:http';
import { ErrorCodes, statusText } from '../../src/core/errors';
import { loginToken } from '../support/gatekeeper';
import { publishDocument } from '../support/publish';
import { gatekeeperSuite } from '../support/suite';

/** 5xx codes that say a dependency is unavailable: allowed, everything else 5xx is a bug. */
const AVAILABILITY = new Set(['EUPSTREAM', 'EUPSTREAMREFUSED', 'EUPSTREAMTIMEOUT', 'EUPSTREAMTOOLARGE', 'EPOLICYUNAVAILABLE', 'EDATABASE', 'EINTEGRITY', 'ETARBALLORIGIN']);

interface Raw {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Raw HTTP: the path is sent byte for byte, as an attacker would send it. */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Raw> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers } });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(body);
  });
}

const problems: string[] = [];
let checked = 0;

/** Records what is wrong with an answer instead of failing at the first one. */
function judge(what: string, a: Raw): void {
  checked += 1;
  if (a.status < 400) return;
  let body: { code?: unknown; error?: unknown } | undefined;
  try {
    body = JSON.parse(a.text);
  } catch {
    problems.push(`${what}: ${a.status} without a JSON body: ${a.text.slice(0, 120)}`);
    return;
  }
  const code = body?.code;
  if (!body || typeof code !== "string" || !(code in ErrorCodes)) return void problems.push(`${what}: ${a.status} without a known code: ${a.text.slice(0, 160)}`);
  if (ErrorCodes[code as keyof typeof ErrorCodes] !== a.status) problems.push(`${what}: ${code} sent with ${a.status}`);
  if (typeof body?.error !== 'string' || !body.error.startsWith(`[${code}] `)) problems.push(`${what}: the error text does not start with [${code}]`);
  else if (a.statusText !== statusText(body.error)) problems.push(`${what}: the status text is not the message: ${a.statusText.slice(0, 80)}`);
  if (a.status >= 500 && !AVAILABILITY.has(code)) problems.push(`${what}: ${a.status} ${code}: ${String(body.error).slice(0, 200)}`);
}

const NAMES = [
  '__proto__', 'constructor', 'prototype', 'hasOwnProperty', '%00', '%00x', 'a%00b', '..', '%2e%2e', '.', '@', '@%2f', '@scope', '@scope%2f', '@%2fname',
  '@scope%2f..', '@scope/..', 'a'.repeat(215), 'b'.repeat(5000), 'CON', 'node_modules', 'favicon.ico', '.hidden', '_private', '-dash', '~tilde', 'UPPER',
  'spa%20ce', '%C3%BCn%C3%AF', '%F0%9F%92%A9', '%ff', '%', '%zz', '%3Cscript%3E', "a'b", 'a%22b', 'a;b', 'a%0d%0aSet-Cookie:%20x=y', 'a%0ab', 'a\\b', 'a%5cb',
  '@scope%2fname%2fextra', '@a%2f%2fb', 'x?y=1', 'x#frag', '%2F', 'lodash%2f..%2f..%2fetc%2fpasswd', '..%2f..%2fetc%2fpasswd', '@s/%2e%2e', 'ok-name', 'ok.name',
  'constructor.prototype', '1', '0', 'null', 'undefined', 'true', '%5Bobject%20Object%5D', '%E2%80%AE', 'a%09b',
];

const VERSIONS = [
  '__proto__', 'constructor', 'toString', '1.0.0%00', '9'.repeat(300), '1.0.0-', 'latest', 'v1', '1.0.0beta', '%3E%3D1', '*', '1.0.0%0d%0aX:%20y',
  '..', '%2e%2e', '-', '-rev', '1.0.0.0', '01.0.0', '1.0.0+build', '%F0%9F%92%A9', '1e9', 'NaN', 'Infinity', '-1', 'a'.repeat(2000),
];

const AUTH = [
  'Bearer', 'Bearer ', `Bearer ${'x'.repeat(10_000)}`, 'Bearer gk_nope', 'Basic', 'Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`,
  `Basic ${Buffer.from(':').toString('base64')}`, `Basic ${Buffer.from('admin:').toString('base64')}`, `Basic ${Buffer.from(':pw').toString('base64')}`,
  `Basic ${Buffer.from('a'.repeat(5000) + ':x').toString('base64')}`, 'Digest username="x"', 'Token abc', 'bearer gk_lowercase', ' Bearer x', 'Bearer\tx',
  `Basic ${Buffer.from('ünï:cödé').toString('base64')}`, `Basic ${Buffer.from('admin\u0000:x').toString('base64')}`,
];

function publishBody(name: string, version: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify(publishDocument(name, version, { packageJson: { name, version }, overrides }));
}

describe('a corpus of hostile inputs', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'target', versions: [{ version: '1.0.0', license: 'MIT' }] },
      ...Array.from({ length: 24 }, (_, i) => ({ name: `hostile-doc-${i}`, versions: [{ version: '1.0.0', license: 'MIT' }] })),
    ],
    settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'], shadowUpstream: false }], upstreamTimeout: '3s' },
    npm: false,
  });
  let publisher: string;

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'pub', password: 'pub-password', role: 'publisher' });
    publisher = await loginToken(s.t.url, 'pub', 'pub-password');
  });

  it('answers hostile package names on every read route with a code', async () => {
    for (const name of NAMES) {
      for (const path of [`/${name}`, `/${name}/1.0.0`, `/${name}/-/${name}-1.0.0.tgz`, `/-/package/${name}/dist-tags`]) {
        judge(`GET ${path.slice(0, 80)}`, await send(s.t.url, 'GET', path));
      }
    }
  });

  it('answers hostile versions and tarball names with a code', async () => {
    for (const version of VERSIONS) {
      judge(`GET /target/${version.slice(0, 40)}`, await send(s.t.url, 'GET', `/target/${version}`));
      judge(`GET tarball ${version.slice(0, 40)}`, await send(s.t.url, 'GET', `/target/-/target-${version}.tgz`));
    }
  });

  it('answers hostile credentials with a code', async () => {
    for (const authorization of AUTH) {
      for (const path of ['/target', '/-/whoami', '/-/gatekeeper/v1/approvals']) {
        judge(`auth ${authorization.slice(0, 30)} ${path}`, await send(s.t.url, 'GET', path, { authorization }));
      }
    }
  });

  it('answers hostile headers with a code', async () => {
    const cases: Array<Record<string, string>> = [
      { accept: 'application/vnd.npm.install-v1+json; q=foo' },
      { accept: '*/*'.repeat(1000) },
      { 'accept-encoding': 'gzip;q=nan, br, zstd' },
      { 'if-none-match': '"x"'.repeat(500) },
      { 'content-type': 'application/json; charset=utf-99' },
      { 'x-forwarded-for': 'not-an-ip, , ,' },
      { host: 'evil.example:99999' },
      { host: '' },
    ];
    for (const headers of cases) judge(`headers ${JSON.stringify(headers).slice(0, 60)}`, await send(s.t.url, 'GET', '/target', headers));
  });

  it('answers hostile bodies with a code', async () => {
    const auth = { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' };
    const bodies: Array<[string, string | Buffer, Record<string, string>?]> = [
      ['not json', '{"name":'],
      ['array', '[]'],
      ['null', 'null'],
      ['string', '"x"'],
      ['number', '42'],
      ['deep nesting', '['.repeat(20_000) + ']'.repeat(20_000)],
      ['huge key', JSON.stringify({ ['k'.repeat(100_000)]: 1 })],
      ['proto versions', publishBody('@acme/p1', '1.0.0', { versions: JSON.parse('{"__proto__":{"name":"@acme/p1"}}') })],
      ['two versions', publishBody('@acme/p2', '1.0.0', { versions: { '1.0.0': {}, '2.0.0': {} } })],
      ['bad base64', publishBody('@acme/p3', '1.0.0', { _attachments: { 'p3-1.0.0.tgz': { data: '!!!not base64!!!' } } })],
      ['not gzip', publishBody('@acme/p4', '1.0.0', { _attachments: { 'p4-1.0.0.tgz': { data: Buffer.from('plain').toString('base64') } } })],
      ['wrong name', publishBody('@acme/other', '1.0.0')],
      ['nul in text', publishBody('@acme/p5', '1.0.0', { readme: 'a\u0000b', description: '\u0000' })],
      ['legacy version', publishBody('@acme/p6', '1.0.0beta')],
      ['gzip lie', '{"x":1}', { 'content-encoding': 'gzip' }],
      ['brotli', '{"x":1}', { 'content-encoding': 'br' }],
      ['wrong type', '{"x":1}', { 'content-type': 'text/plain' }],
      ['utf-16', Buffer.from('{"x":1}', 'utf16le'), { 'content-type': 'application/json; charset=utf-16' }],
    ];
    for (const [what, body, headers] of bodies) {
      const path = what === 'wrong name' ? '/@acme%2fp0' : `/@acme%2f${what.replace(/\W/g, '')}`;
      judge(`PUT ${what}`, await send(s.t.url, 'PUT', path, { ...auth, ...headers }, body));
      judge(`login ${what}`, await send(s.t.url, 'PUT', '/-/user/org.couchdb.user:someone', { 'content-type': 'application/json', ...headers }, body));
      judge(`dist-tag ${what}`, await send(s.t.url, 'PUT', '/-/package/target/dist-tags/beta', { ...auth, ...headers }, body));
      judge(`audit ${what}`, await send(s.t.url, 'POST', '/-/npm/v1/security/advisories/bulk', { 'content-type': 'application/json', ...headers }, body));
      judge(`admin ${what}`, await send(s.t.url, 'POST', '/-/gatekeeper/v1/bans', { authorization: `Bearer ${s.t.adminToken}`, 'content-type': 'application/json', ...headers }, body));
    }
  });

  it('answers hostile upstream documents with a code and keeps the registry up', async () => {
    const documents: string[] = [
      '{"name":"x","versions":{',
      '<html><body>502 Bad Gateway</body></html>',
      '[]',
      'null',
      '"a string"',
      '42',
      '{}',
      '{"versions":"x"}',
      '{"name":"NAME","versions":{"2.0.0":null}}',
      '{"name":"NAME","versions":{"2.0.0":"a string"}}',
      '{"name":"NAME","versions":{"2.0.0":[]}}',
      '{"name":"other-name","versions":{}}',
      '{"name":"NAME","versions":{"__proto__":{"name":"NAME","version":"__proto__","dist":{"tarball":"http://x/a.tgz"}}}}',
      '{"name":"NAME","versions":{"1.0.0":{"name":"NAME","version":"1.0.0","dist":{"tarball":42}}},"dist-tags":{"latest":"9.9.9"}}',
      '{"name":"NAME","versions":{"1.0.0":{"name":"NAME","version":"1.0.0","dist":{"tarball":"http://x/a.tgz"}}},"time":{"1.0.0":{"x":1}}}',
      '{"name":"NAME","versions":{"1.0.0":{"name":"NAME","version":"1.0.0","dist":{"tarball":"http://x/a.tgz"}}},"dist-tags":{"latest":{"x":1}}}',
      '{"name":"NAME","versions":{"1.0.0beta":{"name":"NAME","version":"1.0.0beta","dist":{"tarball":"http://x/a.tgz"}}}}',
      `{"name":"NAME","versions":{"${'9'.repeat(5000)}":{"dist":{"tarball":"http://x/a.tgz"}}}}`,
      '{"name":"NAME","versions":{"1.0.0":{"name":"NAME","version":"1.0.0","dist":{"tarball":"http://x/a.tgz"},"scripts":{"postinstall":"a\\u0000b"},"deprecated":"\\u0000"}}}',
      '\u0000\u0001\u0002',
      '{"name":"NAME","versions":{"1.0.0":{"name":"NAME","version":"1.0.0","dist":{"tarball":"http://x/a.tgz"}}},"dist-tags":{"__proto__":"1.0.0"}}',
      '{"name":"NAME","versions":null}',
      '{"name":"NAME","versions":{"1.0.0":{"name":"NAME","version":"2.0.0","dist":{"tarball":"http://x/a.tgz"}}}}',
      '{"name":"NAME","_attachments":{"x":{}},"versions":{}}',
    ];
    for (const [i, doc] of documents.entries()) {
      const name = `hostile-doc-${i}`;
      s.upstream.fault({ packument: name }, { body: doc.replace(/NAME/g, name), status: 200, headers: { 'content-type': 'application/json' } });
      for (const path of [`/${name}`, `/${name}/1.0.0`, `/${name}/-/${name}-1.0.0.tgz`]) {
        judge(`upstream doc ${i} ${path}`, await send(s.t.url, 'GET', path));
        judge(`upstream doc ${i} ${path} abbreviated`, await send(s.t.url, 'GET', path, { accept: 'application/vnd.npm.install-v1+json' }));
      }
    }
    s.upstream.clearFaults();
  });

  it('counted at least 300 hostile inputs, found no problem, and is still up', async () => {
    expect(checked).toBeGreaterThanOrEqual(300);
    // Internal failures are logged with their cause: show them with the problems they made.
    const failures = fs
      .readFileSync(s.t.logFile, 'utf8')
      .split('\n')
      .filter((line) => /registry request failed|escaped every handler|admin API error/.test(line))
      .map((line) => line.slice(0, 600));
    expect({ problems, failures }).toEqual({ problems: [], failures: [] });
    const ping = await send(s.t.url, 'GET', '/-/ping');
    expect(ping.status).toBe(200);
    const health = await s.t.api('GET', '/health');
    expect(health.body.database.ok).toBe(true);
    expect(fs.readFileSync(s.t.logFile, 'utf8')).not.toContain('escaped every handler');
  });
});

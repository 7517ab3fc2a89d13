'use strict';
/*
 * A raw HTTP client for the harness: returns the exact status, headers and body bytes as they
 * came over the wire (no decompression), plus helpers to decode and to call the admin API.
 */
const http = require('http');
const zlib = require('zlib');

/** Headers npm sends (npm 7+). */
const NPM_HEADERS = {
  full: { accept: 'application/json', 'accept-encoding': 'gzip', 'user-agent': 'npm/11 node/v20 linux x64 workspaces/false' },
  abbreviated: {
    accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*',
    'accept-encoding': 'gzip',
    'user-agent': 'npm/11 node/v20 linux x64 workspaces/false',
  },
  tarball: { accept: '*/*', 'accept-encoding': 'gzip', 'user-agent': 'npm/11 node/v20 linux x64 workspaces/false' },
};

/** request(url, { method, headers, body, timeoutMs }) -> { status, headers, body: Buffer, ms } */
function request(url, { method = 'GET', headers = {}, body, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = { ...headers };
    if (payload) h['content-length'] = String(payload.length);
    const t0 = process.hrtime.bigint();
    const req = http.request({ hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), ms: Number(process.hrtime.bigint() - t0) / 1e6 }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function decode(res) {
  const enc = (res.headers['content-encoding'] || '').toLowerCase();
  if (enc === 'gzip') return zlib.gunzipSync(res.body);
  if (enc === 'deflate') return zlib.inflateSync(res.body);
  if (enc === 'br') return zlib.brotliDecompressSync(res.body);
  return res.body;
}

function json(res) {
  return JSON.parse(decode(res).toString('utf8'));
}

/** An admin API client: api(method, path, body) -> { status, body } */
function adminClient(baseUrl, token) {
  return async (method, path, body) => {
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(new URL(`-/gatekeeper/v1${path}`, baseUrl).href, { method, headers, body });
    let parsed;
    try {
      parsed = json(res);
    } catch {
      parsed = res.body.toString('utf8');
    }
    return { status: res.status, body: parsed };
  };
}

/** Runs fn over items with at most `limit` in flight; resolves the results in order. */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

module.exports = { NPM_HEADERS, request, decode, json, adminClient, mapLimit };

'use strict';
/*
 * The fixture upstream registry: a small http server on 127.0.0.1 serving the synthetic packages
 * of fixtures.js. Run as a child process (`node bench/lib/upstream.js [extra approved packages]`); it prints one JSON line
 * {"ready":true,"url":...,"meta":...} when listening.
 *
 *   GET /<name>               full packument, or abbreviated when the first Accept type is
 *                             application/vnd.npm.install-v1+json; gzip when accepted; ETag and
 *                             304 on If-None-Match (as the public registry does)
 *   GET /<name>/-/<file>.tgz  tarball
 *   GET /-/ping               {}
 *   GET /-/bench/stats        request counters (the harness reads them around each measurement)
 *   GET /-/bench/osv.json     an advisory feed: OSV entries for 100 packages of no project here
 *                             (the diagnostic gatekeeper with GATEKEEPER_ADVISORY_SOURCE=feed reads it)
 */
const crypto = require('crypto');
const http = require('http');
const zlib = require('zlib');
const { generate, abbreviate } = require('./fixtures');

const ABBREVIATED = 'application/vnd.npm.install-v1+json';

function wantsAbbreviated(accept) {
  return !!accept && accept.split(',')[0].split(';')[0].trim() === ABBREVIATED;
}

/** The advisory feed: entries for packages no bench project installs, so it changes no decision here. */
const FEED = Buffer.from(
  JSON.stringify(
    Array.from({ length: 100 }, (_, i) => ({
      id: `GHSA-bnch-feed-${String(i).padStart(4, '0')}`,
      summary: `A made-up advisory ${i}`,
      modified: '2026-11-01T00:00:00Z',
      database_specific: { severity: 'HIGH' },
      affected: [{ package: { ecosystem: 'npm', name: `bench-feed-only-${i}` }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.1' }] }] }],
    })),
  ),
);

function main() {
  const stats = { requests: 0, packuments: 0, notModified: 0, tarballs: 0, notFound: 0, bytes: 0 };
  let packages;
  // Serialised representations, built lazily and kept: key `${name}\0${variant}`.
  const bodies = new Map();

  function representation(name, abbreviated) {
    const key = `${name}\0${abbreviated ? 'a' : 'f'}`;
    let rep = bodies.get(key);
    if (!rep) {
      const pkg = packages.get(name);
      const raw = Buffer.from(JSON.stringify(abbreviated ? abbreviate(pkg.packument) : pkg.packument));
      rep = { raw, gzip: null, etag: `"${crypto.createHash('sha1').update(raw).digest('hex')}"` };
      bodies.set(key, rep);
    }
    return rep;
  }

  const server = http.createServer((req, res) => {
    stats.requests++;
    const send = (status, headers, body) => {
      stats.bytes += body ? body.length : 0;
      res.writeHead(status, { ...headers, 'content-length': body ? body.length : 0 });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const notFound = () => {
      stats.notFound++;
      send(404, { 'content-type': 'application/json' }, Buffer.from('{"error":"Not found"}'));
    };
    const url = new URL(req.url, 'http://x');
    const path = decodeURIComponent(url.pathname);
    if (path === '/-/ping') return send(200, { 'content-type': 'application/json' }, Buffer.from('{}'));
    if (path === '/-/bench/stats') return send(200, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(stats)));
    if (path === '/-/bench/osv.json') return send(200, { 'content-type': 'application/json' }, FEED);
    if (req.method === 'POST' && path.startsWith('/-/npm/v1/security/')) {
      req.resume();
      return send(200, { 'content-type': 'application/json' }, Buffer.from('{}'));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { 'content-type': 'application/json' }, Buffer.from('{"error":"method not allowed"}'));

    const tgz = /^\/((?:@[^/]+\/)?[^/]+)\/-\/(.+\.tgz)$/.exec(path);
    if (tgz) {
      const pkg = packages.get(tgz[1]);
      const base = tgz[1].replace(/^@[^/]+\//, '');
      const version = tgz[2].startsWith(`${base}-`) ? tgz[2].slice(base.length + 1, -4) : undefined;
      const body = pkg && version && pkg.tarballs.get(version);
      if (!body) return notFound();
      stats.tarballs++;
      return send(200, { 'content-type': 'application/octet-stream' }, body);
    }
    const name = path.slice(1);
    if (!packages.has(name)) return notFound();
    stats.packuments++;
    const abbreviated = wantsAbbreviated(req.headers.accept);
    const rep = representation(name, abbreviated);
    const headers = {
      'content-type': abbreviated ? ABBREVIATED : 'application/json',
      etag: rep.etag,
      'cache-control': 'public, max-age=300',
      vary: 'accept-encoding, accept',
    };
    if (req.headers['if-none-match'] === rep.etag) {
      stats.notModified++;
      res.writeHead(304, headers);
      return res.end();
    }
    if (/\bgzip\b/.test(req.headers['accept-encoding'] || '')) {
      if (!rep.gzip) rep.gzip = zlib.gzipSync(rep.raw);
      return send(200, { ...headers, 'content-encoding': 'gzip' }, rep.gzip);
    }
    return send(200, headers, rep.raw);
  });
  server.keepAliveTimeout = 60_000;

  server.listen(0, '127.0.0.1', () => {
    const url = `http://127.0.0.1:${server.address().port}/`;
    const generated = generate(url, { extraApprovals: Number(process.argv[2] || 0) });
    packages = generated.packages;
    const meta = generated.meta;
    for (const p of Object.values(meta.profiles)) {
      p.fullBytes = representation(p.name, false).raw.length;
      p.abbreviatedBytes = representation(p.name, true).raw.length;
    }
    // Every answer built before the first request (both forms, and gzipped): built lazily, the
    // server that asked first in a step (the gatekeeper) paid the serialising and compressing,
    // on the CPU npm runs on, and the one after it found them ready.
    for (const name of packages.keys()) {
      for (const abbreviated of [false, true]) {
        const rep = representation(name, abbreviated);
        rep.gzip = zlib.gzipSync(rep.raw);
      }
    }
    process.stdout.write(`${JSON.stringify({ ready: true, url, meta })}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();

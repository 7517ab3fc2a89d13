import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { DEFAULTS, Settings } from '../../src/server/config';
import { createLogger, Gatekeeper, startGatekeeper, StartOptions } from '../../src/server/start';
import { createTestDatabase, TestDatabase } from './database';

export const ADMIN_PASSWORD = 'admin-password-for-tests';

export interface TestGatekeeper {
  gk: Gatekeeper;
  url: string;
  db: TestDatabase;
  dataDir: string;
  adminToken: string;
  /** Where the server log goes; printed when a test wants to look. */
  logFile: string;
  api: ApiClient;
  close(): Promise<void>;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface ApiClient {
  (method: string, apiPath: string, body?: unknown, token?: string | null): Promise<ApiResponse>;
}

export function apiClient(baseUrl: string, defaultToken: string | null): ApiClient {
  return async (method, apiPath, body, token = defaultToken) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(new URL(`-/gatekeeper/v1${apiPath}`, baseUrl), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON; keep text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** npm's couch login: returns the token our registry issues. */
export async function loginToken(baseUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(new URL(`-/user/org.couchdb.user:${encodeURIComponent(username)}`, baseUrl), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${username}`, name: username, password, type: 'user', roles: [] }),
  });
  const body = (await res.json()) as { token?: string; error?: string };
  if (res.status !== 201 || !body.token) throw new Error(`login as ${username} failed: ${res.status} ${body.error ?? ''}`);
  return body.token;
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface TestGatekeeperOptions {
  upstream: string;
  settings?: Partial<Settings>;
  /** Reuse a database (a second process on the same database). */
  db?: TestDatabase;
  pluginsDir?: string;
  start?: Partial<StartOptions>;
}

export function testSettings(dataDir: string, upstream: string, databaseUrl: string | undefined, overrides: Partial<Settings> = {}): Settings {
  return {
    ...DEFAULTS,
    port: 0,
    host: '127.0.0.1',
    dataDir,
    databaseUrl,
    upstream,
    adminPassword: ADMIN_PASSWORD,
    // Our own log goes to a file at debug level (see below); this keeps Verdaccio's quiet.
    logLevel: 'info',
    ...overrides,
  };
}

/** A gatekeeper in this process, on a free port, with its own data directory and database. */
export async function startTestGatekeeper(options: TestGatekeeperOptions): Promise<TestGatekeeper> {
  const db = options.db ?? (await createTestDatabase());
  const dataDir = tempDir('gk-data-');
  const logFile = path.join(dataDir, 'gatekeeper.log');
  const settings = testSettings(dataDir, options.upstream, db.url, options.settings);
  // The server's own logger (errors written as it writes them), to a file.
  const logger = createLogger('debug', pino.destination({ dest: logFile, sync: true }));
  let gk: Gatekeeper;
  try {
    gk = await startGatekeeper({ settings, logger, pluginsDir: options.pluginsDir, ...options.start });
  } catch (err) {
    if (!options.db) await db.drop();
    throw err;
  }
  // With password login off (SSO only), there is no admin token from a password.
  let adminToken: string;
  try {
    adminToken = settings.passwordLogin === false ? '' : await loginToken(gk.url, 'admin', ADMIN_PASSWORD);
  } catch (err) {
    // A started gatekeeper left running would keep the test process alive.
    await gk.close();
    if (!options.db) await db.drop();
    throw err;
  }
  return {
    gk,
    url: gk.url,
    db,
    dataDir,
    adminToken,
    logFile,
    api: apiClient(gk.url, adminToken),
    async close() {
      await gk.close();
      if (!options.db) await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

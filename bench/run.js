'use strict';
/*
 * npm-gatekeeper benchmark: the gatekeeper against plain Verdaccio (same version, no plugins)
 * and against an in-memory server that replays the gatekeeper's exact bytes, on packuments of
 * four sizes (full and abbreviated), two tarballs, `npm ci` of 1,000 packages and the lockfile
 * check. Everything printed is measured in this run; see bench/README.md.
 *
 *   npm run bench                      (builds first)
 *   BENCH_DURATION=2 BENCH_ROUNDS=1 node bench/run.js
 *
 * Processes: the fixture upstream, plain Verdaccio, the gatekeeper and the in-memory server are
 * children of this process; servers run on CPU 0, everything else (this harness, the upstream,
 * the load generator bench/lib/load.js, npm) on CPU 1 when taskset exists.
 */
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const P = require('./lib/proc');
const H = require('./lib/http');
const G = require('./lib/gatekeeper');
const NPM = require('./lib/npm');
const HA = require('./lib/haproxy');
const { render, size } = require('./lib/report');

const ROOT = path.resolve(__dirname, '..');
const SERVERS = ['gatekeeper', 'plain', 'memory'];
const SERVER_CPU = 0;
const CLIENT_CPU = 1;

function envNumber(name, fallback, min = 0) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, not '${raw}'`);
  return n;
}

const SETTINGS = {
  duration: envNumber('BENCH_DURATION', 5, 0.5),
  rounds: Math.floor(envNumber('BENCH_ROUNDS', 2, 1)),
  connections: Math.floor(envNumber('BENCH_CONNECTIONS', 10, 1)),
  npmRuns: Math.floor(envNumber('BENCH_NPM_RUNS', 2, 1)),
  extraApprovals: Math.floor(envNumber('BENCH_EXTRA_APPROVALS', 950, 0)),
  cases: process.env.BENCH_CASES ? new RegExp(process.env.BENCH_CASES) : undefined,
  keepTmp: process.env.BENCH_KEEP_TMP === '1',
  databaseUrl: process.env.BENCH_DATABASE_URL || undefined,
  gatekeeperLogLevel: process.env.BENCH_GATEKEEPER_LOG_LEVEL || 'warn',
  quietWait: envNumber('BENCH_QUIET_WAIT', 30, 0),
  gatekeeperEnv: gatekeeperEnv(process.env.BENCH_GATEKEEPER_ENV),
  restart: process.env.BENCH_RESTART !== '0',
};

/** BENCH_GATEKEEPER_ENV: space-separated GATEKEEPER_*=value settings for every gatekeeper under test. */
function gatekeeperEnv(text) {
  const env = {};
  for (const pair of (text || '').split(/\s+/).filter(Boolean)) {
    const m = /^(GATEKEEPER_[A-Z0-9_]+)=(.*)$/.exec(pair);
    if (!m) throw new Error(`BENCH_GATEKEEPER_ENV: '${pair}' is not GATEKEEPER_NAME=value`);
    env[m[1]] = m[2];
  }
  return env;
}

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const wanted = (id) => !SETTINGS.cases || SETTINGS.cases.test(id);
const redact = (url) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

function command() {
  const vars = Object.keys(process.env)
    .filter((k) => k.startsWith('BENCH_'))
    .sort()
    .map((k) => `${k}=${k === 'BENCH_DATABASE_URL' ? redact(process.env[k]) : process.env[k]}`);
  const base = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : `node ${path.relative(process.cwd(), __filename) || 'bench/run.js'}${process.argv.slice(2).map((a) => ` ${a}`).join('')}`;
  return [...vars, base].join(' ');
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo);
  const nproc = spawnSync('nproc', [], { encoding: 'utf8' });
  const npmV = spawnSync('npm', ['-v'], { encoding: 'utf8', env: G.cleanEnv({}) });
  const version = (p) => JSON.parse(fs.readFileSync(path.join(ROOT, p), 'utf8')).version;
  return {
    nproc: Number((nproc.stdout || '').trim()) || os.cpus().length,
    cpuModel: model ? model[1].trim() : 'unknown',
    memTotalGb: os.totalmem() / 1024 ** 3,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    npm: (npmV.stdout || '').trim().split('\n').pop() || 'unknown',
    verdaccio: version('node_modules/verdaccio/package.json'),
    autocannon: version('node_modules/autocannon/package.json'),
    gatekeeper: version('package.json'),
  };
}

function mkdir(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  return dir;
}

const readyJson = (line) => {
  const o = JSON.parse(line);
  return o && o.ready ? o : undefined;
};

// ------------------------------------------------------------------ database (optional, external)
async function createDatabase(adminUrl) {
  const { Client } = require('pg');
  const name = `bench_${crypto.randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.href };
}

async function dropDatabase(adminUrl, name) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------ load runs
let loadOptionsFile;
async function loadRun(opts) {
  // Options go through a file: a request body can exceed the kernel's limit for one argument.
  fs.writeFileSync(loadOptionsFile, JSON.stringify(opts));
  const { cmd, args } = P.nodeCommand([path.join(__dirname, 'lib/load.js'), `@${loadOptionsFile}`], CLIENT_CPU);
  const r = await P.run(cmd, args, { cwd: ROOT });
  const line = r.stdout.trim().split('\n').pop();
  let parsed;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`the load generator failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  }
  if (parsed.error) throw new Error(`the load generator failed: ${parsed.error}`);
  return parsed;
}

function runError(r) {
  const parts = [];
  if (r.non2xx > 0) {
    const codes = Object.entries(r.statusCodeStats)
      .filter(([code]) => !(code >= 200 && code < 300))
      .map(([code, n]) => `HTTP ${code}×${n}`);
    parts.push(codes.join(', '));
    const bodies = Object.entries(r.errorBodies || {}).map(([text, n]) => `${n}× ${text.replace(/\s+/g, ' ').slice(0, 200)}`);
    if (bodies.length) parts.push(`answers: ${bodies.slice(0, 2).join('; ')}`);
  }
  if (r.errors > 0) parts.push(`${r.errors} request errors (${Object.entries(r.errorMessages).map(([m, n]) => `${m}×${n}`).join('; ')})`);
  if (r.completed === 0 && parts.length === 0) parts.push(r.mode === 'cycles' ? 'no response completed' : `no response completed in the ${r.window} s measurement window (after a ${r.ramp} s ramp-up)`);
  return parts.length ? parts.join('; ') : undefined;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * After a run with non-2xx answers (autocannon does not keep bodies): the same request from
 * `connections` concurrent clients, twice, to show what the server says. Returns a short text.
 */
async function sampleErrorBody(url, options) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const answers = await Promise.all(Array.from({ length: SETTINGS.connections }, () => H.request(url, options).catch((err) => ({ status: 0, err }))));
    const bad = answers.find((a) => a.status < 200 || a.status >= 300);
    if (bad) return bad.err ? `request error ${bad.err.message}` : `e.g. HTTP ${bad.status}: ${H.decode(bad).toString('utf8').slice(0, 240)}`;
  }
  return 'a follow-up burst of requests all answered 2xx';
}

/**
 * CPU time used on the machine by anything but this benchmark (other processes, or the hypervisor
 * as steal time) while a run lasts, in % of one CPU. Ours: the three servers and the upstream
 * with all their descendants, this harness and every child it reaped (load generator, npm).
 */
function cpuAccounting(servers, upstreamPid) {
  const pids = [...SERVERS.map((s) => servers[s].pid), upstreamPid];
  const ours = () => pids.reduce((a, p) => a + P.cpuSeconds(p), 0) + P.selfCpuSeconds();
  const busy0 = P.systemBusySeconds();
  const ours0 = ours();
  const t0 = Date.now();
  return {
    stop() {
      const wall = (Date.now() - t0) / 1000;
      const foreign = P.systemBusySeconds() - busy0 - (ours() - ours0);
      return wall > 0 ? Math.max(0, (foreign / wall) * 100) : 0;
    },
  };
}

/**
 * Before a run: waits until every server is idle (under 5% of a CPU over half a second, so work
 * a previous run left behind is done; at most 180 s) and the rest of the machine is quiet
 * (under 15% of a CPU outside this benchmark; waived after BENCH_QUIET_WAIT seconds).
 * Resolves { waited, foreignPct }.
 */
async function settle(servers, upstreamPid) {
  const start = Date.now();
  const pids = SERVERS.map((s) => servers[s].pid);
  for (;;) {
    const cpu0 = pids.map((p) => P.cpuSeconds(p));
    const acct = cpuAccounting(servers, upstreamPid);
    await P.sleep(500);
    const foreignPct = acct.stop();
    const busy = pids.some((p, i) => P.cpuSeconds(p) - cpu0[i] > 0.025);
    const waited = (Date.now() - start) / 1000;
    const quiet = foreignPct < 15 || waited > SETTINGS.quietWait;
    if ((!busy || waited > 180) && quiet) return { waited, foreignPct };
  }
}

/**
 * How to load one server with one case, from how long one request took alone (`single`, s):
 * time mode (ramp-up, then a BENCH_DURATION window) when a round of requests over all
 * connections takes well under the window, else cycles mode (each connection sends `cycles`
 * requests in a row, enough to fill about BENCH_DURATION, at least one).
 */
function planFor(single) {
  const round = SETTINGS.connections * single;
  if (round < SETTINGS.duration / 2) {
    return { mode: 'time', ramp: Math.round(Math.max(0.5, 1.2 * round) * 10) / 10, window: SETTINGS.duration };
  }
  return { mode: 'cycles', cycles: Math.max(1, Math.ceil(SETTINGS.duration / round)) };
}
const planText = (p) => (p.mode === 'time' ? `${p.ramp}+${p.window} s` : `${p.cycles} requests per connection`);
const loadOptions = (p) => (p.mode === 'time' ? { ramp: p.ramp, duration: p.window } : { cycles: p.cycles });

async function upstreamStats(upstreamUrl) {
  const res = await H.request(`${upstreamUrl}-/bench/stats`);
  return JSON.parse(res.body.toString('utf8'));
}

// ------------------------------------------------------------------ main
async function main() {
  // The catalogue's dependents query is its own script (bench/catalogue.js); BENCH_CASES=dependents runs only it.
  if (SETTINGS.cases && SETTINGS.cases.test('dependents')) { await require('./catalogue').main(); if (process.env.BENCH_CASES === 'dependents') return; }
  const startedAt = new Date();
  const t0 = Date.now();
  const results = {
    startedAt: startedAt.toISOString(),
    command: command(),
    settings: { ...SETTINGS, cases: process.env.BENCH_CASES || null, databaseUrl: SETTINGS.databaseUrl ? redact(SETTINGS.databaseUrl) : null },
    machine: machine(),
    pinning: '',
    database: '',
    policy: undefined,
    fixtures: undefined,
    cases: [],
    hugeRss: [],
    npm: undefined,
    lockfileCheck: { summary: 'not run' },
    verification: [],
    notes: [],
  };
  const tmp = mkdir(fs.mkdtempSync(path.join(os.tmpdir(), 'gk-bench-')));
  loadOptionsFile = path.join(tmp, 'load-options.json');
  let db;
  let cleaning;
  const cleanup = () => (cleaning = cleaning || doCleanup());
  const doCleanup = async () => {
    await P.stopAll();
    if (db) {
      await dropDatabase(SETTINGS.databaseUrl, db.name).then(
        () => log(`dropped database ${db.name}`),
        (err) => log(`could not drop database ${db.name}: ${err.message}`),
      );
      db = undefined;
    }
    if (!SETTINGS.keepTmp) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  };
  let interrupted = false;
  const onSignal = (signal) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping every child process`);
    cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const pinned = P.pinSelf(CLIENT_CPU);
    results.pinning = pinned
      ? `servers (gatekeeper with its embedded database, plain Verdaccio, in-memory) on CPU ${SERVER_CPU}; harness, fixture upstream, load generator and npm on CPU ${CLIENT_CPU} (taskset)`
      : 'none (taskset not found): servers and load generator share all CPUs';
    if (!pinned) results.notes.push('taskset is not available, so servers and the load generator were not pinned to separate CPUs.');
    if (SETTINGS.databaseUrl) results.notes.push('The external PostgreSQL server is not started by the benchmark, so it is neither pinned nor counted in the gatekeeper RSS.');
    log(`temporary directory ${tmp}`);

    // 1. fixture upstream
    log('starting the fixture upstream (generating packages)');
    const upstream = await P.startProcess({
      name: 'upstream',
      args: [path.join(__dirname, 'lib/upstream.js'), String(SETTINGS.extraApprovals)],
      cpu: CLIENT_CPU,
      cwd: ROOT,
      env: G.cleanEnv({}),
      logFile: path.join(tmp, 'upstream.log'),
      ready: readyJson,
    });
    const upstreamUrl = upstream.info.url;
    const meta = upstream.info.meta;
    const { versionLists, ...fixtureSummary } = meta;
    results.fixtures = fixtureSummary;
    log(`upstream ${upstreamUrl}: ${Object.values(meta.profiles).map((p) => `${p.name} ${size(p.fullBytes)}`).join(', ')}`);

    // 2. database
    if (SETTINGS.databaseUrl) {
      db = await createDatabase(SETTINGS.databaseUrl);
      results.database = `external PostgreSQL, database ${db.name} created for this run (${redact(db.url)})`;
      log(`created database ${db.name}`);
    } else {
      results.database = 'embedded PostgreSQL (a child of the gatekeeper process, counted in its RSS)';
    }

    // 3. servers
    log('starting the gatekeeper, plain Verdaccio and the in-memory server');
    const [firstGk, plain, memory] = await Promise.all([
      G.startGatekeeper({
        dataDir: mkdir(path.join(tmp, 'gatekeeper')),
        upstream: upstreamUrl,
        databaseUrl: db && db.url,
        logFile: path.join(tmp, 'gatekeeper.log'),
        cpu: SERVER_CPU,
        logLevel: SETTINGS.gatekeeperLogLevel,
        env: SETTINGS.gatekeeperEnv,
      }),
      P.startProcess({
        name: 'plain-verdaccio',
        args: [path.join(__dirname, 'lib/plain-verdaccio.js'), mkdir(path.join(tmp, 'plain')), upstreamUrl],
        cpu: SERVER_CPU,
        cwd: ROOT,
        env: G.cleanEnv({}),
        logFile: path.join(tmp, 'plain-verdaccio.log'),
        ready: readyJson,
      }),
      P.startProcess({
        name: 'in-memory',
        args: [path.join(__dirname, 'lib/memory-server.js')],
        cpu: SERVER_CPU,
        cwd: ROOT,
        env: G.cleanEnv({}),
        logFile: path.join(tmp, 'memory-server.log'),
        ready: readyJson,
      }),
    ]);
    let gk = firstGk;
    const servers = {
      gatekeeper: { url: gk.url, pid: gk.pid },
      plain: { url: plain.info.url, pid: plain.pid },
      memory: { url: memory.info.url, pid: memory.pid },
    };
    log(`gatekeeper ${gk.url} (found via ${gk.readyVia}), plain Verdaccio ${plain.info.url}, in-memory ${memory.info.url}`);

    // 4. policy
    const bans = [];
    for (const sz of ['medium', 'huge']) {
      for (const v of meta.profiles[sz].newestReleases) {
        bans.push({ name: meta.profiles[sz].name, range: v, reason: `benchmark ban of ${meta.profiles[sz].name}@${v} (a made-up advisory)` });
      }
    }
    const benchNames = [
      ...Object.values(meta.profiles).map((p) => p.name),
      ...Object.values(meta.tarballs).map((t) => t.name),
      ...Array.from({ length: meta.deps.count }, (_, i) => `bench-dep-${String(i).padStart(4, '0')}`),
      ...meta.deep.names,
    ];
    log(`setting the policy: ${benchNames.length + SETTINGS.extraApprovals} approvals, ${bans.length} bans`);
    const token = await G.login(gk.url, gk.adminPassword);
    results.policy = await G.configurePolicy(gk.url, token, { benchNames, extraApprovals: SETTINGS.extraApprovals, bans });
    if (/no .*licenses endpoint/.test(results.policy.licenses)) results.notes.push(`License policy skipped: ${results.policy.licenses}.`);
    log(`policy set in ${(results.policy.ms / 1000).toFixed(1)} s; licenses: ${results.policy.licenses}`);
    const bannedBy = {};
    for (const b of bans) (bannedBy[b.name] = bannedBy[b.name] || []).push(b.range);

    // The token cases: a developer on the gatekeeper (its own login), a user registered on plain
    // Verdaccio (a JWT, see lib/plain-verdaccio.js). The in-memory server ignores the header.
    const readerPassword = `bench-${crypto.randomBytes(9).toString('hex')}`;
    const tokens = {
      gatekeeper: await G.developerToken(gk.url, token, 'bench-dev', readerPassword),
      plain: await G.login(plain.info.url, readerPassword, 'bench-dev'),
    };
    results.tokens = 'gatekeeper: a developer\'s token from npm login; plain Verdaccio: a JWT API token of a registered user; in-memory: the same header (ignored)';

    // A deployment's gatekeeper starts with its policy stored. Setting ~2,000 approvals through the
    // admin API (each a policy change the process reloads) leaves memory the allocator keeps; the
    // cases measure the process as a restart finds it, and the report says what the setup left.
    if (SETTINGS.restart) {
      log('restarting the gatekeeper on its data directory');
      gk = await G.restartGatekeeper(gk);
      servers.gatekeeper = { url: gk.url, pid: gk.pid };
      results.restart = { beforeNodeMb: gk.rssBeforeRestart.nodeMb, beforeTreeMb: gk.rssBeforeRestart.treeMb, afterNodeMb: P.rssOf(gk.pid).mainKb / 1024, afterTreeMb: P.rssOf(gk.pid).treeKb / 1024 };
      log(`gatekeeper ${gk.url} restarted: RSS after the policy setup ${results.restart.beforeNodeMb.toFixed(0)} MB (tree ${results.restart.beforeTreeMb.toFixed(0)}), after the restart ${results.restart.afterNodeMb.toFixed(0)} MB (tree ${results.restart.afterTreeMb.toFixed(0)})`);
    }
    const headersFor = (c, server) => (c.token && tokens[server] ? { ...c.headers, authorization: `Bearer ${tokens[server]}` } : c.headers);

    // 5. cases, warm-up, capture of the gatekeeper's bytes, verification
    const cases = [];
    // Every case twice in a row: anonymous, then with `authorization: Bearer <token>`.
    const withToken = (c) => [c, { ...c, id: `${c.id}-token`, label: `${c.label}, token`, token: true, anonymousId: c.id }];
    for (const sz of ['small', 'medium', 'large', 'huge']) {
      for (const variant of ['full', 'abbreviated']) {
        const p = meta.profiles[sz];
        cases.push(...withToken({ id: `packument-${sz}-${variant}`, label: `packument ${sz} ${variant}`, path: `/${p.name}`, headers: H.NPM_HEADERS[variant], variant, pkg: p.name, size: sz }));
      }
    }
    for (const k of ['small', 'large', 'huge']) {
      const t = meta.tarballs[k];
      cases.push(...withToken({ id: `tarball-${k}`, label: `tarball ${k} (${size(t.bytes)})`, path: t.path, headers: H.NPM_HEADERS.tarball, variant: 'any', pkg: t.name, tarballBytes: t.bytes }));
    }
    const selected = cases.filter((c) => wanted(c.id));
    const memDir = mkdir(path.join(tmp, 'memory-data'));
    const memIndex = [];
    const capture = (entryPath, variant, res) => {
      const file = `${memIndex.length}.bin`;
      fs.writeFileSync(path.join(memDir, file), res.body);
      const headers = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) continue;
        headers[k] = v;
      }
      memIndex.push({ path: entryPath, variant, status: res.status, headers, file });
    };

    for (const c of selected) {
      c.servers = {};
      c.warm = {};
      for (const server of ['gatekeeper', 'plain']) {
        const url = `${servers[server].url.replace(/\/$/, '')}${c.path}`;
        const times = [];
        let last;
        for (let i = 0; i < 3; i++) {
          last = await H.request(url, { headers: headersFor(c, server) });
          times.push(last.ms);
          if (last.status !== 200) break;
        }
        if (last.status !== 200) {
          c.servers[server] = { error: `warm-up: HTTP ${last.status} ${H.decode(last).toString('utf8').slice(0, 200)}` };
          continue;
        }
        c.warm[server] = { singleMs: Math.min(...times.slice(1)), wireBytes: last.body.length, contentType: last.headers['content-type'], contentEncoding: last.headers['content-encoding'] || null, res: last };
      }
      const gkWarm = c.warm.gatekeeper;
      // A token case replays the bytes captured for its anonymous case (the same path and form).
      if (!gkWarm) c.servers.memory = { error: 'nothing to replay: the gatekeeper did not answer 200' };
      else if (!c.token) capture(c.path, c.variant, gkWarm.res);
      log(`warmed ${c.id}: ${['gatekeeper', 'plain'].map((s) => (c.warm[s] ? `${s} ${c.warm[s].singleMs.toFixed(1)} ms ${size(c.warm[s].wireBytes)}` : `${s} ${c.servers[s].error}`)).join(', ')}`);

      // Abbreviated must be abbreviated, and the gate must really have removed the banned versions.
      if (c.variant === 'abbreviated') {
        for (const server of ['gatekeeper', 'plain']) {
          if (!c.warm[server]) continue;
          const ok = /application\/vnd\.npm\.install-v1\+json/.test(c.warm[server].contentType || '');
          results.verification.push({ ok, what: `${server} answers ${c.id} with the abbreviated media type`, detail: c.warm[server].contentType });
        }
      }
      if (c.size && c.warm.gatekeeper && c.warm.plain) {
        const gkDoc = H.json(c.warm.gatekeeper.res);
        const plainDoc = H.json(c.warm.plain.res);
        const banned = bannedBy[c.pkg] || [];
        const leaked = banned.filter((v) => gkDoc.versions[v] || (gkDoc.time && gkDoc.time[v]));
        const latestBanned = banned.includes(gkDoc['dist-tags'].latest);
        const missingInPlain = banned.filter((v) => !plainDoc.versions[v]);
        const gkCount = Object.keys(gkDoc.versions).length;
        const plainCount = Object.keys(plainDoc.versions).length;
        const expected = plainCount - banned.length;
        const ok = leaked.length === 0 && !latestBanned && missingInPlain.length === 0 && gkCount === expected;
        const what = banned.length
          ? `gatekeeper ${c.id} lacks the ${banned.length} banned versions (${banned.join(', ')}) that plain Verdaccio serves, and latest moved to ${gkDoc['dist-tags'].latest}`
          : `gatekeeper ${c.id} serves every version plain Verdaccio serves`;
        results.verification.push({ ok, what, detail: `gatekeeper ${gkCount} versions, plain ${plainCount}${leaked.length ? `, leaked ${leaked.join(', ')}` : ''}${c.warm.gatekeeper.res.headers['npm-notice'] ? '; npm-notice header set' : ''}` });
        if (!ok) c.servers.gatekeeper = { error: `the gate was not applied as expected: ${what}` };
      }
      for (const s of ['gatekeeper', 'plain']) if (c.warm[s]) delete c.warm[s].res;
    }

    // 6. the in-memory server replays the gatekeeper's bytes
    const loadMemory = async () => {
      fs.writeFileSync(path.join(memDir, 'index.json'), JSON.stringify(memIndex));
      const res = await H.request(`${servers.memory.url}-/bench/load`, { method: 'POST', body: memDir });
      if (res.status !== 200) throw new Error(`loading the in-memory server failed: ${res.body.toString('utf8')}`);
      return JSON.parse(res.body.toString('utf8'));
    };
    await loadMemory();
    for (const c of selected) {
      if (!c.warm.gatekeeper) continue;
      const url = `${servers.memory.url.replace(/\/$/, '')}${c.path}`;
      const times = [];
      let last;
      for (let i = 0; i < 3; i++) {
        last = await H.request(url, { headers: headersFor(c, 'memory') });
        times.push(last.ms);
      }
      const captured = memIndex.find((e) => e.path === c.path && e.variant === c.variant);
      if (!captured) {
        c.servers.memory = { error: 'nothing to replay: its anonymous case was not captured' };
        continue;
      }
      const same = last.status === captured.status && last.body.equals(fs.readFileSync(path.join(memDir, captured.file)));
      results.verification.push({ ok: same, what: `in-memory server replays the gatekeeper's bytes for ${c.id}` });
      if (!same) c.servers.memory = { error: `replay mismatch (HTTP ${last.status})` };
      else c.warm.memory = { singleMs: Math.min(...times.slice(1)), wireBytes: last.body.length };
    }

    // 7. measurements
    const upstreamBefore = await upstreamStats(upstreamUrl);
    for (const c of selected) {
      const plan = {};
      for (const server of SERVERS) {
        if (c.servers[server] && c.servers[server].error) continue;
        plan[server] = planFor(c.warm[server].singleMs / 1000);
        c.servers[server] = { runs: [], wireBytes: c.warm[server].wireBytes, rss: [] };
      }
      log(`measuring ${c.id}: ${Object.entries(plan).map(([s, p]) => `${s} ${planText(p)}`).join(', ')}`);
      for (let round = 0; round < SETTINGS.rounds; round++) {
        const order = SERVERS.slice(round % SERVERS.length).concat(SERVERS.slice(0, round % SERVERS.length));
        for (const server of order) {
          if (!plan[server]) continue;
          const s = c.servers[server];
          const { pid } = servers[server];
          const quiet = await settle(servers, upstream.pid);
          const up0 = await upstreamStats(upstreamUrl);
          const acct = cpuAccounting(servers, upstream.pid);
          const sampler = P.sampleRss(pid);
          const url = `${servers[server].url.replace(/\/$/, '')}${c.path}`;
          let r;
          try {
            // One request right before the run: the server's caches (and its uplink, when its
            // maxage has passed) are fresh when the window opens. It is recorded, not hidden.
            const touch = await H.request(url, { headers: headersFor(c, server) });
            const upTouch = await upstreamStats(upstreamUrl);
            const touchUpstream = upTouch.packuments + upTouch.tarballs - (up0.packuments + up0.tarballs);
            if (touch.status !== 200) throw Object.assign(new Error(`HTTP ${touch.status} right before the run`), { touchStatus: touch.status });
            if (touchUpstream > 0 || touch.ms > Math.max(50, 10 * c.warm[server].singleMs)) {
              results.notes.push(
                `${c.id}, ${server}, round ${round + 1}: the request right before the run took ${touch.ms.toFixed(0)} ms (warm: ${c.warm[server].singleMs.toFixed(1)} ms)` +
                  `${touchUpstream > 0 ? ` and made ${touchUpstream} upstream request(s) (uplink maxage passed)` : ''}; not part of the measured window.`,
              );
            }
            r = await loadRun({ url, connections: SETTINGS.connections, ...loadOptions(plan[server]), timeout: 600, headers: headersFor(c, server) });
            r.touchMs = touch.ms;
            r.touchUpstreamRequests = touchUpstream;
            const up1 = await upstreamStats(upstreamUrl);
            r.upstreamRequests = up1.packuments + up1.tarballs - (upTouch.packuments + upTouch.tarballs);
          } catch (err) {
            if (err.touchStatus === undefined) throw err;
            r = { completed: 0, reqPerSec: 0, non2xx: 1, errors: 0, statusCodeStats: { [err.touchStatus]: 1 }, errorMessages: {}, latency: { p50: null, p99: null }, upstreamRequests: 0 };
          } finally {
            s.rss.push(sampler.stop());
          }
          r.foreignCpuPct = acct.stop();
          r.quietWait = quiet;
          s.runs.push(r);
          const err = runError(r);
          log(
            `  ${server} round ${round + 1}: ${r.reqPerSec.toFixed(1)} req/s, p50 ${r.latency.p50 === null ? '—' : r.latency.p50.toFixed(2)} ms, n ${r.completed}, other CPU use ${r.foreignCpuPct.toFixed(0)}%` +
              `${err ? `, ERROR ${err}` : ''}`,
          );
        }
      }
      for (const server of SERVERS) {
        const s = c.servers[server];
        if (!s || s.error) continue;
        const errors = s.runs.map(runError).filter(Boolean);
        const rates = s.runs.map((r) => r.reqPerSec);
        Object.assign(s, {
          rounds: s.runs.length,
          reqPerSec: mean(rates),
          spreadPct: s.runs.length > 1 ? ((Math.max(...rates) - Math.min(...rates)) / mean(rates)) * 100 : 0,
          p50: mean(s.runs.map((r) => r.latency.p50 ?? NaN)),
          p99: mean(s.runs.map((r) => r.latency.p99 ?? NaN)),
          completed: s.runs.reduce((a, r) => a + r.completed, 0),
          windows: plan[server].mode === 'time' ? `${plan[server].window}` : `${mean(s.runs.map((r) => r.window || 0)).toFixed(1)} (${plan[server].cycles}/conn)`,
          beforeTreeKb: s.rss[0].beforeTreeKb,
          beforeMainKb: s.rss[0].beforeMainKb,
          peakTreeKb: Math.max(...s.rss.map((x) => x.peakTreeKb)),
          peakMainKb: Math.max(...s.rss.map((x) => x.peakMainKb)),
          upstreamRequests: s.runs.reduce((a, r) => a + r.upstreamRequests, 0),
          maxForeignCpuPct: Math.max(...s.runs.map((r) => r.foreignCpuPct)),
        });
        if (errors.length) s.error = `${errors.join(' | ')} (${await sampleErrorBody(`${servers[server].url.replace(/\/$/, '')}${c.path}`, { headers: headersFor(c, server) })})`;
        if (s.upstreamRequests > 0) results.notes.push(`${c.id}: ${server} made ${s.upstreamRequests} upstream request(s) during its runs (uplink revalidation), included in its numbers.`);
      }
      if (c.size === 'huge') {
        for (const server of SERVERS) {
          const s = c.servers[server];
          if (s && s.rss && s.rss.length) results.hugeRss.push({ case: c.id, label: c.label, server, beforeTreeKb: s.beforeTreeKb, peakTreeKb: s.peakTreeKb, beforeMainKb: s.beforeMainKb, peakMainKb: s.peakMainKb });
        }
      }
      results.cases.push({ id: c.id, label: c.label, token: !!c.token, anonymousId: c.anonymousId, kind: c.size ? 'packument' : 'tarball', servers: c.servers, plan, warm: c.warm });
    }
    const foreign = results.cases.flatMap((c) =>
      SERVERS.flatMap((server) => ((c.servers[server] && c.servers[server].runs) || []).map((r, i) => ({ what: `${c.id} ${server} round ${i + 1}`, pct: r.foreignCpuPct }))),
    );
    if (foreign.length) {
      const sorted = foreign.map((f) => f.pct).sort((a, b) => a - b);
      const busy = foreign.filter((f) => f.pct > 10);
      results.foreignCpu = { medianPct: sorted[Math.floor(sorted.length / 2)], maxPct: sorted[sorted.length - 1], runsAbove10Pct: busy };
      results.notes.push(
        `CPU used by anything outside this benchmark (other processes, hypervisor steal) during the measurement runs: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)}%, ` +
          `max ${sorted[sorted.length - 1].toFixed(1)}% of one CPU${busy.length ? `; above 10% in: ${busy.map((b) => `${b.what} (${b.pct.toFixed(0)}%)`).join(', ')}` : ''}.`,
      );
    }
    const upstreamAfter = await upstreamStats(upstreamUrl);
    results.upstream = { beforeMeasurements: upstreamBefore, afterMeasurements: upstreamAfter };

    // 7b. the cost of HAProxy (deploy/haproxy.cfg) in front of the gatekeeper
    if (HAPROXY_CASES.some((c) => wanted(c.id))) {
      try {
        results.haproxy = await haproxyCase({ servers, meta, tmp, upstreamPid: upstream.pid });
        results.verification.push(...(results.haproxy.verification || []));
      } catch (err) {
        log(`haproxy case failed: ${err.stack}`);
        results.haproxy = { error: `the case failed: ${err.message}`, cases: [] };
      }
    }

    // 8. npm ci of 1,000 packages
    if (wanted('npm-ci')) {
      try {
        // A second gatekeeper, the same policy with the advisory rules off: how much of the cold
        // lockfile's time is the advisory question (one more upstream request per first sight).
        // Not with an external database: it would need a second one.
        /** A second, cold gatekeeper for a diagnostic step: the same policy, its own storage, `env` and `patch` (PATCH /policy) on top. */
        const startSecond = SETTINGS.databaseUrl
          ? undefined
          : async ({ id, env, patch }) => {
              const second = await G.startGatekeeper({
                dataDir: mkdir(path.join(tmp, `gatekeeper-${id}`)),
                upstream: upstreamUrl,
                logFile: path.join(tmp, `gatekeeper-${id}.log`),
                cpu: SERVER_CPU,
                logLevel: SETTINGS.gatekeeperLogLevel,
                env: { ...SETTINGS.gatekeeperEnv, ...env },
              });
              let secondToken;
              try {
                secondToken = await G.login(second.url, second.adminPassword);
                await G.configurePolicy(second.url, secondToken, { benchNames, extraApprovals: SETTINGS.extraApprovals, bans });
                if (patch) {
                  const patched = await H.adminClient(second.url, secondToken)('PATCH', '/policy', patch);
                  if (patched.status !== 200) throw new Error(`PATCH /policy: HTTP ${patched.status} ${JSON.stringify(patched.body).slice(0, 300)}`);
                }
              } catch (err) {
                await P.stopProcess(second.entry);
                throw err;
              }
              // Started again with its policy stored, as the first one was.
              return { ...(SETTINGS.restart ? await G.restartGatekeeper(second) : second), token: secondToken };
            };
        results.npm = await npmCase({ servers, meta, tmp, memIndex, loadMemory, upstreamUrl, upstreamPid: upstream.pid, startSecond });
        results.notes.push(...results.npm.notes);
      } catch (err) {
        log(`npm ci case failed: ${err.stack}`);
        results.npm = { description: 'npm ci of the 1,000-package project', error: `the case failed: ${err.message}`, steps: [], notes: [] };
      }
    }

    // 9. lockfile check (reported as not implemented while the endpoint answers 404)
    if (wanted('lockfile-check')) {
      try {
        results.lockfileCheck = await lockfileCheck({ gkUrl: gk.url, gkPid: gk.pid, token, meta: { ...meta, versionLists }, tmp, bannedBy, servers, upstreamPid: upstream.pid });
      } catch (err) {
        log(`lockfile check failed: ${err.stack}`);
        results.lockfileCheck = { summary: `**ERROR**: the case failed: ${err.message}` };
      }
    }
  } catch (err) {
    // Which of our processes died, with their last output, before cleanup stops the rest.
    const dead = P.children.filter((e) => e.exited && e.tail).map((e) => ({ name: e.name, exit: e.exitCode, log: e.logFile, tail: e.tail.slice(-12) }));
    results.aborted = { error: err && err.stack ? err.stack : String(err), dead };
    for (const d of dead) log(`${d.name} exited (${d.exit}); last output:\n${d.tail.join('\n')}`);
    SETTINGS.keepTmp = true; // keep the server logs
  } finally {
    results.totalSeconds = (Date.now() - t0) / 1000;
    await cleanup();
  }
  if (results.aborted) {
    process.exitCode = 1;
    log(`FAILED: ${results.aborted.error}`);
    if (!results.fixtures) return;
  }

  const md = render(results);
  const outDir = mkdir(process.env.BENCH_RESULTS_DIR ? path.resolve(process.env.BENCH_RESULTS_DIR) : path.join(__dirname, 'results'));
  fs.writeFileSync(path.join(outDir, 'latest.md'), `${md}\n`);
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
  log(`wrote ${path.relative(process.cwd(), outDir) || '.'}/latest.md and latest.json (${results.totalSeconds.toFixed(0)} s)`);
}

// ------------------------------------------------------------------ HAProxy in front
/** The cases measured directly and through HAProxy: one packument, one tarball (anonymous). */
const HAPROXY_CASES = [
  { id: 'haproxy-packument-small-abbreviated', kind: 'packument', pathOf: (meta) => `/${meta.profiles.small.name}`, headers: H.NPM_HEADERS.abbreviated, labelOf: () => 'packument small abbreviated' },
  { id: 'haproxy-tarball-large', kind: 'tarball', pathOf: (meta) => meta.tarballs.large.path, headers: H.NPM_HEADERS.tarball, labelOf: () => 'tarball large' },
];

/**
 * The same requests to the gatekeeper directly and through HAProxy running deploy/haproxy.cfg
 * (pinned to the servers' CPU, so the proxy's work comes out of the same CPU budget), in one
 * run: alternating rounds with the same load plan, and the CPU time HAProxy and the gatekeeper
 * used per request.
 */
async function haproxyCase({ servers, meta, tmp, upstreamPid }) {
  const bin = HA.haproxyBinary();
  const out = {
    description:
      'The gatekeeper alone and behind HAProxy 2 (deploy/haproxy.cfg with one server: this gatekeeper; request logging on, as configured) in the same run, anonymous requests, ' +
      `${SETTINGS.connections} connections with keep-alive, HAProxy on CPU ${SERVER_CPU} with the gatekeeper (its CPU time comes out of the same budget). ` +
      'ratio: req/s through HAProxy ÷ req/s direct (1: free); +p50: added median latency; CPU µs/req: CPU time of each process over the run ÷ responses; ' +
        'other CPU: the most CPU anything outside the benchmark used during a run of that row (% of one CPU; high values make the row unreliable).',
    cases: [],
  };
  if (!bin) return { ...out, error: 'haproxy is not installed (Debian: apt-get install haproxy)' };
  const version = (spawnSync(bin, ['-v'], { encoding: 'utf8' }).stdout || '').split('\n')[0];
  out.version = version;
  const dir = mkdir(path.join(tmp, 'haproxy'));
  const hp = await HA.startHaproxy({ bin, server: new URL(servers.gatekeeper.url).host, cpu: P.HAS_TASKSET ? SERVER_CPU : undefined, dir, logFile: path.join(tmp, 'haproxy.log') });
  log(`${version}: ${hp.url} in front of the gatekeeper ${servers.gatekeeper.url}`);
  const routes = { direct: servers.gatekeeper.url, haproxy: hp.url };
  for (const spec of HAPROXY_CASES.filter((c) => wanted(c.id))) {
    const c = { id: spec.id, label: spec.labelOf(meta), kind: spec.kind, routes: {} };
    const pathname = spec.pathOf(meta);
    const warm = {};
    for (const [route, base] of Object.entries(routes)) {
      const times = [];
      let last;
      for (let i = 0; i < 3; i++) {
        last = await H.request(`${base.replace(/\/$/, '')}${pathname}`, { headers: spec.headers });
        times.push(last.ms);
        if (last.status !== 200) break;
      }
      if (last.status !== 200) throw new Error(`${spec.id} ${route}: HTTP ${last.status} ${H.decode(last).toString('utf8').slice(0, 200)}`);
      warm[route] = { singleMs: Math.min(...times.slice(1)), res: last };
    }
    // The same answer both ways (packuments name their own host in tarball URLs: compared without it).
    const norm = (res, base) => H.decode(res).toString('utf8').split(new URL(base).host).join('<host>');
    const same = norm(warm.direct.res, routes.direct) === norm(warm.haproxy.res, routes.haproxy);
    out.verification = [...(out.verification || []), { ok: same, what: `HAProxy passes the gatekeeper's answer for ${spec.id} through unchanged` }];
    if (!same) throw new Error(`${spec.id}: the answer through HAProxy differs from the gatekeeper's`);
    c.wireBytes = warm.direct.res.body.length;
    const plan = planFor(warm.direct.singleMs / 1000);
    c.plan = planText(plan);
    for (const route of Object.keys(routes)) c.routes[route] = { runs: [] };
    log(`measuring ${spec.id}: direct and through HAProxy, ${planText(plan)} each`);
    for (let round = 0; round < SETTINGS.rounds; round++) {
      const order = round % 2 === 0 ? ['direct', 'haproxy'] : ['haproxy', 'direct'];
      for (const route of order) {
        await settle(servers, upstreamPid);
        const acct = cpuAccounting(servers, upstreamPid);
        const gk0 = P.cpuSeconds(servers.gatekeeper.pid);
        const hp0 = P.cpuSeconds(hp.pid);
        const r = await loadRun({ url: `${routes[route].replace(/\/$/, '')}${pathname}`, connections: SETTINGS.connections, ...loadOptions(plan), timeout: 600, headers: spec.headers });
        r.gatekeeperCpuS = P.cpuSeconds(servers.gatekeeper.pid) - gk0;
        r.haproxyCpuS = P.cpuSeconds(hp.pid) - hp0;
        r.foreignCpuPct = acct.stop();
        c.routes[route].runs.push(r);
        const err = runError(r);
        log(`  ${route} round ${round + 1}: ${r.reqPerSec.toFixed(1)} req/s, p50 ${r.latency.p50 === null ? '—' : r.latency.p50.toFixed(2)} ms, n ${r.completed}, other CPU use ${r.foreignCpuPct.toFixed(0)}%${err ? `, ERROR ${err}` : ''}`);
      }
    }
    for (const route of Object.keys(routes)) {
      const s = c.routes[route];
      const errors = s.runs.map(runError).filter(Boolean);
      const completed = s.runs.reduce((a, r) => a + r.completed, 0);
      // CPU over the whole run (ramp-up included) per response of the whole run.
      const total = s.runs.reduce((a, r) => a + (r.totalResponses || r.completed), 0);
      Object.assign(s, {
        reqPerSec: mean(s.runs.map((r) => r.reqPerSec)),
        p50: mean(s.runs.map((r) => r.latency.p50 ?? NaN)),
        p99: mean(s.runs.map((r) => r.latency.p99 ?? NaN)),
        completed,
        gatekeeperCpuUsPerReq: total ? (s.runs.reduce((a, r) => a + r.gatekeeperCpuS, 0) / total) * 1e6 : NaN,
        haproxyCpuUsPerReq: total ? (s.runs.reduce((a, r) => a + r.haproxyCpuS, 0) / total) * 1e6 : NaN,
        maxForeignCpuPct: Math.max(...s.runs.map((r) => r.foreignCpuPct)),
      });
      if (errors.length) s.error = errors.join(' | ');
    }
    const { direct, haproxy } = c.routes;
    if (!direct.error && !haproxy.error) {
      c.ratio = haproxy.reqPerSec / direct.reqPerSec;
      c.addedP50Ms = haproxy.p50 - direct.p50;
    }
    out.cases.push(c);
  }
  return out;
}

// ------------------------------------------------------------------ npm ci
async function npmCase({ servers, meta, tmp, memIndex, loadMemory, upstreamUrl, upstreamPid, startSecond }) {
  const depNames = Array.from({ length: meta.deps.count }, (_, i) => `bench-dep-${String(i).padStart(4, '0')}`);
  const dependencies = Object.fromEntries(depNames.map((n) => [n, `^${meta.deps.version}`]));
  const out = {
    description:
      `A project depending on ${depNames.length} packages (bench-dep-*, a few dependencies among themselves). Per registry, with an isolated npm cache and user config: ` +
      '`npm install --package-lock-only` once (the proxies fetch every packument from the upstream for the first time), then `npm ci --no-audit --no-fund` with an empty npm cache ' +
      `(cold: every tarball is fetched through the proxy, which fetches it from the upstream for the first time), then ${SETTINGS.npmRuns} timed \`npm ci --prefer-offline --no-audit --no-fund\` runs with the warm npm cache. ` +
      'Wall time of the npm process; lower is better, so here gk/plain and gk/in-mem are ratios of times (above 1: the gatekeeper is slower). ' +
      'The in-memory server serves the packuments and tarballs the gatekeeper served (fetched with its own Host, so tarball URLs point at it). ' +
      "'requests the server saw' is counted by the in-memory server only; 'upstream requests' are the requests the fixture upstream answered during the step (packuments, tarballs, and the gatekeeper's advisory questions); 'server CPU s' is the CPU time the server used during the step (mean per run; the gatekeeper's includes its embedded PostgreSQL). " +
      'A diagnostic step, not a target, runs the lockfile once more against a second, cold gatekeeper with the same policy but the advisory rules off, compared with the same plain Verdaccio run: what the advisory question costs a first sight. ' +
      'Another runs it against a cold gatekeeper with the same policy and the advisory rules on, with GATEKEEPER_ADVISORY_SOURCE=feed (advisories from a feed of 100 OSV entries the fixture upstream serves, read before the step): nothing is asked per package. ' +
      `Two more diagnostic steps generate the lockfile of a project with ${meta.deep.roots.length} dependencies whose tree (bench-deep-*, each depending on 1 to 3 of the 40 after it; ${meta.deep.reached} packages) an install finds as it walks it, as in real projects: ` +
      'against the gatekeeper and plain Verdaccio, then against a third, cold gatekeeper with GATEKEEPER_PREFETCH_DEPENDENCIES=0 (no warm-ahead), compared with the same plain Verdaccio run.',
    steps: [],
    notes: [],
  };
  const projects = {};
  for (const server of ['gatekeeper', 'plain']) projects[server] = NPM.setupProject(mkdir(path.join(tmp, 'npm', server)), servers[server].url, dependencies);
  const lockStep = { id: 'lockfile', label: `npm install --package-lock-only (${depNames.length} packages, cold proxy)`, servers: {} };
  const coldStep = { id: 'cold-ci', label: `npm ci, empty npm cache, cold proxy tarballs (${depNames.length} packages)`, servers: {} };
  const ciWarm = {};
  const measureNpm = async (server, fn, measured = servers) => {
    await settle(measured, upstreamPid);
    const mem0 = server === 'memory' ? await memStats(measured.memory.url) : undefined;
    const acct = cpuAccounting(measured, upstreamPid);
    const sampler = P.sampleRss(measured[server].pid);
    const cpu0 = P.cpuSeconds(measured[server].pid);
    let r;
    try {
      r = await fn();
    } finally {
      r = { ...(r || {}), rss: sampler.stop(), foreignCpuPct: acct.stop(), serverCpuSeconds: P.cpuSeconds(measured[server].pid) - cpu0 };
    }
    if (mem0) r.requestsSeen = (await memStats(measured.memory.url)).requests - mem0.requests;
    return r;
  };
  const stepResult = (entry, runs) => {
    const errs = runs.filter((r) => r.error).map((r) => r.error);
    const ok = runs.filter((r) => !r.error);
    Object.assign(entry, {
      runs: ok.map((r) => r.seconds),
      meanSeconds: ok.length ? mean(ok.map((r) => r.seconds)) : NaN,
      peakTreeKb: Math.max(...runs.map((r) => r.rss.peakTreeKb)),
      peakMainKb: Math.max(...runs.map((r) => r.rss.peakMainKb)),
      requestsSeen: runs.some((r) => r.requestsSeen !== undefined) ? runs.reduce((a, r) => a + (r.requestsSeen || 0), 0) : undefined,
      maxForeignCpuPct: Math.max(...runs.map((r) => r.foreignCpuPct || 0)),
      upstreamRequests: runs.some((r) => r.upstreamRequests !== undefined) ? runs.reduce((a, r) => a + (r.upstreamRequests || 0), 0) : undefined,
      serverCpuSeconds: mean(runs.map((r) => r.serverCpuSeconds)),
    });
    if (errs.length) entry.error = errs.join(' | ');
    return entry;
  };
  // Every request the fixture upstream answered during the step (packuments, advisory questions), its own stats request not counted.
  const countingUpstream = async (fn) => {
    const up0 = await upstreamStats(upstreamUrl);
    const r = await fn();
    r.upstreamRequests = (await upstreamStats(upstreamUrl)).requests - up0.requests - 1;
    return r;
  };
  const lockfileOf = async (server, project, measured) => {
    const r = await countingUpstream(() => measureNpm(server, () => NPM.lockfileOnly(project), measured));
    if (r.code !== 0) r.error = NPM.failure(r);
    else if (!fs.existsSync(path.join(project.appDir, 'package-lock.json'))) r.error = 'no package-lock.json was written';
    return stepResult({}, [r]);
  };
  const lockfile = async (server) => {
    log(`npm: generating the lockfile against ${server}`);
    lockStep.servers[server] = await lockfileOf(server, projects[server]);
  };
  /**
   * A lockfile against a second, cold gatekeeper (a diagnostic step, not a target), compared
   * with the plain Verdaccio run of `compared` (the same project).
   */
  const lockfileOnSecond = async ({ id, what, label, env, patch, deps, compared, ready }) => {
    const step = { id, diagnostic: true, label, servers: {} };
    let second;
    try {
      log(`npm: generating the lockfile against a second gatekeeper ${what}`);
      second = await startSecond({ id, env, patch });
      if (ready) await ready(second);
      const project = NPM.setupProject(mkdir(path.join(tmp, 'npm', `gatekeeper-${id}`)), second.url, deps);
      step.servers.gatekeeper = await lockfileOf('gatekeeper', project, { ...servers, gatekeeper: { url: second.url, pid: second.pid } });
    } catch (err) {
      step.servers.gatekeeper = { error: `the diagnostic gatekeeper failed: ${err.message}`, runs: [] };
    } finally {
      if (second) await P.stopProcess(second.entry);
    }
    step.servers.plain = compared.servers.plain;
    return step;
  };
  // The tree found as it is walked (bench-deep-*): the warm-ahead's case.
  const deepDependencies = Object.fromEntries(meta.deep.roots.map((n) => [n, `^${meta.deep.version}`]));
  const deepLabel = `npm install --package-lock-only, ${meta.deep.roots.length} dependencies, ${meta.deep.reached} packages found as the tree is walked (cold proxy)`;
  const deepStep = { id: 'lockfile-deep', diagnostic: true, label: deepLabel, servers: {} };
  const ci = async (server, cold = false) => {
    const r = await measureNpm(server, () => (cold ? NPM.coldCi(projects[server]) : NPM.ci(projects[server])));
    if (r.code !== 0) r.error = NPM.failure(r);
    else {
      const n = NPM.installedCount(projects[server], 'bench-dep-');
      if (n !== depNames.length) r.error = `npm ci exited 0 but installed ${n} of ${depNames.length} packages`;
    }
    return r;
  };

  await lockfile('gatekeeper');
  await lockfile('plain');
  const noAdvisories =
    startSecond && !lockStep.servers.plain.error
      ? await lockfileOnSecond({
          id: 'lockfile-no-advisories',
          what: 'with the advisory rules off',
          label: `npm install --package-lock-only (${depNames.length} packages, cold proxy), a second gatekeeper with the advisory rules off`,
          patch: { advisories: { mode: 'off' }, malware: { mode: 'off' } },
          deps: dependencies,
          compared: lockStep,
        })
      : undefined;
  // The same policy with the feed as the only advisory source: nothing is asked per package.
  const feedOnly =
    startSecond && !lockStep.servers.plain.error
      ? await lockfileOnSecond({
          id: 'lockfile-feed',
          what: 'with GATEKEEPER_ADVISORY_SOURCE=feed',
          label: `npm install --package-lock-only (${depNames.length} packages, cold proxy), a second gatekeeper with GATEKEEPER_ADVISORY_SOURCE=feed`,
          env: { GATEKEEPER_ADVISORY_SOURCE: 'feed', GATEKEEPER_ADVISORY_FEED_URL: `${upstreamUrl}-/bench/osv.json` },
          deps: dependencies,
          compared: lockStep,
          // Measured once the feed has been read (before that, every package counts as never checked).
          ready: async (second) => {
            const api = H.adminClient(second.url, second.token);
            for (let i = 0; i < 600; i++) {
              const health = await api('GET', '/health');
              if (health.body && health.body.advisories && health.body.advisories.ok === true) return;
              await new Promise((r) => setTimeout(r, 100));
            }
            throw new Error('the advisory feed was not read within 60 s');
          },
        })
      : undefined;
  for (const server of ['gatekeeper', 'plain']) {
    log(`npm: generating the lockfile of the deep tree against ${server}`);
    const project = NPM.setupProject(mkdir(path.join(tmp, 'npm-deep', server)), servers[server].url, deepDependencies);
    deepStep.servers[server] = await lockfileOf(server, project);
  }
  const deepNoPrefetch =
    startSecond && !deepStep.servers.plain.error
      ? await lockfileOnSecond({
          id: 'lockfile-deep-no-prefetch',
          what: 'with GATEKEEPER_PREFETCH_DEPENDENCIES=0',
          label: `${deepLabel}, a second gatekeeper with GATEKEEPER_PREFETCH_DEPENDENCIES=0`,
          env: { GATEKEEPER_PREFETCH_DEPENDENCIES: '0' },
          deps: deepDependencies,
          compared: deepStep,
        })
      : undefined;
  for (const server of ['gatekeeper', 'plain']) {
    if (lockStep.servers[server].error) continue;
    log(`npm: cold npm ci against ${server}`);
    ciWarm[server] = await countingUpstream(() => ci(server, true));
    coldStep.servers[server] = stepResult({}, [ciWarm[server]]);
  }

  // The in-memory server gets the gatekeeper's answers for every dependency.
  if (!lockStep.servers.gatekeeper.error && !(ciWarm.gatekeeper && ciWarm.gatekeeper.error)) {
    log('npm: capturing the gatekeeper\'s packuments and tarballs for the in-memory server');
    const memHost = new URL(servers.memory.url).host;
    const memDir = path.join(tmp, 'memory-data');
    let failed;
    await H.mapLimit(depNames, 8, async (name) => {
      for (const variant of ['abbreviated', 'full']) {
        const res = await H.request(`${servers.gatekeeper.url}${name}`, { headers: { ...H.NPM_HEADERS[variant], host: memHost } });
        if (res.status !== 200) failed = `${name} (${variant}): HTTP ${res.status}`;
        const file = `${memIndex.length}.bin`;
        memIndex.push({ path: `/${name}`, variant, status: res.status, headers: stripHeaders(res.headers), file });
        fs.writeFileSync(path.join(memDir, file), res.body);
      }
      const tgzPath = `/${name}/-/${name}-${meta.deps.version}.tgz`;
      const res = await H.request(`${servers.gatekeeper.url.replace(/\/$/, '')}${tgzPath}`, { headers: { ...H.NPM_HEADERS.tarball, host: memHost } });
      if (res.status !== 200) failed = `${tgzPath}: HTTP ${res.status}`;
      const file = `${memIndex.length}.bin`;
      memIndex.push({ path: tgzPath, variant: 'any', status: res.status, headers: stripHeaders(res.headers), file });
      fs.writeFileSync(path.join(memDir, file), res.body);
    });
    if (failed) {
      lockStep.servers.memory = { error: `capturing from the gatekeeper failed: ${failed}` };
    } else {
      await loadMemory();
      projects.memory = NPM.setupProject(mkdir(path.join(tmp, 'npm', 'memory')), servers.memory.url, dependencies);
      await lockfile('memory');
      if (!lockStep.servers.memory.error) {
        log('npm: cold npm ci against memory');
        ciWarm.memory = await countingUpstream(() => ci('memory', true));
        coldStep.servers.memory = stepResult({}, [ciWarm.memory]);
      }
    }
  }
  out.steps.push(lockStep, ...(noAdvisories ? [noAdvisories] : []), ...(feedOnly ? [feedOnly] : []), coldStep, deepStep, ...(deepNoPrefetch ? [deepNoPrefetch] : []));

  const ciStep = { id: 'ci', label: `npm ci, warm npm cache (${depNames.length} packages)`, servers: {} };
  const runsBy = {};
  for (const server of SERVERS) {
    if (!projects[server] || (lockStep.servers[server] && lockStep.servers[server].error)) {
      ciStep.servers[server] = { error: lockStep.servers[server] ? 'no lockfile' : 'not run', runs: [] };
      continue;
    }
    if (ciWarm[server] && ciWarm[server].error) {
      ciStep.servers[server] = { error: `cold npm ci: ${ciWarm[server].error}`, runs: [] };
      continue;
    }
    runsBy[server] = [];
  }
  for (let round = 0; round < SETTINGS.npmRuns; round++) {
    const order = SERVERS.slice(round % SERVERS.length).concat(SERVERS.slice(0, round % SERVERS.length));
    for (const server of order) {
      if (!runsBy[server]) continue;
      const up0 = await upstreamStats(upstreamUrl);
      const r = await ci(server);
      const up1 = await upstreamStats(upstreamUrl);
      r.upstreamRequests = up1.packuments + up1.tarballs - (up0.packuments + up0.tarballs);
      runsBy[server].push(r);
      log(`npm ci against ${server}: ${r.error ? `ERROR ${r.error}` : `${r.seconds.toFixed(2)} s`} (other CPU use ${r.foreignCpuPct.toFixed(0)}%)`);
    }
  }
  for (const [server, runs] of Object.entries(runsBy)) {
    ciStep.servers[server] = stepResult({}, runs);
    const up = runs.reduce((a, r) => a + (r.upstreamRequests || 0), 0);
    if (up > 0) out.notes.push(`npm ci: ${server} made ${up} upstream request(s) during the timed runs.`);
  }
  out.steps.push(ciStep);
  for (const step of out.steps) {
    for (const [server, e] of Object.entries(step.servers)) {
      if (e.maxForeignCpuPct > 10) out.notes.push(`${step.label}, ${server}: other processes used up to ${e.maxForeignCpuPct.toFixed(0)}% of one CPU during the run(s).`);
    }
  }
  return out;
}

function stripHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) out[k] = v;
  return out;
}

async function memStats(url) {
  const res = await H.request(`${url}-/bench/stats`);
  return JSON.parse(res.body.toString('utf8'));
}

// ------------------------------------------------------------------ lockfile check
async function lockfileCheck({ gkUrl, gkPid, token, meta, tmp, bannedBy, servers, upstreamPid }) {
  const endpoint = '/-/gatekeeper/v1/lockfile/check';
  // 2,000 entries as a lockfile-reading client sends them ({name, version, integrity}): the
  // 1,000 bench-dep packages, the approved bench-approved-* packages, then versions of the
  // multi-version packages (nested copies, as lockfiles have them; the banned ones included).
  const integrityOf = {};
  try {
    const lock = JSON.parse(fs.readFileSync(path.join(tmp, 'npm', 'gatekeeper', 'app', 'package-lock.json'), 'utf8'));
    for (const [key, e] of Object.entries(lock.packages || {})) if (key) integrityOf[`${key.replace(/^.*node_modules\//, '')}@${e.version}`] = e.integrity;
  } catch {
    // no lockfile from the npm case: entries go without integrity
  }
  const entries = [];
  const add = (name, version) => {
    if (entries.length >= 2000) return;
    const integrity = integrityOf[`${name}@${version}`];
    entries.push(integrity ? { name, version, integrity } : { name, version });
  };
  for (let i = 0; i < meta.deps.count; i++) add(`bench-dep-${String(i).padStart(4, '0')}`, meta.deps.version);
  for (let i = 0; i < meta.approved.count; i++) {
    const spec = require('./lib/fixtures').approvedSpec(i);
    add(spec.name, spec.version);
  }
  for (const sz of ['medium', 'small', 'large', 'huge']) for (const v of [...meta.versionLists[sz]].reverse()) add(meta.profiles[sz].name, v);
  const expectedBlocked = entries.filter((e) => (bannedBy[e.name] || []).includes(e.version)).length;
  const body = JSON.stringify({ entries });
  const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` };
  // The first check reads every packument through the gatekeeper's storage (cold for most names);
  // two more make it warm. The last one is checked and used to size the run.
  const probes = [];
  for (let i = 0; i < 3; i++) {
    probes.push(await H.request(`${gkUrl.replace(/\/$/, '')}${endpoint}`, { method: 'POST', headers, body }));
    if (probes[i].status !== 200) break;
  }
  const probe = probes[probes.length - 1];
  if (probe.status === 404) {
    return { summary: `not implemented yet: POST ${endpoint} answered 404.`, status: 404 };
  }
  if (probe.status < 200 || probe.status >= 300) {
    return {
      summary: `**ERROR**: POST ${endpoint} answered HTTP ${probe.status}: ${H.decode(probe).toString('utf8').slice(0, 300)} (request body: {"entries": [{name, version, integrity}, … ${entries.length}]})`,
      status: probe.status,
    };
  }
  let answer;
  try {
    answer = H.json(probe);
  } catch {
    answer = {};
  }
  const blocked = Array.isArray(answer.blocked) ? answer.blocked.length : undefined;
  if (answer.checked !== entries.length || blocked !== expectedBlocked) {
    return {
      summary: `**ERROR**: POST ${endpoint} answered 200 but checked ${answer.checked} of ${entries.length} entries and blocked ${blocked} (expected the ${expectedBlocked} banned ones)`,
      status: probe.status,
    };
  }
  log(`measuring the lockfile check (first request ${probes[0].ms.toFixed(0)} ms, warm ${probe.ms.toFixed(0)} ms)`);
  const single = probe.ms / 1000;
  const plan = planFor(single);
  const runs = [];
  for (let round = 0; round < SETTINGS.rounds; round++) {
    await settle(servers, upstreamPid);
    const acct = cpuAccounting(servers, upstreamPid);
    const sampler = P.sampleRss(gkPid);
    let r;
    try {
      r = await loadRun({ url: `${gkUrl.replace(/\/$/, '')}${endpoint}`, method: 'POST', body, headers, connections: SETTINGS.connections, ...loadOptions(plan), timeout: 600 });
    } finally {
      r = { ...r, rss: sampler.stop(), foreignCpuPct: acct.stop() };
    }
    runs.push(r);
    log(`  lockfile check round ${round + 1}: ${r.reqPerSec.toFixed(1)} req/s, p50 ${r.latency.p50 === null ? '—' : r.latency.p50.toFixed(1)} ms, other CPU use ${r.foreignCpuPct.toFixed(0)}%`);
  }
  const errs = runs.map(runError).filter(Boolean);
  if (errs.length) errs.push(await sampleErrorBody(`${gkUrl.replace(/\/$/, '')}${endpoint}`, { method: 'POST', headers, body }));
  return {
    summary: errs.length
      ? `**ERROR** under load: ${errs.join(' | ')}`
      : `POST ${endpoint} with ${entries.length} entries (${new Set(entries.map((e) => e.name)).size} names; the answer checked ${answer.checked} and blocked the ${blocked} banned versions), ` +
        `gatekeeper only, ${SETTINGS.connections} connections, ${runs.length} run(s) of ${planText(plan)}; the first (cold) request took ${probes[0].ms.toFixed(0)} ms, a warm one ${probe.ms.toFixed(0)} ms.`,
    status: probe.status,
    result: errs.length
      ? undefined
      : {
          reqPerSec: mean(runs.map((r) => r.reqPerSec)),
          p50: mean(runs.map((r) => r.latency.p50)),
          p99: mean(runs.map((r) => r.latency.p99)),
          completed: runs.reduce((a, r) => a + r.completed, 0),
          peakTreeKb: Math.max(...runs.map((r) => r.rss.peakTreeKb)),
          peakMainKb: Math.max(...runs.map((r) => r.rss.peakMainKb)),
          maxForeignCpuPct: Math.max(...runs.map((r) => r.foreignCpuPct)),
        },
    runs,
  };
}

main().catch((err) => {
  log(`FAILED: ${err && err.stack ? err.stack : err}`);
  process.exitCode = 1;
});

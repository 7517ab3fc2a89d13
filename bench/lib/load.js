'use strict';
/*
 * The load generator: one autocannon run in its own process (pinned to the CPU the servers do
 * not use). Options come as JSON in argv[2], or in a file named by argv[2] = '@<path>':
 *   { url, connections, timeout, method, headers, body, and either
 *     ramp, duration      time mode: autocannon runs ramp + duration seconds; only responses
 *                         completed inside the window [ramp, ramp + duration] count, so the
 *                         ramp-up does not dilute the rate; req/s = those responses / duration
 *     cycles              cycles mode, for slow responses: every connection sends exactly
 *                         `cycles` requests one after the other; req/s = responses / time until
 *                         the last one completed. No request is left in flight at the end, and
 *                         the rate is not quantised by a window shorter than a response takes. }
 * Latency percentiles are exact (every response time counted, sub-millisecond). Status codes
 * and errors are counted over the whole run. Prints one JSON object on stdout.
 */
const fs = require('fs');
const autocannon = require('autocannon');

// autocannon 9 keeps every response body as a string (`body += chunk`, a UTF-8 decode of every
// chunk), only for body checks and hooks this harness does not use. For 0.5-7 MB responses that
// caps one load-generator process at ~70 MB/s, i.e. it would measure autocannon rather than the
// server. Bytes and latency are still counted from the socket and the parser as before.
// The start of non-2xx bodies is still kept, to report what the server said.
if (process.env.BENCH_AUTOCANNON_KEEP_BODY !== '1') {
  require('autocannon/lib/pipelinedRequestsQueue').prototype.addBody = function addBody(data) {
    const req = this.peek();
    const status = req && req.headers && req.headers.statusCode;
    if (status && (status < 200 || status >= 300) && req.body.length < 500) req.body += data;
  };
}

const arg = process.argv[2];
const opts = JSON.parse(arg.startsWith('@') ? fs.readFileSync(arg.slice(1), 'utf8') : arg);
const cycles = opts.cycles ? Math.floor(opts.cycles) : 0;
const ramp = cycles ? 0 : Number(opts.ramp || 0);
const windowS = cycles ? Infinity : Number(opts.duration);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

let t0;
const latencies = [];
let windowBytes = 0;
const statusCodeStats = {};
const errorMessages = {};
const errorBodies = {};
let firstInWindow = null;
let lastInWindow = null;

const instance = autocannon(
  {
    url: opts.url,
    connections: opts.connections,
    ...(cycles ? { amount: cycles * opts.connections, duration: 3600 } : { duration: ramp + windowS }),
    timeout: opts.timeout,
    method: opts.method || 'GET',
    headers: opts.headers,
    body: opts.body,
    requests: [
      {
        onResponse: (status, body) => {
          if (status >= 200 && status < 300) return;
          const key = `${status} ${String(body || '').slice(0, 300)}`;
          if (errorBodies[key] !== undefined || Object.keys(errorBodies).length < 5) errorBodies[key] = (errorBodies[key] || 0) + 1;
        },
      },
    ],
  },
  (err, r) => {
    if (err) {
      process.stdout.write(JSON.stringify({ error: String(err && err.message ? err.message : err) }) + '\n');
      process.exit(1);
    }
    latencies.sort((a, b) => a - b);
    const completed = latencies.length;
    const total = Object.values(statusCodeStats).reduce((a, b) => a + b, 0);
    const ok2xx = Object.entries(statusCodeStats)
      .filter(([code]) => Number(code) >= 200 && Number(code) < 300)
      .reduce((a, [, n]) => a + n, 0);
    const measured = cycles ? lastInWindow || 0 : windowS;
    process.stdout.write(
      JSON.stringify({
        mode: cycles ? 'cycles' : 'time',
        cycles: cycles || undefined,
        ramp,
        window: cycles ? measured : windowS,
        runSeconds: r.duration,
        completed,
        reqPerSec: measured > 0 ? completed / measured : 0,
        bytesPerResponse: completed ? windowBytes / completed : 0,
        totalResponses: total,
        ok2xx,
        non2xx: total - ok2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        resets: r.resets,
        statusCodeStats,
        errorMessages,
        errorBodies,
        firstCompletionAt: firstInWindow,
        lastCompletionAt: lastInWindow,
        latency: {
          p50: percentile(latencies, 50),
          p90: percentile(latencies, 90),
          p99: percentile(latencies, 99),
          max: completed ? latencies[completed - 1] : null,
          mean: completed ? latencies.reduce((a, b) => a + b, 0) / completed : null,
        },
      }) + '\n',
    );
  },
);

instance.on('start', () => {
  if (t0 === undefined) t0 = process.hrtime.bigint();
});
instance.on('response', (_client, statusCode, resBytes, responseTime) => {
  if (t0 === undefined) t0 = process.hrtime.bigint();
  statusCodeStats[statusCode] = (statusCodeStats[statusCode] || 0) + 1;
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (t >= ramp && t <= ramp + windowS) {
    latencies.push(responseTime);
    windowBytes += resBytes;
    if (firstInWindow === null) firstInWindow = t;
    lastInWindow = t;
  }
});
instance.on('reqError', (err) => {
  const key = String(err && err.message ? err.message : err).slice(0, 120);
  errorMessages[key] = (errorMessages[key] || 0) + 1;
});

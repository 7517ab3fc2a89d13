'use strict';
/* Markdown rendering of the results object built by bench/run.js. Every number comes from it. */

const SERVER_LABEL = { gatekeeper: 'gatekeeper', plain: 'plain Verdaccio', memory: 'in-memory' };

const fmt = (n, digits = 0) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const num = (n) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : n >= 100 ? fmt(n, 0) : n >= 10 ? fmt(n, 1) : fmt(n, 2));
const ms = (n) => (n === null || n === undefined ? '—' : n >= 100 ? fmt(n, 0) : n >= 10 ? fmt(n, 1) : fmt(n, 2));
const mb = (kb) => (kb ? fmt(kb / 1024, 0) : '—');
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(a / b >= 10 ? 1 : 2)}×` : '—');
const size = (bytes) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${bytes} B`);

function rssCell(agg) {
  if (!agg || !agg.peakTreeKb) return '—';
  return agg.peakTreeKb !== agg.peakMainKb ? `${mb(agg.peakTreeKb)} (node ${mb(agg.peakMainKb)})` : mb(agg.peakTreeKb);
}

const ok = (s) => s && !s.error;

/** A server's (by default the gatekeeper's) anonymous result for a token case. */
function anonymousOf(results, c, server = 'gatekeeper') {
  const anon = c.anonymousId && results.cases.find((x) => x.id === c.anonymousId);
  return anon ? anon.servers[server] : undefined;
}

function throughputTable(results) {
  const lines = [
    '| case | server | req/s | spread | p50 ms | p99 ms | peak RSS MB | response | n | measured s | gk/plain | gk/in-mem | RSS gk/plain | token/anon |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of results.cases) {
    const gk = c.servers.gatekeeper;
    for (const server of ['gatekeeper', 'plain', 'memory']) {
      const s = c.servers[server];
      if (!s) continue;
      const first = server === 'gatekeeper' ? c.label : '';
      if (s.error) {
        lines.push(`| ${first} | ${SERVER_LABEL[server]} | **ERROR** | | | | ${rssCell(s)} | | | | ${s.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | | | |`);
        continue;
      }
      const isGk = server === 'gatekeeper';
      const plain = c.servers.plain;
      const mem = c.servers.memory;
      // The in-memory server ignores the token: its own ratio is what the header costs the load generator and the machine.
      const anon = (isGk || server === 'memory') && c.token ? anonymousOf(results, c, server) : undefined;
      lines.push(
        `| ${first} | ${SERVER_LABEL[server]} | ${num(s.reqPerSec)} | ${s.rounds > 1 ? `±${fmt(s.spreadPct, 0)}%` : '—'} | ${ms(s.p50)} | ${ms(s.p99)} | ${rssCell(s)} | ${s.wireBytes !== undefined ? size(s.wireBytes) : '—'} | ${fmt(s.completed)} | ${s.windows} | ` +
          `${isGk && ok(gk) && ok(plain) ? ratio(gk.reqPerSec, plain.reqPerSec) : ''} | ${isGk && ok(gk) && ok(mem) ? ratio(gk.reqPerSec, mem.reqPerSec) : ''} | ` +
          `${isGk && ok(gk) && ok(plain) ? ratio(gk.peakTreeKb, plain.peakTreeKb) : ''} | ${ok(anon) && ok(s) ? ratio(anon.reqPerSec, s.reqPerSec) : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * The targets of issue 13, each checked against this run's figures: met, missed (naming the
 * cases), or not measured.
 */
function targets(results) {
  const rows = [];
  const verdict = (checks) => {
    const measured = checks.filter((x) => x.value !== undefined && Number.isFinite(x.value));
    if (measured.length === 0) return 'not measured in this run';
    const missed = measured.filter((x) => !x.met);
    const range = measured.map((x) => x.value);
    const span = `${Math.min(...range).toFixed(2)} to ${Math.max(...range).toFixed(2)}`;
    return missed.length === 0
      ? `**met** (${measured.length} case${measured.length > 1 ? 's' : ''}; ${span})`
      : `**missed** in ${missed.map((x) => `${x.what} (${x.value.toFixed(2)})`).join(', ')}; met in ${measured.length - missed.length} of ${measured.length}`;
  };
  const gkPlain = (c) => (ok(c.servers.gatekeeper) && ok(c.servers.plain) ? c.servers.gatekeeper.reqPerSec / c.servers.plain.reqPerSec : undefined);
  const gkMem = (c) => (ok(c.servers.gatekeeper) && ok(c.servers.memory) ? c.servers.gatekeeper.reqPerSec / c.servers.memory.reqPerSec : undefined);
  const packuments = results.cases.filter((c) => c.kind === 'packument');
  const tarballs = results.cases.filter((c) => c.kind === 'tarball');
  rows.push(['warm packument GETs, anonymous and with a token, every size: ≥ 30× plain Verdaccio (req/s ratio)', verdict(packuments.map((c) => ({ what: c.id, value: gkPlain(c), met: gkPlain(c) >= 30 })))]);
  const tokenRatio = (c) => {
    const anon = anonymousOf(results, c);
    return ok(anon) && ok(c.servers.gatekeeper) ? anon.reqPerSec / c.servers.gatekeeper.reqPerSec : undefined;
  };
  rows.push([
    'token reads within 1.5× of anonymous reads (anonymous req/s ÷ token req/s, gatekeeper)',
    verdict(results.cases.filter((c) => c.token).map((c) => ({ what: c.id, value: tokenRatio(c), met: tokenRatio(c) <= 1.5 }))),
  ]);
  rows.push(['tarballs, anonymous and with a token: ≥ 5× plain Verdaccio', verdict(tarballs.map((c) => ({ what: c.id, value: gkPlain(c), met: gkPlain(c) >= 5 })))]);
  rows.push(['tarballs, anonymous and with a token: ≥ 0.3× the in-memory limit', verdict(tarballs.map((c) => ({ what: c.id, value: gkMem(c), met: gkMem(c) >= 0.3 })))]);
  const step = (id) => results.npm && results.npm.steps.find((x) => x.id === id);
  const wall = (id) => {
    const st = step(id);
    return st && ok(st.servers.gatekeeper) && ok(st.servers.plain) ? st.servers.gatekeeper.meanSeconds / st.servers.plain.meanSeconds : undefined;
  };
  rows.push(['cold `npm install --package-lock-only` of 1,000 packages: ≤ 1.0× plain Verdaccio\'s wall time', verdict([{ what: 'lockfile', value: wall('lockfile'), met: wall('lockfile') <= 1.0 }])]);
  rows.push(['cold-cache `npm ci`: ≤ 1.0× plain Verdaccio\'s wall time', verdict([{ what: 'cold npm ci', value: wall('cold-ci'), met: wall('cold-ci') <= 1.0 }])]);
  const rss = [
    ...results.cases.map((c) => ({ what: c.id, gk: c.servers.gatekeeper, plain: c.servers.plain })),
    ...((results.npm && results.npm.steps) || []).filter((st) => !st.diagnostic).map((st) => ({ what: st.id, gk: st.servers.gatekeeper, plain: st.servers.plain })),
  ].map((x) => {
    const value = x.gk && x.plain && x.gk.peakTreeKb && x.plain.peakTreeKb ? x.gk.peakTreeKb / x.plain.peakTreeKb : undefined;
    return { what: x.what, value, met: value <= 1.0 };
  });
  rows.push(['peak RSS no higher than plain Verdaccio\'s on the same run (gatekeeper ÷ plain, per case)', verdict(rss)]);
  return ['| target | result |', '| --- | --- |', ...rows.map(([t, r]) => `| ${t} | ${r} |`)].join('\n');
}

function npmTable(npm) {
  const lines = [
    '| step | server | wall s (mean) | runs (s) | server CPU s | peak RSS MB | requests the server saw | upstream requests | gk/plain | gk/in-mem | RSS gk/plain |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const step of npm.steps) {
    const gk = step.servers.gatekeeper;
    for (const server of ['gatekeeper', 'plain', 'memory']) {
      const s = step.servers[server];
      if (!s) continue;
      const first = server === 'gatekeeper' ? step.label : '';
      if (s.error) {
        lines.push(`| ${first} | ${SERVER_LABEL[server]} | **ERROR** | ${s.error.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 400)} | | ${rssCell(s)} | | | | | |`);
        continue;
      }
      const isGk = server === 'gatekeeper';
      const plain = step.servers.plain;
      const mem = step.servers.memory;
      // For wall times, lower is better: the ratio is gatekeeper time / other time.
      lines.push(
        `| ${first} | ${SERVER_LABEL[server]} | ${fmt(s.meanSeconds, 2)} | ${s.runs.map((r) => fmt(r, 2)).join(', ')} | ${fmt(s.serverCpuSeconds, 2)} | ${rssCell(s)} | ${s.requestsSeen === undefined ? '—' : fmt(s.requestsSeen)} | ${s.upstreamRequests === undefined ? '—' : fmt(s.upstreamRequests)} | ` +
          `${isGk && !gk.error && plain && !plain.error ? ratio(gk.meanSeconds, plain.meanSeconds) : ''} | ${isGk && !gk.error && mem && !mem.error ? ratio(gk.meanSeconds, mem.meanSeconds) : ''} | ` +
          `${isGk && gk.peakTreeKb && plain && plain.peakTreeKb ? ratio(gk.peakTreeKb, plain.peakTreeKb) : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

function haproxyTable(h) {
  const lines = [
    '| case | route | req/s | p50 ms | p99 ms | n | ratio | +p50 ms | gatekeeper CPU µs/req | HAProxy CPU µs/req | other CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of h.cases) {
    for (const route of ['direct', 'haproxy']) {
      const s = c.routes[route];
      const first = route === 'direct' ? `${c.label} (${size(c.wireBytes)})` : '';
      const name = route === 'direct' ? 'gatekeeper directly' : 'through HAProxy';
      if (s.error) {
        lines.push(`| ${first} | ${name} | **ERROR** | | | | ${s.error.replace(/\|/g, '\\|')} | | | | |`);
        continue;
      }
      const isProxy = route === 'haproxy';
      lines.push(
        `| ${first} | ${name} | ${num(s.reqPerSec)} | ${ms(s.p50)} | ${ms(s.p99)} | ${fmt(s.completed)} | ${isProxy && c.ratio ? `${c.ratio.toFixed(2)}×` : ''} | ` +
          `${isProxy && c.addedP50Ms !== undefined ? ms(c.addedP50Ms) : ''} | ${num(s.gatekeeperCpuUsPerReq)} | ${isProxy ? num(s.haproxyCpuUsPerReq) : ''} | ${fmt(s.maxForeignCpuPct, 0)}% |`,
      );
    }
  }
  return lines.join('\n');
}

function render(results) {
  const m = results.machine;
  const out = [];
  out.push('# npm-gatekeeper benchmark', '');
  out.push(`- date: ${results.startedAt} (total ${fmt(results.totalSeconds, 0)} s)`);
  out.push(`- command: \`${results.command}\``);
  out.push(`- machine: ${m.nproc} CPUs (nproc), ${m.cpuModel}, ${fmt(m.memTotalGb, 1)} GB RAM, ${m.kernel}`);
  out.push(`- software: node ${m.node}, npm ${m.npm}, Verdaccio ${m.verdaccio}, autocannon ${m.autocannon}, npm-gatekeeper ${m.gatekeeper}`);
  out.push(`- pinning: ${results.pinning}`);
  out.push(`- gatekeeper database: ${results.database}`);
  out.push(`- policy: ${results.policy.mode} mode, ${fmt(results.policy.approvals)} approvals, ${results.policy.bans.length} bans (${results.policy.bans.join(', ')}); licenses: ${results.policy.licenses}`);
  if (results.restart) {
    const r = results.restart;
    out.push(
      `- restart: the policy set through the admin API, the gatekeeper is stopped and started again on its data directory before any case (as a deployment's starts, its policy stored; the diagnostic second gatekeepers too). ` +
        `Its RSS after the setup: ${fmt(r.beforeNodeMb, 0)} MB node, ${fmt(r.beforeTreeMb, 0)} MB with its database; after the restart: ${fmt(r.afterNodeMb, 0)} MB, ${fmt(r.afterTreeMb, 0)} MB`,
    );
  }
  out.push(
    `- load: autocannon (response bodies counted, not buffered; see bench/README.md), ${results.settings.connections} connections, keep-alive, npm's headers (accept-encoding: gzip); ${results.settings.rounds} round(s) per server and case, ` +
      `servers alternating (order rotated each round); a ${results.settings.duration} s measurement window after a ramp-up, or for slow responses a fixed number of requests per connection ` +
      `(column 'measured s': '(n/conn)'); each run starts when every server is idle again`,
  );
  const f = results.fixtures;
  out.push(
    `- fixtures (upstream, uncompressed): ${Object.entries(f.profiles)
      .map(([k, p]) => `${k} ${p.versions} versions ${size(p.fullBytes)} full / ${size(p.abbreviatedBytes)} abbreviated`)
      .join('; ')}; tarballs ${Object.entries(f.tarballs)
      .map(([k, t]) => `${k} ${size(t.bytes)}`)
      .join(', ')}; ${f.deps.count} packages for npm ci`,
  );
  out.push('');
  if (results.aborted) {
    out.push('## ABORTED', '', 'The run stopped early; the tables hold what was measured until then.', '', '```', results.aborted.error.split('\n').slice(0, 6).join('\n'), '```', '');
    for (const d of results.aborted.dead) out.push(`${d.name} exited (${d.exit}); its last output:`, '', '```', ...d.tail.map((l) => l.slice(0, 400)), '```', '');
  }
  out.push('## Targets', '');
  out.push(targets(results), '');
  out.push('## Packuments and tarballs', '');
  out.push(
    'req/s: responses completed in the measurement window / window length (cycles mode: all responses / time until the last), mean over rounds; spread: (max−min)/mean over rounds; p50/p99: exact, over all responses in the window, mean over rounds; ' +
      'peak RSS: VmRSS of the server process plus the PSS of its children (shared pages, such as PostgreSQL\'s shared buffers, counted once), sampled every 100 ms during the case (in parentheses: the node process alone); response: bytes on the wire (gzip where the server compressed); ' +
      'n: responses measured; gk/plain and gk/in-mem: ratio of req/s (above 1: the gatekeeper is faster; gk/in-mem is the distance from the in-memory limit); ' +
      'RSS gk/plain: peak RSS of the gatekeeper ÷ plain Verdaccio\'s in that case (below 1: less memory); token/anon: the gatekeeper\'s anonymous req/s ÷ its req/s with the token (1: a token costs nothing); on the in-memory row, the in-memory server\'s own ratio for the same pair (it ignores the token, so this is what sending the header costs the load generator and the machine). ' +
      `Token cases send \`authorization: Bearer <token>\` (${results.tokens || 'see bench/README.md'}).`,
    '',
  );
  out.push(throughputTable(results), '');
  if (results.hugeRss.length) {
    out.push('## Memory while serving the huge packument', '');
    out.push('| case | server | RSS before MB | peak MB | growth MB |', '| --- | --- | ---: | ---: | ---: |');
    for (const h of results.hugeRss) out.push(`| ${h.label} | ${SERVER_LABEL[h.server]} | ${mb(h.beforeTreeKb)} | ${mb(h.peakTreeKb)} | ${fmt((h.peakTreeKb - h.beforeTreeKb) / 1024, 0)} |`);
    out.push('');
  }
  if (results.npm) {
    out.push('## npm ci', '');
    out.push(results.npm.description, '');
    if (results.npm.error) out.push(`**ERROR**: ${results.npm.error}`, '');
    else out.push(npmTable(results.npm), '');
  }
  if (results.haproxy) {
    out.push('## HAProxy in front', '');
    out.push(results.haproxy.description + (results.haproxy.version ? ` ${results.haproxy.version}.` : ''), '');
    if (results.haproxy.error) out.push(`**ERROR**: ${results.haproxy.error}`, '');
    if (results.haproxy.cases.length) out.push(haproxyTable(results.haproxy), '');
  }
  out.push('## Lockfile check (2,000 entries)', '');
  out.push(results.lockfileCheck.summary, '');
  if (results.lockfileCheck.result) {
    const r = results.lockfileCheck.result;
    out.push(`req/s ${num(r.reqPerSec)}, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, peak RSS ${rssCell(r)} MB, n ${fmt(r.completed)}`, '');
  }
  out.push('## Checks', '');
  for (const v of results.verification) out.push(`- ${v.ok ? 'ok' : '**FAILED**'}: ${v.what}${v.detail ? ` (${v.detail})` : ''}`);
  out.push('');
  if (results.notes.length) {
    out.push('## Notes', '');
    for (const n of results.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

module.exports = { render, size };

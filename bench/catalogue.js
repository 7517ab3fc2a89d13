'use strict';
/*
 * The catalogue's reverse-dependency query on a large catalogue: BENCH_CATALOGUE_VERSIONS
 * versions (default 10,000) with BENCH_CATALOGUE_EDGES dependency edges (default 100,000),
 * recorded through the gatekeeper's own repository into a migrated database, then the
 * dependents query (the one statement `gatekeeper dependents` runs) timed for several targets:
 * transitive (the default depth) and direct (depth 1). Prints a markdown report to stdout and
 * writes bench/results/catalogue.md and .json. See bench/README.md.
 *
 *   npm run build && node bench/catalogue.js
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node bench/catalogue.js
 *
 * bench/run.js runs this script when BENCH_CASES matches 'dependents'.
 */
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

function envNumber(name, fallback, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, not '${raw}'`);
  return n;
}

const SETTINGS = {
  versions: envNumber('BENCH_CATALOGUE_VERSIONS', 10_000, 10),
  edges: envNumber('BENCH_CATALOGUE_EDGES', 100_000, 10),
  versionsPerPackage: 5,
  runs: envNumber('BENCH_CATALOGUE_RUNS', 30, 3),
  databaseUrl: process.env.BENCH_DATABASE_URL || undefined,
};

const log = (msg) => process.stderr.write(`[bench catalogue ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function requireDist(rel) {
  const file = path.join(DIST, rel);
  if (!fs.existsSync(`${file}.js`)) throw new Error(`${file}.js is missing: run 'npm run build' first`);
  return require(file);
}

/** Deterministic PRNG (mulberry32, as the other fixtures use): the same catalogue every run. */
const prng = require('./lib/fixtures').mulberry32;

/**
 * A catalogue shaped like a registry's: packages are numbered, each depends only on packages
 * with a lower number (no cycles), and the choice is skewed towards low numbers, so a few
 * foundational packages have thousands of transitive dependents and most have few.
 */
function buildCatalogue() {
  const random = prng(20240501);
  const packages = Math.ceil(SETTINGS.versions / SETTINGS.versionsPerPackage);
  const versions = [];
  for (let p = 0; p < packages && versions.length < SETTINGS.versions; p++) {
    for (let v = 0; v < SETTINGS.versionsPerPackage && versions.length < SETTINGS.versions; v++) {
      versions.push({ name: `bench-cat-${String(p).padStart(5, '0')}`, version: `1.${v}.0`, license: 'MIT', index: p });
    }
  }
  const perVersion = SETTINGS.edges / versions.length;
  const edges = [];
  const seen = new Set();
  let carry = 0;
  for (const v of versions) {
    if (v.index === 0) continue;
    carry += perVersion * (versions.length / (versions.length - SETTINGS.versionsPerPackage));
    let want = Math.floor(carry);
    carry -= want;
    let attempts = 0;
    while (want > 0 && attempts++ < want * 20) {
      const target = Math.floor(v.index * random() ** 2);
      const key = `${v.name}@${v.version}>${target}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const minor = Math.floor(random() * SETTINGS.versionsPerPackage);
      const type = random() < 0.1 ? 'dev' : random() < 0.05 ? 'peer' : 'runtime';
      edges.push({
        package: v.name,
        version: v.version,
        name: `bench-cat-${String(target).padStart(5, '0')}`,
        range: `^1.${minor}.0`,
        type,
        resolved: type === 'dev' ? null : `1.${minor}.0`,
      });
      want--;
    }
  }
  return { versions: versions.map(({ name, version, license }) => ({ name, version, license })), edges, packages };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function timeQuery(repo, target, depth, limit) {
  const samples = [];
  let result;
  // One untimed warm-up run (plans cached, pages in the buffer cache), then the timed runs.
  result = await repo.dependents(target.name, target.version, depth, limit);
  for (let i = 0; i < SETTINGS.runs; i++) {
    const start = process.hrtime.bigint();
    result = await repo.dependents(target.name, target.version, depth, limit);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p90: percentile(samples, 90), max: samples[samples.length - 1], total: result.total, listed: result.dependents.length };
}

async function main() {
  const { openDatabase, migrateLatest, createKnex } = requireDist('src/db/connection');
  const { CatalogueRepository, DEPENDENTS_SQL } = requireDist('src/db/repositories/catalogue');
  const { DEFAULT_DEPENDENTS_DEPTH, DEFAULT_DEPENDENTS_LIMIT } = requireDist('src/services/catalogue');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-bench-catalogue-'));
  // The embedded server may run as another OS user (postgres, when this runs as root).
  fs.chmodSync(tmp, 0o755);
  let database;
  let dropDatabase = async () => undefined;
  try {
    if (SETTINGS.databaseUrl) {
      const name = `bench_cat_${crypto.randomBytes(4).toString('hex')}`;
      const admin = createKnex(SETTINGS.databaseUrl, 1);
      await admin.raw(`create database ${name}`);
      await admin.destroy();
      const url = new URL(SETTINGS.databaseUrl);
      url.pathname = `/${name}`;
      database = await openDatabase({ url: url.toString(), dataDir: tmp });
      dropDatabase = async () => {
        const again = createKnex(SETTINGS.databaseUrl, 1);
        await again.raw(`drop database if exists ${name} with (force)`);
        await again.destroy();
      };
      log(`external PostgreSQL, database ${name}`);
    } else {
      log('starting an embedded PostgreSQL');
      database = await openDatabase({ dataDir: tmp });
    }
    await migrateLatest(database.knex);
    const repo = new CatalogueRepository(database.knex);

    const catalogue = buildCatalogue();
    log(`recording ${catalogue.versions.length} versions of ${catalogue.packages} packages with ${catalogue.edges.length} edges`);
    const loadStart = Date.now();
    await repo.record('request', catalogue.versions, catalogue.edges);
    // As autovacuum leaves a table at rest: statistics, and the visibility map that lets the
    // walk read the index alone.
    await database.knex.raw('vacuum analyze catalogue_versions, dependency_edges');
    const loadMs = Date.now() - loadStart;
    const counts = (await database.knex.raw('select (select count(*) from catalogue_versions) as versions, (select count(*) from dependency_edges) as edges')).rows[0];
    const pg = (await database.knex.raw('select version()')).rows[0].version;

    // Targets: the most depended-on version, one in the middle of the graph, one near the top.
    const inDegree = (await database.knex.raw(
      `select dep_name as name, resolved_version as version, count(*) as n from dependency_edges where resolved_version is not null
       group by 1, 2 order by n desc, 1, 2`,
    )).rows;
    const pick = (fraction) => inDegree[Math.min(inDegree.length - 1, Math.floor(inDegree.length * fraction))];
    const targets = [
      { label: 'most depended-on', ...inDegree[0] },
      { label: 'median in-degree', ...pick(0.5) },
      { label: 'rarely depended-on', ...pick(0.95) },
    ];

    const rows = [];
    for (const target of targets) {
      log(`timing ${target.name}@${target.version} (${target.label})`);
      const transitive = await timeQuery(repo, target, DEFAULT_DEPENDENTS_DEPTH, DEFAULT_DEPENDENTS_LIMIT);
      const direct = await timeQuery(repo, target, 1, DEFAULT_DEPENDENTS_LIMIT);
      rows.push({ target: `${target.name}@${target.version}`, label: target.label, directEdges: Number(target.n), transitive, direct });
    }
    // Which index each step of the walk reads: the plan of the statement itself.
    const explained = (await database.knex.raw(`explain (format json) ${DEPENDENTS_SQL}`, {
      name: targets[0].name,
      version: targets[0].version,
      depth: DEFAULT_DEPENDENTS_DEPTH,
      limit: DEFAULT_DEPENDENTS_LIMIT,
    })).rows[0]['QUERY PLAN'][0].Plan;
    const find = (node, type) => (node['Node Type'] === type ? node : (node.Plans || []).map((c) => find(c, type)).find(Boolean));
    const indexes = (node, out = []) => {
      if (node['Index Name']) out.push(`${node['Node Type']} using ${node['Index Name']}`);
      for (const c of node.Plans || []) indexes(c, out);
      return out;
    };
    const recursive = find(explained, 'Recursive Union');
    const plan = { firstLevel: recursive ? indexes(recursive.Plans[0]) : [], step: recursive ? indexes(recursive.Plans[1]) : [] };

    const fmt = (ms) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
    const lines = [
      '# Catalogue: reverse-dependency query',
      '',
      `${counts.versions} versions of ${catalogue.packages} packages, ${counts.edges} dependency edges (10% dev, never walked through), recorded in ${(loadMs / 1000).toFixed(1)} s through the repository's chunked inserts.`,
      `${pg.split(',')[0]}; ${SETTINGS.databaseUrl ? 'external server' : 'embedded server'}; ${SETTINGS.runs} timed runs per query after one warm-up; times are the whole statement as the API runs it (walk, projects, declared ranges, JSON), client-side.`,
      `Plan: the first level reads ${plan.firstLevel.join(', ') || '?'}; each further step ${plan.step.join(', ') || '?'}.`,
      '',
      `| target | direct edges | transitive dependents (depth ${DEFAULT_DEPENDENTS_DEPTH}) | transitive p50 | p90 | max | direct dependents | direct p50 | p90 |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.target} (${r.label}) | ${r.directEdges} | ${r.transitive.total} | ${fmt(r.transitive.p50)} | ${fmt(r.transitive.p90)} | ${fmt(r.transitive.max)} | ${r.direct.total} | ${fmt(r.direct.p50)} | ${fmt(r.direct.p90)} |`,
      ),
      '',
      `At most ${DEFAULT_DEPENDENTS_LIMIT} dependents are listed per answer (the total is always counted).`,
    ];
    const report = lines.join('\n');
    process.stdout.write(`${report}\n`);
    const out = path.join(__dirname, 'results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'catalogue.md'), `${report}\n`);
    fs.writeFileSync(path.join(out, 'catalogue.json'), JSON.stringify({ settings: { ...SETTINGS, databaseUrl: SETTINGS.databaseUrl ? 'set' : null }, counts, loadMs, postgres: pg, rows, plan }, null, 2));
  } finally {
    await database?.close().catch(() => undefined);
    await dropDatabase().catch((err) => log(`could not drop the benchmark database: ${err.message}`));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err) => {
    log(`FAILED: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 1;
  });
}

module.exports = { main, buildCatalogue };

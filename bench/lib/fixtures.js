'use strict';
/*
 * Deterministic synthetic npm packages for the benchmark. Everything is generated in memory from
 * a seeded PRNG, so every run serves byte-identical packuments and tarballs. Every name starts
 * with `bench-` so nothing looks like a public package.
 *
 * Profiles (sizes of the full packument, as served by the fixture upstream):
 *   small  ~30 KB,   12 versions
 *   medium ~170 KB,  60 versions
 *   large  ~10 MB,   1,500 versions
 *   huge   >=30 MB,  3,000 versions
 * plus two single-version tarball packages (a ~1 KB and a ~500 KB tarball) and 1,000 small
 * packages bench-dep-0000..0999 (one version each, a few dependencies among themselves) for
 * the `npm ci` case.
 */
const semver = require('semver');
const { buildTarball, integrityOf, shasumOf } = require('./tarball');

const PROFILES = {
  small: { name: 'bench-pkg-small', versions: 12, deps: [5, 9], devDeps: 5, exportsEntries: 0, contributors: 0, readmeKb: 3, prereleaseEvery: 0 },
  medium: { name: 'bench-pkg-medium', versions: 60, deps: [6, 12], devDeps: 10, exportsEntries: 0, contributors: 1, readmeKb: 20, prereleaseEvery: 0 },
  large: { name: 'bench-pkg-large', versions: 1500, deps: [8, 16], devDeps: 26, exportsEntries: 18, contributors: 6, readmeKb: 60, prereleaseEvery: 7 },
  huge: { name: 'bench-pkg-huge', versions: 3000, deps: [10, 20], devDeps: 40, exportsEntries: 40, contributors: 10, readmeKb: 120, prereleaseEvery: 5 },
};

const TARBALL_PACKAGES = {
  small: { name: 'bench-tarball-small', version: '1.0.0', payloadBytes: 0 },
  large: { name: 'bench-tarball-large', version: '1.0.0', payloadBytes: 500 * 1024 },
  // Above the tarball cache's largest entry (an eighth of GATEKEEPER_TARBALL_CACHE_SIZE, 8 MB by default): streamed from storage, its bytes hashed on every read.
  huge: { name: 'bench-tarball-huge', version: '1.0.0', payloadBytes: 12 * 1024 * 1024 },
};

const DEP_COUNT = 1000;
const depName = (i) => `bench-dep-${String(i).padStart(4, '0')}`;

/**
 * A tree found as it is walked, as real projects have: bench-deep-NNNN depends on 1 to 3 of the
 * 40 packages after it, and a project depends on the first 3 only, so an install learns each
 * package's dependencies from its packument (unlike bench-dep-*, all named by the project).
 */
const DEEP_COUNT = 400;
const DEEP_ROOTS = 3;
const deepName = (i) => `bench-deep-${String(i).padStart(4, '0')}`;

/**
 * The policy's other approvals: bench-approved-NNNN with assorted ranges. Each is also a
 * one-version package upstream, at a version its range allows, so the lockfile check has real
 * packages to look up.
 */
const APPROVAL_RANGES = [
  ['*', '1.0.0'],
  ['^1.0.0', '1.4.2'],
  ['^2.3.0', '2.5.0'],
  ['~4.17.21', '4.17.23'],
  ['>=1.2.0 <3.0.0', '2.1.0'],
  ['^0.9.0', '0.9.4'],
  ['1.x', '1.8.0'],
  ['^7.0.0 || ^8.0.0', '8.1.0'],
];
function approvedSpec(i) {
  const [range, version] = APPROVAL_RANGES[i % APPROVAL_RANGES.length];
  return { name: `bench-approved-${String(i).padStart(4, '0')}`, range, version };
}

/** Abbreviated ("corgi") fields npm's registry keeps per version. */
const CORGI_VERSION_FIELDS = [
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies',
  'peerDependenciesMeta', 'bundleDependencies', 'bin', 'directories', 'engines', 'os', 'cpu', 'funding', 'license',
  'dist', '_hasShrinkwrap', 'hasInstallScript',
];

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const WORDS = (
  'alpha beta gamma delta parse format stream buffer cache queue router schema token lexer bundle ' +
  'graph tree color path glob watch event emitter promise retry timer logger config loader plugin ' +
  'crypto hash base64 utf8 json yaml toml mime http proxy socket agent cookie session signal worker ' +
  'thread pool batch merge diff patch semver range string array object number date locale intl'
).split(' ');
const LICENSES = ['MIT', 'ISC', 'Apache-2.0', 'BSD-3-Clause', 'BSD-2-Clause', 'MIT', 'MIT', 'ISC'];

function makeRng(name) {
  const rnd = mulberry32(seedOf(name));
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const words = (n) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
  const b64 = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256))).toString('base64');
  return { rnd, int, pick, words, hex, b64 };
}

function person(r, i) {
  const user = `bench-dev-${i}`;
  return { name: user, email: `${user}@example.invalid` };
}

/** Versions in ascending order: x.y.z with occasional prereleases before a release. */
function versionList(count, prereleaseEvery) {
  const out = [];
  let major = 0, minor = 1, patch = 0, n = 0;
  while (out.length < count) {
    if (prereleaseEvery && n % prereleaseEvery === prereleaseEvery - 1 && out.length < count - 1) {
      out.push(`${major}.${minor}.${patch}-beta.${n % 3}`);
    }
    out.push(`${major}.${minor}.${patch}`);
    n++;
    patch++;
    if (patch >= 10) { patch = 0; minor++; }
    if (minor >= 8) { minor = 0; major++; }
  }
  return out.slice(0, count);
}

function depMap(r, count, prefix) {
  const deps = {};
  while (Object.keys(deps).length < count) {
    deps[`${prefix}${r.pick(WORDS)}-${r.pick(WORDS)}`] = r.pick(['^', '~', '', '>=']) + `${r.int(0, 12)}.${r.int(0, 20)}.${r.int(0, 30)}`;
  }
  return deps;
}

function exportsMap(r, entries) {
  if (!entries) return undefined;
  const map = { '.': { types: './dist/index.d.ts', import: './dist/index.mjs', require: './dist/index.cjs' }, './package.json': './package.json' };
  for (let i = 0; map && Object.keys(map).length < entries + 2; i++) {
    const sub = `${r.pick(WORDS)}/${r.pick(WORDS)}${i}`;
    map[`./${sub}`] = { types: `./dist/${sub}.d.ts`, import: `./dist/${sub}.mjs`, require: `./dist/${sub}.cjs`, default: `./dist/${sub}.js` };
  }
  return map;
}

function tarballFor(name, version, extraFiles) {
  const pkgJson = { name, version, main: 'index.js', license: 'MIT' };
  return buildTarball({
    'package.json': JSON.stringify(pkgJson, null, 2) + '\n',
    'index.js': `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`,
    ...(extraFiles || {}),
  });
}

function tarballUrl(baseUrl, name, version) {
  return `${baseUrl}${name}/-/${name}-${version}.tgz`;
}

function dist(r, baseUrl, name, version, tgz, fileCount) {
  return {
    integrity: integrityOf(tgz),
    shasum: shasumOf(tgz),
    tarball: tarballUrl(baseUrl, name, version),
    fileCount,
    unpackedSize: r.int(2000, 900000),
    signatures: [{ keyid: 'SHA256:bench-signing-key-0001', sig: `MEUCI${r.b64(33)}AiEA${r.b64(33)}` }],
  };
}

/**
 * Builds one multi-version package. Returns { packument, tarballs: Map(version -> Buffer) }.
 */
function buildProfile(profile, baseUrl) {
  const r = makeRng(profile.name);
  const name = profile.name;
  const versions = versionList(profile.versions, profile.prereleaseEvery);
  const maintainers = Array.from({ length: r.int(2, 5) }, (_, i) => person(r, i));
  const repo = `git+https://git.example.invalid/bench/${name}.git`;
  const license = r.pick(LICENSES);
  const keywords = Array.from({ length: 8 }, () => r.pick(WORDS));
  const start = Date.UTC(2014, 0, 1);
  const step = Math.floor((Date.UTC(2025, 0, 1) - start) / versions.length);
  const tarballs = new Map();
  const out = { versions: {}, time: {} };
  versions.forEach((version, i) => {
    const tgz = tarballFor(name, version);
    tarballs.set(version, tgz);
    const scripts = { build: 'tsc -p tsconfig.build.json && node scripts/bundle.js', test: 'jest --coverage', lint: 'eslint . --ext .ts,.js', prepublishOnly: 'npm run build' };
    const manifest = {
      name,
      version,
      description: `${name}: ${r.words(12)}`,
      keywords,
      homepage: `https://git.example.invalid/bench/${name}#readme`,
      bugs: { url: `https://git.example.invalid/bench/${name}/issues` },
      repository: { type: 'git', url: repo },
      license,
      author: person(r, 0),
      main: './dist/index.cjs',
      module: './dist/index.mjs',
      types: './dist/index.d.ts',
    };
    const ex = exportsMap(r, profile.exportsEntries);
    if (ex) manifest.exports = ex;
    if (profile.contributors) manifest.contributors = Array.from({ length: profile.contributors }, (_, k) => person(r, k + 10));
    manifest.files = ['dist', 'README.md', 'LICENSE'];
    manifest.engines = { node: `>=${r.pick(['12', '14', '16', '18'])}` };
    manifest.scripts = scripts;
    manifest.dependencies = depMap(r, r.int(profile.deps[0], profile.deps[1]), 'bench-lib-');
    manifest.devDependencies = depMap(r, profile.devDeps, 'bench-devlib-');
    if (i % 9 === 4) manifest.peerDependencies = { 'bench-peer-runtime': `^${r.int(1, 5)}.0.0` };
    manifest.gitHead = r.hex(40);
    manifest._id = `${name}@${version}`;
    manifest._nodeVersion = `${r.int(12, 22)}.${r.int(0, 20)}.${r.int(0, 9)}`;
    manifest._npmVersion = `${r.int(6, 10)}.${r.int(0, 20)}.${r.int(0, 9)}`;
    manifest.dist = dist(r, baseUrl, name, version, tgz, 2);
    manifest._npmUser = person(r, 0);
    manifest.directories = {};
    manifest.maintainers = maintainers;
    manifest._npmOperationalInternal = { host: 's3://npm-registry-packages-bench', tmp: `tmp/${name}_${version}_${1400000000000 + i}_0.${r.int(1e6, 9e6)}` };
    manifest._hasShrinkwrap = false;
    out.versions[version] = manifest;
    out.time[version] = new Date(start + i * step + r.int(0, 3600) * 1000).toISOString();
  });
  const releases = versions.filter((v) => !semver.prerelease(v));
  const latest = releases[releases.length - 1];
  const distTags = { latest };
  const pre = versions.filter((v) => semver.prerelease(v));
  if (pre.length) distTags.next = pre[pre.length - 1];
  const readme = `# ${name}\n\n` + Array.from({ length: Math.ceil((profile.readmeKb * 1024) / 90) }, () => r.words(12)).join('\n') + '\n';
  const packument = {
    _id: name,
    _rev: `${versions.length}-${r.hex(32)}`,
    name,
    description: out.versions[latest].description,
    'dist-tags': distTags,
    versions: out.versions,
    time: { created: out.time[versions[0]], modified: out.time[versions[versions.length - 1]], ...out.time },
    maintainers,
    author: person(r, 0),
    repository: { type: 'git', url: repo },
    homepage: `https://git.example.invalid/bench/${name}#readme`,
    bugs: { url: `https://git.example.invalid/bench/${name}/issues` },
    keywords,
    license,
    readme,
    readmeFilename: 'README.md',
  };
  return { packument, tarballs, versions };
}

function singleVersion(name, version, baseUrl, tgz, extra) {
  const r = makeRng(name);
  const manifest = {
    name,
    version,
    description: `${name}: ${r.words(8)}`,
    main: 'index.js',
    license: r.pick(LICENSES),
    repository: { type: 'git', url: `git+https://git.example.invalid/bench/${name}.git` },
    author: person(r, 0),
    ...extra,
    _id: `${name}@${version}`,
    _nodeVersion: '20.11.0',
    _npmVersion: '10.2.4',
    dist: dist(r, baseUrl, name, version, tgz, 2),
    _npmUser: person(r, 0),
    maintainers: [person(r, 0)],
    _hasShrinkwrap: false,
  };
  const time = new Date(Date.UTC(2023, 0, 1) + (seedOf(name) % 500) * 86400000).toISOString();
  return {
    _id: name,
    _rev: `1-${r.hex(32)}`,
    name,
    description: manifest.description,
    'dist-tags': { latest: version },
    versions: { [version]: manifest },
    time: { created: time, modified: time, [version]: time },
    maintainers: [person(r, 0)],
    license: manifest.license,
    readme: `# ${name}\n\n${r.words(40)}\n`,
    readmeFilename: 'README.md',
  };
}

function abbreviate(packument) {
  const versions = {};
  for (const [v, m] of Object.entries(packument.versions)) {
    const a = {};
    for (const f of CORGI_VERSION_FIELDS) if (m[f] !== undefined) a[f] = m[f];
    versions[v] = a;
  }
  return { name: packument.name, modified: packument.time.modified, 'dist-tags': packument['dist-tags'], versions };
}

/** Incompressible-ish filler: base64 of PRNG bytes, sized so the gzipped tarball is ~target. */
function filler(name, targetGzBytes) {
  const r = makeRng(`${name}-payload`);
  const raw = Buffer.alloc(Math.ceil(targetGzBytes * 0.99));
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r.rnd() * 256);
  return `module.exports.payload = '${raw.toString('base64')}';\n`;
}

/**
 * Everything the fixture upstream serves: packages: Map(name -> { packument, tarballs }).
 * baseUrl ends with '/'.
 */
function generate(baseUrl, { extraApprovals = 0 } = {}) {
  const packages = new Map();
  const meta = {
    profiles: {},
    tarballs: {},
    deps: { count: DEP_COUNT, first: depName(0), last: depName(DEP_COUNT - 1), version: '1.0.0' },
    deep: { count: DEEP_COUNT, names: Array.from({ length: DEEP_COUNT }, (_, i) => deepName(i)), roots: Array.from({ length: DEEP_ROOTS }, (_, i) => deepName(i)), version: '1.0.0' },
    approved: { count: extraApprovals },
    versionLists: {},
  };
  for (const [key, profile] of Object.entries(PROFILES)) {
    const { packument, tarballs, versions } = buildProfile(profile, baseUrl);
    packages.set(profile.name, { packument, tarballs });
    const releases = versions.filter((v) => !semver.prerelease(v));
    meta.profiles[key] = { name: profile.name, versions: versions.length, latest: packument['dist-tags'].latest, newestReleases: releases.slice(-3).reverse() };
    meta.versionLists[key] = versions;
  }
  for (let i = 0; i < extraApprovals; i++) {
    const { name, version } = approvedSpec(i);
    const tgz = tarballFor(name, version);
    packages.set(name, { packument: singleVersion(name, version, baseUrl, tgz, {}), tarballs: new Map([[version, tgz]]) });
  }
  for (const [key, spec] of Object.entries(TARBALL_PACKAGES)) {
    const extra = spec.payloadBytes ? { 'payload.js': filler(spec.name, spec.payloadBytes) } : undefined;
    const tgz = tarballFor(spec.name, spec.version, extra);
    const packument = singleVersion(spec.name, spec.version, baseUrl, tgz, {});
    packages.set(spec.name, { packument, tarballs: new Map([[spec.version, tgz]]) });
    meta.tarballs[key] = { name: spec.name, version: spec.version, path: `/${spec.name}/-/${spec.name}-${spec.version}.tgz`, bytes: tgz.length };
  }
  for (let i = 0; i < DEP_COUNT; i++) {
    const name = depName(i);
    const r = makeRng(name);
    const dependencies = {};
    const n = i < 10 ? 0 : r.int(0, 4);
    for (let k = 0; k < n; k++) dependencies[depName(r.int(0, i - 1))] = '^1.0.0';
    const tgz = tarballFor(name, '1.0.0');
    const packument = singleVersion(name, '1.0.0', baseUrl, tgz, Object.keys(dependencies).length ? { dependencies } : {});
    packages.set(name, { packument, tarballs: new Map([['1.0.0', tgz]]) });
  }
  for (let i = 0; i < DEEP_COUNT; i++) {
    const name = deepName(i);
    const r = makeRng(name);
    const dependencies = {};
    const n = i === DEEP_COUNT - 1 ? 0 : r.int(1, 3);
    for (let k = 0; k < n; k++) dependencies[deepName(Math.min(DEEP_COUNT - 1, i + r.int(1, 40)))] = '^1.0.0';
    const tgz = tarballFor(name, '1.0.0');
    const packument = singleVersion(name, '1.0.0', baseUrl, tgz, Object.keys(dependencies).length ? { dependencies } : {});
    packages.set(name, { packument, tarballs: new Map([['1.0.0', tgz]]) });
  }
  // How many an install of the roots finds.
  const reached = new Set();
  const walk = (name) => {
    if (reached.has(name)) return;
    reached.add(name);
    for (const dep of Object.keys(packages.get(name).packument.versions['1.0.0'].dependencies || {})) walk(dep);
  };
  meta.deep.roots.forEach(walk);
  meta.deep.reached = reached.size;
  return { packages, meta };
}

module.exports = { generate, abbreviate, depName, deepName, approvedSpec, mulberry32, DEP_COUNT, DEEP_COUNT, PROFILES, TARBALL_PACKAGES, CORGI_VERSION_FIELDS };

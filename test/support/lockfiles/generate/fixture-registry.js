// Tiny fixture npm registry for lockfile generation. Serves only packages built here.
const http = require('http');
const { buildTarball, integrityOf, shasumOf } = require(process.env.TARBALL_JS || './build/tarball.js');
const PORT = Number(process.env.PORT || 48731);
const BASE = `http://127.0.0.1:${PORT}/`;
const pkgs = {
  'shared': [{ version: '1.0.0' }, { version: '2.0.0' }],
  '@fx/core': [{ version: '1.0.0', dependencies: { shared: '^1.0.0' } }],
  'app-lib': [{ version: '1.0.0', dependencies: { shared: '^2.0.0', '@fx/core': '^1.0.0' } }],
  '@fx/plugin': [{ version: '1.0.0', peerDependencies: { '@fx/core': '^1.0.0', 'peer-only': '^1.0.0' } }],
  'peer-only': [{ version: '1.0.0' }],
  'opt-native': [{ version: '1.0.0' }],
  'dev-tool': [{ version: '1.0.0', dependencies: { 'dev-helper': '^1.0.0' } }],
  'dev-helper': [{ version: '1.0.0' }],
  'url-dep': [{ version: '1.0.0' }],
};
const base = (n) => (n.startsWith('@') ? n.slice(n.indexOf('/') + 1) : n);
const store = {};
const tarballs = {};
for (const [name, versions] of Object.entries(pkgs)) {
  const out = { _id: name, name, 'dist-tags': {}, versions: {}, time: {} };
  versions.forEach((v, i) => {
    const manifest = { name, version: v.version, description: `${name} fixture`, license: 'MIT', main: 'index.js', ...v };
    const tgz = buildTarball({ 'package/package.json': JSON.stringify(manifest, null, 2) + '\n', 'package/index.js': `module.exports = ${JSON.stringify(name + '@' + v.version)};\n` });
    const path = `${name}/-/${base(name)}-${v.version}.tgz`;
    tarballs[path] = tgz;
    out.versions[v.version] = { ...manifest, _id: `${name}@${v.version}`, dist: { tarball: BASE + path, integrity: integrityOf(tgz), shasum: shasumOf(tgz) } };
    out.time[v.version] = new Date(Date.UTC(2020, 0, 1 + i)).toISOString();
    out['dist-tags'].latest = v.version;
  });
  store[name] = out;
}
// A non-registry tarball URL (not in the registry's <name>/-/<file>.tgz layout).
tarballs['downloads/url-dep.tgz'] = tarballs['url-dep/-/url-dep-1.0.0.tgz'];

http.createServer((req, res) => {
  const p = decodeURIComponent(req.url.split('?')[0]).replace(/^\/+/, '');

  if (tarballs[p]) { res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarballs[p].length }); return res.end(tarballs[p]); }
  if (store[p]) { const b = JSON.stringify(store[p]); res.writeHead(200, { 'content-type': 'application/json' }); return res.end(b); }
  console.error(`404 ${req.method} ${req.url}`);
  res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":"not found"}');
}).listen(PORT, '127.0.0.1', () => console.log(`listening ${BASE}`));

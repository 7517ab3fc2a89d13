'use strict';
/*
 * The real npm CLI against one registry, isolated: its own user config, global config, cache
 * and project directory, and no npm_* variables inherited from `npm run bench`.
 */
const fs = require('fs');
const path = require('path');
const { run } = require('./proc');
const { cleanEnv } = require('./gatekeeper');

function setupProject(dir, registry, dependencies) {
  fs.mkdirSync(path.join(dir, 'app'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'cache'), { recursive: true });
  const userconfig = path.join(dir, 'npmrc');
  fs.writeFileSync(
    userconfig,
    [`registry=${registry}`, `cache=${path.join(dir, 'cache')}`, 'audit=false', 'fund=false', 'update-notifier=false', 'loglevel=warn', 'progress=false', ''].join('\n'),
  );
  const globalconfig = path.join(dir, 'global-npmrc');
  fs.writeFileSync(globalconfig, '');
  fs.writeFileSync(
    path.join(dir, 'app', 'package.json'),
    JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true, description: 'npm ci benchmark project', license: 'UNLICENSED', dependencies }, null, 2) + '\n',
  );
  const env = cleanEnv({ NPM_CONFIG_USERCONFIG: userconfig, NPM_CONFIG_GLOBALCONFIG: globalconfig, NO_UPDATE_NOTIFIER: '1' });
  for (const k of Object.keys(env)) if (/^npm_config_/i.test(k) && !/^NPM_CONFIG_(USERCONFIG|GLOBALCONFIG)$/.test(k)) delete env[k];
  return { dir, appDir: path.join(dir, 'app'), env };
}

async function npm(project, args) {
  const r = await run('npm', args, { cwd: project.appDir, env: project.env });
  return { ...r, seconds: r.ms / 1000, command: `npm ${args.join(' ')}` };
}

const lockfileOnly = (project) => npm(project, ['install', '--package-lock-only', '--no-audit', '--no-fund']);
const ci = (project) => npm(project, ['ci', '--prefer-offline', '--no-audit', '--no-fund']);

/** `npm ci` with an empty npm cache: every tarball is requested from the registry. */
async function coldCi(project) {
  const cache = path.join(project.dir, 'cache');
  fs.rmSync(cache, { recursive: true, force: true });
  fs.mkdirSync(cache, { recursive: true });
  return npm(project, ['ci', '--no-audit', '--no-fund']);
}

/** How many of the expected packages are installed in node_modules. */
function installedCount(project, prefix) {
  try {
    return fs.readdirSync(path.join(project.appDir, 'node_modules')).filter((d) => d.startsWith(prefix)).length;
  } catch {
    return 0;
  }
}

function failure(r) {
  const tail = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-12).join('\n');
  return `${r.command} exited ${r.code}: ${tail}`;
}

module.exports = { setupProject, lockfileOnly, ci, coldCi, installedCount, failure };

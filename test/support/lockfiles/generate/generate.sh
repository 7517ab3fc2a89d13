#!/bin/bash
# Regenerates the lockfile fixtures with the real package managers.
#
#   TOOLS=/tmp/tools bash test/support/lockfiles/generate/generate.sh [OUT]
#
# TOOLS must hold the package managers, installed with npm (see ../README.md):
#   $TOOLS/pnpm7, $TOOLS/pnpm8, $TOOLS/pnpm9, $TOOLS/yarn1, $TOOLS/berry, $TOOLS/bun (each `npm install --prefix DIR <pkg>`).
# ONLY=bun regenerates just the bun fixtures.
# Every tool talks only to the fixture registry started here on 127.0.0.1, with its
# own HOME, npmrc and caches under a scratch directory. Registry URLs in the results
# are rewritten to http://registry.invalid/ before they are copied to OUT.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$HERE/../../../.." && pwd)}
OUT=${1:-$HERE/..}
TOOLS=${TOOLS:-/tmp/tools}
PORT=${PORT:-48731}
REG=http://127.0.0.1:$PORT/
W=$(mktemp -d /tmp/lockgen.XXXXXX)

# The fixture registry builds its tarballs with the project's deterministic tar writer.
(cd "$REPO" && node_modules/.bin/tsc --outDir "$W/build" --module commonjs --target ES2022 --esModuleInterop \
  --skipLibCheck --types node test/support/tarball.ts)
TARBALL_JS=$W/build/tarball.js PORT=$PORT node "$HERE/fixture-registry.js" > "$W/registry.log" 2>&1 &
REGISTRY_PID=$!
trap 'kill $REGISTRY_PID 2>/dev/null || true' EXIT
sleep 1

export HOME=$W/home
export npm_config_userconfig=$W/npmrc
export npm_config_globalconfig=$W/npmrc-global
export npm_config_registry=$REG
export npm_config_cache=$W/cache/npm
export YARN_ENABLE_TELEMETRY=0
mkdir -p "$HOME"
printf 'registry=%s\naudit=false\nfund=false\nupdate-notifier=false\n' "$REG" > "$npm_config_userconfig"
: > "$npm_config_globalconfig"

# project DIR NAME: the main fixture project. workspaces DIR NAME SIBLING_SPEC: the workspaces one.
project() {
  rm -rf "$1"; mkdir -p "$1/local-pkg"
  cat > "$1/package.json" <<JSON
{
  "name": "$2",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "app-lib": "^1.0.0",
    "shared": "^1.0.0",
    "shared-alias": "npm:shared@2.0.0",
    "@fx/plugin": "^1.0.0",
    "local-pkg": "file:./local-pkg",
    "url-dep": "${REG}downloads/url-dep.tgz"
  },
  "optionalDependencies": {
    "opt-native": "^1.0.0"
  },
  "devDependencies": {
    "dev-tool": "^1.0.0"
  }
}
JSON
  printf '{\n  "name": "local-pkg",\n  "version": "1.0.0",\n  "license": "MIT"\n}\n' > "$1/local-pkg/package.json"
}
workspaces() { # DIR NAME SIBLING_SPEC
  rm -rf "$1"; mkdir -p "$1/packages/ws-a" "$1/packages/ws-b"
  printf '{\n  "name": "%s",\n  "version": "1.0.0",\n  "private": true,\n  "workspaces": ["packages/*"],\n  "devDependencies": {\n    "dev-tool": "^1.0.0"\n  }\n}\n' "$2" > "$1/package.json"
  printf '{\n  "name": "ws-a",\n  "version": "1.0.0",\n  "dependencies": {\n    "ws-b": "%s",\n    "shared": "^2.0.0"\n  }\n}\n' "$3" > "$1/packages/ws-a/package.json"
  printf '{\n  "name": "ws-b",\n  "version": "1.0.0",\n  "dependencies": {\n    "@fx/core": "^1.0.0"\n  }\n}\n' > "$1/packages/ws-b/package.json"
}
berryrc() {
  printf 'npmRegistryServer: "%s"\nunsafeHttpWhitelist:\n  - 127.0.0.1\nenableGlobalCache: false\nenableTelemetry: false\nnodeLinker: node-modules\n' "${REG%/}" > "$1/.yarnrc.yml"
  : > "$1/yarn.lock"
}
say() { echo "== $*" >&2; }

PNPM7=$TOOLS/pnpm7/node_modules/.bin/pnpm
PNPM8=$TOOLS/pnpm8/node_modules/.bin/pnpm
PNPM9=$TOOLS/pnpm9/node_modules/.bin/pnpm
YARN1="node $TOOLS/yarn1/node_modules/yarn/bin/yarn.js"
BERRY="node $TOOLS/berry/node_modules/@yarnpkg/cli-dist/bin/yarn.js"
P="--ignore-scripts --config.registry=$REG"
Y1="--ignore-scripts --non-interactive --no-default-rc --registry $REG --cache-folder $W/cache/yarn1"

BUN=$TOOLS/bun/node_modules/.bin/bun
B="--ignore-scripts --registry $REG --cache-dir $W/cache/bun --save-text-lockfile"
d=$W/bun; project "$d" fixture-bun; say "bun $($BUN --version)"
(cd "$d" && $BUN install $B >&2)
d=$W/bun-workspaces; workspaces "$d" fixture-bun-workspaces 'workspace:*'; say "bun workspaces"
(cd "$d" && $BUN install $B >&2)

if [ "${ONLY:-}" != bun ]; then
for v in 1 2 3; do
  d=$W/npm-v$v; project "$d" fixture-npm-v$v; say "npm $(npm --version) lockfile v$v"
  (cd "$d" && npm install --lockfile-version $v --ignore-scripts >&2)
done
d=$W/npm-shrinkwrap-v3; project "$d" fixture-npm-shrinkwrap-v3; say "npm shrinkwrap"
(cd "$d" && npm install --ignore-scripts >&2 && npm shrinkwrap >&2)
d=$W/npm-v3-workspaces; workspaces "$d" fixture-npm-v3-workspaces '*'; say "npm workspaces"
(cd "$d" && npm install --ignore-scripts >&2)

d=$W/pnpm7-v5; project "$d" fixture-pnpm7-v5; say "pnpm $($PNPM7 --version)"
(cd "$d" && $PNPM7 install $P --store-dir "$W/cache/pnpm7" --config.auto-install-peers=true >&2)
d=$W/pnpm8-v6; project "$d" fixture-pnpm8-v6; say "pnpm $($PNPM8 --version)"
(cd "$d" && $PNPM8 install $P --store-dir "$W/cache/pnpm8" >&2)
d=$W/pnpm9-v9; project "$d" fixture-pnpm9-v9; say "pnpm $($PNPM9 --version)"
(cd "$d" && $PNPM9 install $P --store-dir "$W/cache/pnpm9" >&2)
d=$W/pnpm9-v9-workspaces; workspaces "$d" fixture-pnpm9-v9-workspaces 'workspace:*'; say "pnpm workspaces"
printf 'packages:\n  - packages/*\n' > "$d/pnpm-workspace.yaml"
(cd "$d" && $PNPM9 install $P --store-dir "$W/cache/pnpm9" >&2)

d=$W/yarn1-classic; project "$d" fixture-yarn1-classic; say "yarn $($YARN1 --version)"
(cd "$d" && $YARN1 install $Y1 >&2)
d=$W/yarn1-classic-workspaces; workspaces "$d" fixture-yarn1-classic-workspaces '*'; say "yarn workspaces"
(cd "$d" && $YARN1 install $Y1 >&2)

d=$W/yarn4-berry; project "$d" fixture-yarn4-berry; berryrc "$d"; say "yarn $(cd "$d" && $BERRY --version)"
(cd "$d" && YARN_IGNORE_PATH=1 $BERRY install --mode=skip-build >&2)
d=$W/yarn4-berry-workspaces; workspaces "$d" fixture-yarn4-berry-workspaces 'workspace:*'; berryrc "$d"; say "yarn berry workspaces"
(cd "$d" && YARN_IGNORE_PATH=1 $BERRY install --mode=skip-build >&2)
fi

# Copy the lockfiles and the root manifest that produced them, with the registry URL
# neutralised (pnpm writes tarball-URL dependency paths as `@<host>+<port>/...`).
# Nested manifests (local-pkg/, packages/ws-*/) are not copied: jest's haste map reports
# every package.json name that occurs twice under test/, and this script recreates them.
rewrite() { sed -e "s#http://127.0.0.1:$PORT/#http://registry.invalid/#g" -e "s#http://127.0.0.1:$PORT#http://registry.invalid#g" \
  -e "s#@127.0.0.1+$PORT/#@registry.invalid/#g" -e "/^unsafeHttpWhitelist:/,+1d" "$1"; }
for d in "$W"/*/; do
  name=$(basename "$d"); case $name in build|cache|home) continue;; esac
  rm -rf "${OUT:?}/$name"; mkdir -p "$OUT/$name"
  for f in package.json package-lock.json npm-shrinkwrap.json pnpm-lock.yaml pnpm-workspace.yaml yarn.lock .yarnrc.yml bun.lock; do
    if [ -f "$d/$f" ]; then rewrite "$d/$f" > "$OUT/$name/$f"; fi
  done
done
if grep -rl -e "127\.0\.0\.1" -e ":$PORT" "$OUT" --include='*.json' --include='*.yaml' --include='*.lock' --include='*.yml'; then
  echo "registry address left in the files above" >&2; exit 1
fi
rm -rf "$W"
echo "fixtures written to $OUT" >&2

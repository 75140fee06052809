# syntax=docker/dockerfile:1
# credproxy sidecar image: `credproxy serve` as uid 10001, proxy on :8080, admin/metrics on :8081.
#   docker build -t credproxy .
#   docker run --rm -p 127.0.0.1:8081:8081 -v credproxy-data:/data -v credproxy-certs:/certs credproxy
# docs/operations.md explains the volumes, the secrets to pass and how sandboxes trust the CA.

ARG NODE_IMAGE=node:22-bookworm-slim

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
COPY scripts/build-kit.mjs ./scripts/
COPY src ./src
# The SO_ORIGINAL_DST addon for transparent mode (native/original-dst.c), then the TypeScript and
# the sandbox kit's agents (Node preload bundles, Java agent) into dist/kit.
RUN npm run install \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies, compiled code, default config; nothing else ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    CREDPROXY_PROXY_LISTEN=0.0.0.0:8080 \
    CREDPROXY_ADMIN_LISTEN=0.0.0.0:8081 \
    CREDPROXY_DATA_DIR=/data \
    CREDPROXY_CA_CERT=/certs/ca.crt \
    CREDPROXY_CA_KEY=/certs/ca.key
# iptables for `credproxy iptables --apply` (the transparent-mode init step); credproxy itself never runs it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 credproxy \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin credproxy \
 && mkdir -p /data /certs \
 && chown 10001:10001 /data /certs \
 && chmod 0700 /data
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
# Slim images have no curl; node is there anyway. Healthy only when /healthz answers 200 within 2 s,
# on the port CREDPROXY_ADMIN_LISTEN names (so overriding the listener keeps the check right).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const port = (process.env.CREDPROXY_ADMIN_LISTEN || '').split(':').pop() || '8081'; fetch('http://127.0.0.1:' + port + '/healthz', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains requests in flight and flushes the audit log before exiting 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/credproxy"]
CMD ["serve"]

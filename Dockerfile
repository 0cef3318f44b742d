# syntax=docker/dockerfile:1
#
# kafka-audit-proxy container image.
#
#   docker build -t kafka-audit-proxy .
#   docker run --rm -v $PWD/deploy/config.example.yaml:/etc/kafka-audit-proxy/config.yaml:ro \
#     -e KAP_AUDIT_SASL__PASSWORD=... -v kap-spool:/var/lib/kafka-audit-proxy \
#     -p 9192:9192 -p 9200-9202:9200-9202 -p 9099:9099 kafka-audit-proxy
#
# NOT BUILT HERE: the environment this file was written in has no Docker engine, so the image itself was never
# built. Every RUN step was executed locally instead, in the same order and in a clean copy of the repository
# (npm ci; npx tsc -p tsconfig.build.json; npm ci --omit=dev in a directory holding only package*.json; then
# `node dist/src/cli.js version` and `--help` from that directory with only dist/, package.json and the
# production node_modules present). Treat the first real `docker build` as the test of the COPY/USER lines.

# ---- build: compile TypeScript (src/ and protocol/ only: tsconfig.build.json) -----------------------------------
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY protocol ./protocol
RUN npx tsc -p tsconfig.build.json

# ---- production dependencies only --------------------------------------------------------------------------------
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime -----------------------------------------------------------------------------------------------------
FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json is read by `version`; dist/ holds the compiled src/ and protocol/.
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --chown=root:root package.json ./
# Non-root (the "node" user of the base image, uid 1000). The code is root-owned and read-only for it; the only
# writable place is the audit spool (chain state + undelivered events), which in Kubernetes is a PersistentVolume.
# The default audit.spool.dir is "./audit-spool", i.e. /app/audit-spool: a symlink to the volume, so the default
# works with a read-only root file system, and a config file can still choose another directory. (No
# KAP_AUDIT_SPOOL__DIR here on purpose: environment overrides beat the config file.)
RUN mkdir -p /var/lib/kafka-audit-proxy /etc/kafka-audit-proxy \
 && chown node:node /var/lib/kafka-audit-proxy \
 && ln -s /var/lib/kafka-audit-proxy /app/audit-spool
USER node:node
VOLUME ["/var/lib/kafka-audit-proxy"]
# 9192 bootstrap; 9200+N for the broker with node id N (listen.brokerPortBase + node id: 9200-9202 for a
# 3-broker cluster with node ids 0-2; publish one port per broker node id); 9099 admin (/metrics /healthz
# /readyz; set admin.host 0.0.0.0 to reach it from outside the container).
EXPOSE 9192 9200-9202 9099
# slim has no curl/wget: probe with node itself. Liveness only (/healthz); readiness is the orchestrator's job.
# Uses the admin port from KAP_ADMIN_PORT when set (default 9099).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.KAP_ADMIN_PORT||9099,path:'/healthz',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start", "--config", "/etc/kafka-audit-proxy/config.yaml"]

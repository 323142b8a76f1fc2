# syntax=docker/dockerfile:1
# Crucible worker: BullMQ worker; /health/* and /metrics on WORKER_HEALTH_PORT (3002).
# Build from the repository root:  docker build -f infra/docker/worker.Dockerfile -t crucible-worker .

# Pinned: the Node.js release CI and the developers run (package.json "engines").
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV CI=true
RUN npm install --global --no-fund --no-audit pnpm@10.34.9 turbo@2.11.11
WORKDIR /repo

# Only this app and the workspace packages it depends on, with a lockfile cut down to them.
FROM base AS prune
COPY . .
RUN turbo prune @crucible/worker --docker

# Dependencies first (a layer that changes only with package.json or the lockfile), then the source.
FROM base AS build
COPY --from=prune /repo/out/json/ ./
RUN --mount=type=cache,id=pnpm-store,target=/pnpm-store \
    pnpm install --frozen-lockfile --store-dir /pnpm-store
COPY --from=prune /repo/out/full/ ./
# Every app's tsconfig extends it (vite reads it for the dashboard); turbo prune copies only packages.
COPY --from=prune /repo/tsconfig.base.json ./
# esbuild bundles the app and the internal packages into dist/; `pnpm deploy --prod` then makes a
# folder holding that bundle and the production dependencies of this app only, in a flat
# (hoisted) node_modules where the bundle finds the packages its internal packages import.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm-store \
    turbo run build --filter=@crucible/worker \
    && pnpm --filter=@crucible/worker deploy --prod --legacy --config.node-linker=hoisted \
       --store-dir /pnpm-store /out

FROM ${NODE_IMAGE} AS runtime
# Browser tests drive Debian's Chromium (nothing downloads a browser) with fonts for Latin, CJK and
# emoji text; tini is PID 1 so the browser's processes, which a test kills as a group, are reaped.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       chromium fonts-liberation fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji tini \
    && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    WORKER_HEALTH_PORT=3002 \
    CHROMIUM_PATH=/usr/bin/chromium
WORKDIR /app
COPY --from=build /out/ ./
# Code stays owned by root (read-only to the app); the process runs as the image's unprivileged
# user (uid 1000).
USER node
EXPOSE 3002
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_HEALTH_PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini forwards SIGTERM to node, which drains (bounded), kills any browser still running and exits
# 0 when clean; tini reaps the browser processes that a kill leaves to PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--enable-source-maps", "dist/main.js"]

# syntax=docker/dockerfile:1
# IARNet on Node 20 (bookworm: glibc for better-sqlite3). Multi-stage: the build stage has the
# compiler toolchain and dev dependencies; the runtime stage has only what `iarnet` needs.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native module during `npm ci`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    IARNET_DATA_DIR=/data \
    IARNET_LISTEN_ADDR=:8080 \
    IARNET_PEER_LISTEN_ADDR=:50051
RUN groupadd --system --gid 10001 iarnet \
 && useradd --system --uid 10001 --gid iarnet --home-dir /data --shell /usr/sbin/nologin iarnet \
 && mkdir -p /data && chown iarnet:iarnet /data && chmod 0700 /data
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/web/dist ./web/dist
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080 50051
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/core/cli.js"]
CMD ["start"]

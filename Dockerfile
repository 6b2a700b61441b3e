# One Beckon node: the server, the built demo page, SQLite in the /data volume.
#   docker build -t beckon .
#   docker run -p 127.0.0.1:4000:4000 -e BECKON_SECRET=... -v beckon-data:/data beckon
# (loopback only: a TLS proxy on the same host faces the network; docs/deployment.md)
# packages/server/test/dockerfile.test.ts replays this file's COPY, RUN, CMD and HEALTHCHECK
# lines outside Docker; keep each RUN a plain command.

FROM node:24-bookworm-slim AS build
# better-sqlite3 compiles from source where no prebuilt binary can be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/engine/package.json packages/engine/
COPY packages/server/package.json packages/server/
COPY packages/sdk/package.json packages/sdk/
COPY apps/demo/package.json apps/demo/
COPY apps/console/package.json apps/console/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund
COPY packages/protocol/tsconfig.json packages/protocol/
COPY packages/protocol/src packages/protocol/src
COPY packages/engine/tsconfig.json packages/engine/
COPY packages/engine/src packages/engine/src
COPY packages/server/tsconfig.json packages/server/
COPY packages/server/src packages/server/src
COPY packages/sdk/tsconfig.json packages/sdk/
COPY packages/sdk/src packages/sdk/src
COPY apps/demo/index.html apps/demo/vite.config.ts apps/demo/tsconfig.json apps/demo/
COPY apps/demo/public apps/demo/public
COPY apps/demo/src apps/demo/src
COPY apps/console/index.html apps/console/vite.config.ts apps/console/tsconfig.json apps/console/
COPY apps/console/public apps/console/public
COPY apps/console/src apps/console/src
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    BECKON_HOST=0.0.0.0 \
    BECKON_PORT=4000 \
    BECKON_DATA=/data \
    BECKON_LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages/protocol/package.json packages/protocol/
COPY --from=build /app/packages/protocol/dist packages/protocol/dist
COPY --from=build /app/packages/engine/package.json packages/engine/
COPY --from=build /app/packages/engine/dist packages/engine/dist
COPY --from=build /app/packages/server/package.json packages/server/
COPY --from=build /app/packages/server/dist packages/server/dist
COPY --from=build /app/packages/sdk/package.json packages/sdk/
COPY --from=build /app/packages/sdk/dist packages/sdk/dist
COPY --from=build /app/apps/demo/dist apps/demo/dist
COPY --from=build /app/apps/console/dist apps/console/dist
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.BECKON_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/server/dist/cli.js", "start"]

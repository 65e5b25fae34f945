# HomeIQ's image, built from this repository's own source: for compose (`target: app`) and for the Home
# Assistant add-on (the last stage, `addon`, which the Supervisor builds: this folder is the add-on's
# folder, see config.yaml). Dependencies come only from package-lock.json (`--frozen-lockfile` fails on any
# drift and checks every tarball's integrity); nothing is installed by a bare registry name.
#
# The base image is pinned here, not taken from the Supervisor's BUILD_FROM: older Supervisors pass their
# Alpine base image as BUILD_FROM when an add-on has no build.yaml, and HomeIQ needs Bun's image. The tag is
# the Bun version package-lock.json installs, the one the tests run on (test/addon.test.ts checks both).
# Bun publishes it for amd64 and arm64 only, hence the add-on's two architectures.
#
# test/addon.test.ts runs the RUN lines of the `build` and `deps` stages as written, on the context this
# .dockerignore lets through, then starts the assembled `app` and `addon` stages.

FROM oven/bun:1.4.5-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --ignore-scripts
COPY . .
# `--bun` runs Vite on Bun, as in the test, whether or not a `node` is on the PATH.
RUN bun --bun run build:web

# Production dependencies alone: no Vite, Biome, TypeScript compiler front-ends or benchmark tools.
FROM oven/bun:1.4.5-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --ignore-scripts --production

FROM oven/bun:1.4.5-slim AS app
WORKDIR /app
# tsconfig.json sets the class-field semantics (useDefineForClassFields) Bun compiles the source with.
COPY package.json tsconfig.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/web/dist ./web/dist
COPY runtime ./runtime
COPY actors ./actors
COPY sim ./sim
# The code stays root-owned and read-only to HomeIQ; only /data is HomeIQ's. A new named volume takes
# this directory's owner.
RUN mkdir -p /data && chown bun:bun /data
ENV HOMEIQ_DATA_DIR=/data HOMEIQ_PORT=8787 HOMEIQ_HOST=0.0.0.0
USER bun
VOLUME /data
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD bun -e "fetch('http://127.0.0.1:8787/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["bun", "run", "runtime/app/main.ts"]

# The add-on starts as root because the Supervisor creates /data root-owned: run.sh hands /data to the
# `bun` user and runs HomeIQ as that user (setpriv), so no HomeIQ code runs as root.
FROM app AS addon
USER root
COPY addon/run.sh /run.sh
CMD ["/run.sh"]

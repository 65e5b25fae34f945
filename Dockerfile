# HomeIQ as one container (used by compose.yaml). Bun's official image; dependencies from the lockfile.
FROM oven/bun:1.4 AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --ignore-scripts || bun install --ignore-scripts
COPY . .
RUN bun run build:web

FROM oven/bun:1.4-slim
WORKDIR /app
COPY --from=build /app /app
ENV HOMEIQ_DATA_DIR=/data HOMEIQ_PORT=8787 HOMEIQ_HOST=0.0.0.0
VOLUME /data
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD bun -e "fetch('http://127.0.0.1:8787/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["bun", "run", "runtime/main.ts"]

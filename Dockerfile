# syntax=docker/dockerfile:1
# Multi-stage: production dependencies only, TypeScript run by Node 24's type stripping (no build step).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
# A fixed non-root uid that the manifests' runAsUser matches; the root filesystem can be read-only.
USER 10001:10001
EXPOSE 9443
# A small young generation keeps RSS near the live heap (see docs/benchmarks.md, "Memory").
ENTRYPOINT ["node", "--max-semi-space-size=8", "src/main.ts"]

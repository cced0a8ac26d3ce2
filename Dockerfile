# Holter as a container image, for docker-compose.yml. Build: docker build -t holter .
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native module when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY rules ./rules
COPY detectors ./detectors
COPY mappings ./mappings
COPY config/docker.yml /etc/holter/holter.yml
USER node
ENTRYPOINT ["node", "/app/bin/holter.js"]
CMD ["run", "--config", "/etc/holter/holter.yml"]

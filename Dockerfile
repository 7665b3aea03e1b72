# A small image of the bot: dependencies are installed (and sqlite3 built, if it has to be) and
# the bot compiled to JavaScript (npm's `prepare`) in a build stage with the compilers; the
# development packages are then pruned. The final stage has only Node, the production
# dependencies and the compiled bot, and runs as the unprivileged `node` user.
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ > /dev/null && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY components ./components
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# SQLite's file lives here when STORE_URL is left at its default (mount a volume on it).
RUN mkdir -p data && chown node:node data
USER node
# Node itself is PID 1 (not npm), so SIGTERM reaches the bot and it shuts down gracefully. The
# same command as `npm start`: the smoke test in test/e2e/deploy-smoke.test.ts runs it.
CMD ["node", "dist/src/index.js"]

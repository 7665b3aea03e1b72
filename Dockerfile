# A small image of the bot: dependencies are installed (and sqlite3 built, if it has to be) in a
# build stage with the compilers; the final stage has only Node, the production dependencies and
# the source, and runs as the unprivileged `node` user.
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ > /dev/null && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY commands ./commands
COPY components ./components
# SQLite's file lives here when STORE_URL is left at its default (mount a volume on it).
RUN mkdir -p data && chown node:node data
USER node
# Node itself is PID 1 (not npm), so SIGTERM reaches the bot and it shuts down gracefully.
CMD ["node", "--import", "tsx", "src/index.ts"]

# Build stage: every dependency, the generated code (npm ci runs `npm run generate`), then tsc to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Everything `npm ci` needs for its generate step (Prisma client, resolver types).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json prisma.config.ts codegen.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY src/schema/schema.graphql ./src/schema/schema.graphql
RUN npm ci --no-audit --no-fund
# .dockerignore keeps the host's src/generated out, so this leaves the generated code in place.
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only, the build's output, and tini as PID 1.
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: postinstall would run `npm run generate`, which needs the dev tools; the
# generated code comes from the build stage instead.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The compose file's migrate service runs `npm run db:migrate && npm run db:seed`: prisma/*.ts through
# tsx (a runtime dependency) over the sources, generated client included, and prisma.config.ts.
COPY --from=build /app/src ./src
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/tsconfig.json /app/prisma.config.ts ./
# The embedded database (no DATABASE_URL) writes .data/; nothing else is writable by the server.
RUN mkdir .data && chown node:node .data
USER node
ENV HOST=0.0.0.0 PORT=4000
EXPOSE 4000
# tini forwards SIGTERM to node (which drains gracefully) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]

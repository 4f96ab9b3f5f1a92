FROM node:20-bookworm-slim
WORKDIR /app
# Everything `npm ci` needs for its generate step (Prisma client, resolver types).
COPY package.json package-lock.json tsconfig.json prisma.config.ts codegen.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY src ./src
RUN npm ci --no-audit --no-fund
ENV HOST=0.0.0.0 PORT=4000
EXPOSE 4000
# node directly (not npm) so SIGTERM reaches the server and it drains gracefully.
CMD ["node", "--import", "tsx", "src/main.ts"]

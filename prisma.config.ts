import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
    seed: 'tsx prisma/seed.ts',
  },
  // `?? ''` keeps `prisma generate` working without a database; `env()` would throw.
  datasource: { url: process.env.DATABASE_URL ?? '' },
});

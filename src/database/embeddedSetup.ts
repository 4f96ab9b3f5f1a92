import path from 'node:path';
import { BearerTokens, tokenSecret } from '../auth/bearerTokens.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from './database.ts';
import { applyMigrations } from './migrator.ts';
import { seedCatalog, signSeededUser } from './seedCatalog.ts';

/** The embedded database migrates itself, and seeds itself when empty, so `npm start` just works. */
export async function prepareEmbedded(database: Database, config: Config, logger: Logger): Promise<void> {
  const session = await database.openSession();
  try {
    await applyMigrations(session, path.resolve(import.meta.dirname, '../../prisma/migrations'), (migration) => logger.info({ migration }, 'migration applied'));
  } finally {
    await session.close();
  }
  if ((await database.prisma.product.count()) === 0) {
    logger.info({ products: config.seedProducts, dataDir: config.pgliteDataDir }, 'seeding the embedded database');
    await seedCatalog(database.prisma, { products: config.seedProducts });
    // Known tokens for a demo: deterministic under one secret (README, "Viewers").
    const tokens = new BearerTokens({ secret: tokenSecret(config).secret });
    logger.info({ user1: await signSeededUser(tokens, 1), user2: await signSeededUser(tokens, 2) }, 'seeded; Bearer tokens of users 1 (admin) and 2 (npm run token -- <id> for others)');
  }
}

// `prisma db seed` runs this (see prisma.config.ts). SEED_PRODUCTS sets the catalog size.
import { BearerTokens, tokenSecret } from '../src/auth/bearerTokens.ts';
import { loadConfig } from '../src/config/config.ts';
import { openDatabase } from '../src/database/database.ts';
import { roleOfSeededUser, seedCatalog, signSeededUser } from '../src/database/seedCatalog.ts';

const config = loadConfig();
const db = await openDatabase(config);
const started = Date.now();
let lastReport = 0;
try {
  await seedCatalog(db.prisma, {
    products: config.seedProducts,
    onProgress(done, total) {
      if (done === total || Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        console.log(`seed: ${done}/${total} products (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    },
  });
} finally {
  await db.close();
}
// A known token per user, for tests and demos: deterministic under one secret (see README, "Viewers").
const { secret, development } = tokenSecret(config);
const tokens = new BearerTokens({ secret });
console.log(`seed: Bearer tokens${development ? ' (development secret)' : ''}; any user's with \`npm run token -- <id>\`:`);
for (const id of [1, 2, 3]) console.log(`  user ${id} (user${id}@example.com${roleOfSeededUser(id) === 'ADMIN' ? ', admin' : ''}): ${await signSeededUser(tokens, id)}`);

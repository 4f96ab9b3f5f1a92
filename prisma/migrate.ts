// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL, or to the embedded database.
import path from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { openDatabase } from '../src/database/database.ts';
import { applyMigrations } from '../src/database/migrator.ts';

const config = loadConfig();
const db = await openDatabase(config);
const session = await db.openSession();
try {
  const { applied } = await applyMigrations(session, path.resolve(import.meta.dirname, 'migrations'), (name) => console.log(`applied ${name}`));
  console.log(applied.length === 0 ? 'database is up to date' : `${applied.length} migration(s) applied`);
} finally {
  await session.close();
  await db.close();
}

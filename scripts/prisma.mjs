#!/usr/bin/env node
// Runs the Prisma CLI so that `generate` and `db seed` also work offline. Every Prisma command first
// makes sure the native schema engine is present and downloads it if not, but these two never run
// it, so for them PRISMA_SCHEMA_ENGINE_BINARY may point at any executable and the download is
// skipped. Other commands pass through untouched (they need the real engine). Migrations do not use
// the CLI at all: `npm run db:migrate` applies them (src/database/migrator.ts).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const engineUnused = args[0] === 'generate' || (args[0] === 'db' && args[1] === 'seed');
const env = { ...process.env };
if (engineUnused) env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;

const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
